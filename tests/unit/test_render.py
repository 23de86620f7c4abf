import re

from explorer.drawing.render import batch_grid_html, probability_bars_html, token_chips_html, visible
from explorer.pipeline.encoding import encode_batch


def test_visible_escapes_html_and_shows_invisible_characters():
    assert visible("<script>alert('x')</script>") == "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"
    assert visible("a\u200bb") == "a⟨U+200B⟩b"
    assert visible("tab\there") == "tab⟨U+0009⟩here"
    assert visible("مرحبا 中文 😀") == "مرحبا 中文 😀"


def test_script_text_never_becomes_markup(tiny_gpt):
    encoding = encode_batch(tiny_gpt.batch_tokenizer, ['<script>alert(1)</script> <img src=x onerror="y">'])
    for html in (token_chips_html(encoding, 0), batch_grid_html(encoding)):
        assert "<script" not in html and "<img" not in html
        assert "&lt;" in html


def test_chips_mark_specials_and_skip_padding_unless_asked(tiny_bert):
    encoding = encode_batch(tiny_bert.batch_tokenizer, ["a much longer first sentence here", "short"])
    chips = token_chips_html(encoding, 1)
    real = int(encoding.attention_mask[1].sum())
    assert len(re.findall(r'class="tx-chip[ "]', chips)) == real
    assert chips.count("tx-chip tx-special") == 2  # [CLS] and [SEP]
    with_padding = token_chips_html(encoding, 1, padding=True)
    assert with_padding.count("tx-chip tx-pad") == encoding.shape[1] - real


def test_unknown_tokens_are_flagged(tiny_bert):
    encoding = encode_batch(tiny_bert.batch_tokenizer, ["😀"])
    assert "tx-unk" in token_chips_html(encoding, 0, unk_id=tiny_bert.tokenizer.unk_token_id)


def test_batch_grid_has_one_cell_per_position_and_greys_padding(tiny_bert):
    encoding = encode_batch(tiny_bert.batch_tokenizer, ["a much longer first sentence here", "short"])
    grid = batch_grid_html(encoding)
    B, S = encoding.shape
    rows_per_sentence = 4  # tokens, input_ids, attention_mask, token_type_ids
    assert len(re.findall(r"<td", grid)) == B * S * rows_per_sentence
    pad = int((encoding.attention_mask == 0).sum())
    assert grid.count('class="tx-pad"') == pad * rows_per_sentence
    for value in encoding.input_ids[1]:
        assert (
            f"<td>{int(value)}</td>" in grid
            or f'class="tx-pad">{int(value)}</td>' in grid
            or f'class="tx-special">{int(value)}</td>' in grid
        )


def test_probability_bars_keep_order_escape_labels_and_scale_widths():
    html = probability_bars_html(["<b>POS</b>", "NEG"], [0.75, 0.25])
    assert "<b>" not in html and "&lt;b&gt;POS&lt;/b&gt;" in html
    assert html.index("POS") < html.index("NEG")
    widths = [float(w) for w in re.findall(r"class=\"tx-bar\" style=\"width:([0-9.]+)px", html)]
    assert widths == [120.0, 40.0]
    assert "0.750" in html and "0.250" in html


def test_the_batch_grid_comes_in_blocks_that_each_keep_the_position_axis(tiny_bert):
    # One wide table was cut at the column's edge with no visible scrollbar (issue 21): the
    # positions now come in blocks that wrap, each with its position header and row names.
    from explorer.drawing.render import GRID_BLOCK

    first = "a much longer first sentence here with many more words in it than the block holds"
    encoding = encode_batch(tiny_bert.batch_tokenizer, [first, "short"])
    B, S = encoding.shape
    assert S > 2 * GRID_BLOCK
    grid = batch_grid_html(encoding)
    tables = re.findall(r"<table.*?</table>", grid, flags=re.DOTALL)
    assert len(tables) == -(-S // GRID_BLOCK)
    headers = [[int(h) for h in re.findall(r"<th>(\d+)</th>", t)] for t in tables]
    assert [p for block in headers for p in block] == list(range(S))  # every position, once, in order
    assert all(len(block) <= GRID_BLOCK for block in headers)
    for table in tables:  # each block names its rows, for every sentence
        assert table.count("<th>token_type_ids</th>") == B and "<th>position</th>" in table
    assert grid.count('data-testid="batch-grid"') == 1
    assert f"Positions {GRID_BLOCK} at a time" in grid
    short = batch_grid_html(encode_batch(tiny_bert.batch_tokenizer, ["short"]))
    assert short.count("<table") == 1 and "at a time" not in short

"""AppTest for the Tokenizer lab's controls: what the page shows equals tokenizer(...)."""

import re

import pytest
from app_helpers import html_of, messages_of, start

from explorer import ui
from explorer.pipeline import checkpoints

PAGE = "pages/tokenizer.py"


def open_page(text: str | None = None, ref: str | None = None):
    at = start(text=text, ref=ref)
    at.switch_page(PAGE).run()
    assert not at.exception
    return at


def grid_columns(at) -> int:
    """The positions the batch grid shows: each block of positions has its own header row."""
    grid = html_of(at).split('data-testid="batch-grid"')[1].split('class="tx-legend"')[0]
    headers = re.findall(r"<tr><th>position</th>(.*?)</tr>", grid)
    return sum(len(re.findall(r"<th>\d+</th>", header)) for header in headers)


def test_page_title_and_default_batch():
    at = open_page()
    assert "Tokenizer" in at.title[0].value
    html = html_of(at)
    assert html.count('data-testid="token-chips"') == 2
    assert grid_columns(at) == 16  # the default batch, padded to the longest sentence
    assert any("WordPiece" in m.value for m in at.markdown)


def test_max_length_padding_and_truncation_controls():
    at = open_page()
    at.selectbox(key="tok.padding").select("max_length")
    at.number_input(key=f"tok.max_length.{checkpoints.default_ref()}").set_value(10)
    at.run()
    assert not at.exception
    assert grid_columns(at) == 10
    # sentence 0 has 16 tokens: truncation at 10 cuts 6
    assert "Truncation cut 6 token(s) from sentence 0" in messages_of(at)
    at.toggle(key="tok.truncation").set_value(False).run()
    assert not at.exception and "Truncation cut" not in messages_of(at)


def test_no_padding_says_rows_cannot_be_stacked():
    at = open_page()
    at.selectbox(key="tok.padding").select("do_not_pad").run()
    assert not at.exception
    assert any("No padding" in m.value and "16, 8" in m.value for m in at.markdown)


def test_pairs_show_segment_ids():
    at = open_page()
    at.text_area(key="tok.pairs").input("It is a good course.\nIt really is.").run()
    assert not at.exception
    grid = html_of(at).split('data-testid="batch-grid"')[1]
    type_rows = re.findall(r"<th>token_type_ids</th>(.*?)</tr>", grid)  # per block: sentence 0, sentence 1
    assert len(type_rows) % 2 == 0
    per_sentence = ["".join(type_rows[b::2]) for b in range(2)]
    assert all(">1</td>" in cells and ">0</td>" in cells for cells in per_sentence)


def test_mismatched_pairs_get_a_clear_message():
    at = open_page()
    at.text_area(key="tok.pairs").input("only one pair").run()
    assert not at.exception
    assert "one second sentence per sentence" in messages_of(at)


def test_decoder_without_token_type_ids_says_so():
    at = open_page(text="The capital of France is", ref=checkpoints.SMOLLM2)
    at.text_area(key="tok.pairs").input("Paris").run()
    assert not at.exception
    assert "no token_type_ids" in messages_of(at)
    assert any("byte-level BPE" in m.value for m in at.markdown)


def test_families_cover_every_kind():
    at = open_page()
    html = html_of(at)
    assert html.count('data-testid="family-chips"') >= 7
    for family in (
        "word-based",
        "character-based",
        "WordPiece (trained here)",
        "byte-level BPE (trained here)",
        "SentencePiece / Unigram (trained here)",
        "WordPiece (bundled MiniLM)",
        "byte-level BPE (bundled SmolLM2)",
    ):
        assert any(family in m.value for m in at.markdown), family


@pytest.mark.parametrize("text", ["<script>alert(1)</script>", "zero\u200bwidth", "مرحبا 😀 中文"])
def test_unusual_text_is_literal(text):
    at = open_page(text=text)
    assert not at.exception and not at.error
    assert "<script>" not in html_of(at)


def test_empty_lines_are_skipped_with_a_note():
    at = open_page(text="first\n\n\nsecond")
    assert "Skipped 2 empty line(s)." in messages_of(at)
    assert html_of(at).count('data-testid="token-chips"') == 2
    assert at.session_state[ui.TEXT_KEY] == "first\n\n\nsecond"

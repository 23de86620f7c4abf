import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer.errors import InputError
from explorer.pipeline.encoding import MAX_SENTENCES, encode_batch, last_real, split_sentences

BATCH = ["I've been waiting for a HuggingFace course my whole life.", "I hate this so much!"]


def test_each_non_blank_line_is_a_sentence():
    result = split_sentences("first\n\n   \nsecond\r\n")
    assert result.sentences == ("first", "second")
    assert result.blank_lines == 3
    assert result.left_out == 0
    assert "Skipped 3 empty line(s)." in result.notes()


@pytest.mark.parametrize("text", ["", "   ", "\n\n", " \t \n  "])
def test_empty_text_asks_for_a_sentence(text):
    with pytest.raises(InputError, match="empty"):
        split_sentences(text)


def test_lines_beyond_the_batch_limit_are_left_out_with_a_note():
    text = "\n".join(f"sentence {i}" for i in range(MAX_SENTENCES + 3))
    result = split_sentences(text)
    assert len(result.sentences) == MAX_SENTENCES
    assert result.left_out == 3
    assert any("3 more line(s) were left out" in note for note in result.notes())


@pytest.mark.parametrize("fixture", ["tiny_bert", "tiny_gpt"])
@pytest.mark.parametrize("side", ["right", "left"])
def test_encoding_equals_a_direct_tokenizer_call(request, fixture, side):
    loaded = request.getfixturevalue(fixture)
    tokenizer = loaded.batch_tokenizer
    encoding = encode_batch(tokenizer, BATCH, max_length=loaded.max_tokens, padding_side=side)
    direct = tokenizer(
        BATCH, padding="longest", truncation=True, max_length=loaded.max_tokens, padding_side=side
    )
    np.testing.assert_array_equal(encoding.input_ids, np.array(direct["input_ids"]))
    np.testing.assert_array_equal(encoding.attention_mask, np.array(direct["attention_mask"]))
    if "token_type_ids" in direct:
        np.testing.assert_array_equal(encoding.token_type_ids, np.array(direct["token_type_ids"]))
    else:
        assert encoding.token_type_ids is None
    for row, ids in zip(encoding.tokens, direct["input_ids"], strict=True):
        assert list(row) == tokenizer.convert_ids_to_tokens(ids)
    assert encoding.padding_side == side
    pad_cells = encoding.attention_mask == 0
    assert pad_cells.any()  # the two sentences differ in length
    assert (encoding.input_ids[pad_cells] == tokenizer.pad_token_id).all()


@pytest.mark.parametrize("side", ["right", "left"])
def test_last_real_token_and_left_padding_are_read_from_the_mask(tiny_gpt, side):
    encoding = encode_batch(tiny_gpt.batch_tokenizer, BATCH, padding_side=side)
    expected = [int(np.flatnonzero(row)[-1]) for row in encoding.attention_mask]
    assert encoding.last_real.tolist() == expected
    assert encoding.left_padded == (side == "left")
    if side == "left":
        assert set(encoding.last_real.tolist()) == {encoding.shape[1] - 1}
    else:
        assert encoding.last_real.tolist() != [encoding.shape[1] - 1] * 2


def test_last_real_of_a_row_without_real_tokens_is_minus_one():
    mask = np.array([[1, 1, 0], [0, 1, 0], [0, 0, 0]])
    assert last_real(mask).tolist() == [1, 1, -1]


def test_arrays_are_read_only(tiny_bert):
    encoding = encode_batch(tiny_bert.batch_tokenizer, BATCH)
    with pytest.raises(ValueError):
        encoding.input_ids[0, 0] = 1


def test_pairs_get_segment_ids(tiny_bert):
    tokenizer = tiny_bert.batch_tokenizer
    encoding = encode_batch(tokenizer, ["How are you?"], ["I am fine."])
    direct = tokenizer(["How are you?"], ["I am fine."], padding="longest", truncation=True)
    np.testing.assert_array_equal(encoding.token_type_ids, np.array(direct["token_type_ids"]))
    assert set(encoding.token_type_ids[0].tolist()) == {0, 1}
    with pytest.raises(InputError, match="one second sentence per sentence"):
        encode_batch(tokenizer, ["a", "b"], ["c"])


def test_truncation_counts_the_tokens_cut(tiny_bert):
    tokenizer = tiny_bert.batch_tokenizer
    long = " ".join(["attention"] * 100)
    full_length = len(tokenizer(long)["input_ids"])
    encoding = encode_batch(tokenizer, [long, "short"], max_length=16)
    assert encoding.shape == (2, 16)
    assert encoding.truncated == (full_length - 16, 0)


def test_offsets_point_into_the_original_text(tiny_bert):
    text = "Attention lets tokens look"
    encoding = encode_batch(tiny_bert.batch_tokenizer, [text])
    for s, token in enumerate(encoding.tokens[0]):
        if encoding.special_tokens_mask[0, s]:
            continue
        start, end = encoding.offsets[0, s]
        assert text[start:end].lower() == token.removeprefix("##")


def test_tokenizer_without_pad_token_cannot_batch_by_accident(tiny_gpt):
    with pytest.raises(InputError, match="no pad token"):
        encode_batch(tiny_gpt.tokenizer, BATCH)


@pytest.mark.parametrize(
    "text",
    [
        "😀🎉 emoji",
        "中文字符和日本語",
        "مرحبا بالعالم",
        "zero\u200bwidth\u200djoin",
        "control\x00\x07chars",
        "<script>alert('x')</script>",
        "a" * 20_000,
    ],
)
def test_unusual_text_encodes_without_error(tiny_bert, tiny_gpt, text):
    for loaded in (tiny_bert, tiny_gpt):
        encoding = encode_batch(loaded.batch_tokenizer, [text], max_length=loaded.max_tokens)
        assert 1 <= encoding.shape[1] <= loaded.max_tokens


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40))
def test_byte_level_bpe_round_trips_any_text(tiny_gpt, text):
    encoding = encode_batch(tiny_gpt.batch_tokenizer, [text], max_length=10_000, truncation=False)
    assert tiny_gpt.tokenizer.decode(encoding.input_ids[0]) == text


@pytest.mark.parametrize("side", ["right", "left"])
def test_padding_to_a_max_length_a_sentence_passes_without_truncation(tiny_bert, side):
    """padding="max_length" with truncation off: the longer sentence keeps all its tokens, the
    shorter is padded to max_length; rows differ in length, and offsets follow each row."""
    tokenizer = tiny_bert.batch_tokenizer
    direct = tokenizer(
        BATCH, padding="max_length", max_length=6, truncation=False, return_offsets_mapping=True
    )
    lengths = [len(row) for row in direct["input_ids"]]
    assert lengths[0] > 6 and lengths[1] == max(6, lengths[1]) and len(set(lengths)) == 2
    e = encode_batch(
        tokenizer, BATCH, padding="max_length", max_length=6, truncation=False, padding_side=side
    )
    assert e.offsets.shape == (*e.input_ids.shape, 2)
    for b, (ids, offsets) in enumerate(zip(direct["input_ids"], direct["offset_mapping"], strict=True)):
        real = slice(None, len(ids)) if side == "right" else slice(e.shape[1] - len(ids), None)
        assert e.input_ids[b, real].tolist() == ids
        assert [tuple(o) for o in e.offsets[b, real].tolist()] == [tuple(o) for o in offsets]


def test_cut_keeps_every_field_of_the_rows_and_columns_it_keeps(tiny_bert):
    encoding = encode_batch(tiny_bert.batch_tokenizer, BATCH, ["a pair", "another pair"])
    one = encoding.cut(rows=slice(1, 2), columns=slice(0, 4))
    assert one.shape == (1, 4)
    assert one.sentences == (BATCH[1],) and one.pairs == ("another pair",)
    assert one.tokens == (encoding.tokens[1][:4],)
    for name in ("input_ids", "attention_mask", "token_type_ids", "special_tokens_mask", "offsets"):
        np.testing.assert_array_equal(getattr(one, name), getattr(encoding, name)[1:2, :4])
        assert not getattr(one, name).flags.writeable
    assert one.truncated == encoding.truncated[1:2]

"""encode_batch calls the tokenizer once, and counts the tokens truncation cut without a second,
untruncated call unless a row kept the whole limit. Checked here against the two-call way (the
truncated call, then the same text untruncated) for every family of the matrix and the bundled
tokenizers: single sentences and pairs, the first or the second segment longer (truncation
"longest_first" cuts the longer one), limits that cut, that fit exactly, and none, both padding
sides, padded and unpadded."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.errors import ExplorerError
from explorer.pipeline import checkpoints
from explorer.pipeline.encoding import encode_batch
from explorer.pipeline.loading import _batch_tokenizer, load_tokenizer

SHORT = "The cat sat."
MEDIUM = "A tokenizer turns text into numbers that a model can read."
LONG = " ".join(
    ["Attention lets every token read every other token, and the mask says which ones are padding."] * 4
)
BATCHES = {
    "sentences": ([SHORT, LONG, MEDIUM], None),
    "pairs, first longer": ([LONG, MEDIUM], [SHORT, SHORT]),
    "pairs, second longer": ([SHORT, MEDIUM], [LONG, LONG]),
    "pairs, both long": ([LONG, MEDIUM + " " + MEDIUM], [LONG, LONG]),
    "pairs, all short": ([SHORT, MEDIUM], [MEDIUM, SHORT]),
}


def _two_calls(tokenizer, sentences, pairs, max_length, padding, side):
    """The reference: the truncated call, and the untruncated one to count what was cut."""
    call = dict(
        padding=padding,
        truncation="longest_first",
        max_length=max_length,
        padding_side=side,
        return_special_tokens_mask=True,
        return_attention_mask=True,
        return_offsets_mapping=bool(getattr(tokenizer, "is_fast", False)),
    )
    encoded = tokenizer(sentences, pairs, **call)
    full = tokenizer(sentences, pairs, truncation=False)
    cut = [
        max(0, len(ids) - sum(mask))
        for ids, mask in zip(full["input_ids"], encoded["attention_mask"], strict=True)
    ]
    return encoded, cut


def _rows(matrix, lengths, side):
    """Each row's own cells of a [B, S] matrix (unpadded batches are filled on ``side``)."""
    width = matrix.shape[1]
    return [
        list(row[width - n :] if side == "left" else row[:n]) for row, n in zip(matrix, lengths, strict=True)
    ]


def _check(tokenizer, name, max_length, padding, side):
    sentences, pairs = BATCHES[name]
    if pairs is not None and tokenizer.sep_token is None and tokenizer.eos_token is None:
        pytest.skip("no separator")
    encoding = encode_batch(
        tokenizer, sentences, pairs, padding=padding, max_length=max_length, padding_side=side
    )
    encoded, cut = _two_calls(tokenizer, sentences, pairs, max_length, padding, side)
    assert encoding.truncated == tuple(cut), (name, max_length)
    lengths = [len(ids) for ids in encoded["input_ids"]]
    for key, matrix in (
        ("input_ids", encoding.input_ids),
        ("attention_mask", encoding.attention_mask),
        ("special_tokens_mask", encoding.special_tokens_mask),
        ("token_type_ids", encoding.token_type_ids),
    ):
        if key not in encoded:
            assert matrix is None, key
            continue
        assert _rows(matrix, lengths, side) == [list(row) for row in encoded[key]], key
    for row, ids, n in zip(encoding.tokens, encoded["input_ids"], lengths, strict=True):
        own = row[len(row) - n :] if side == "left" else row[:n]
        assert list(own) == tokenizer.convert_ids_to_tokens(ids)
    if "offset_mapping" in encoded:
        for b, (spans, n) in enumerate(zip(encoded["offset_mapping"], lengths, strict=True)):
            own = encoding.offsets[b, -n:] if side == "left" else encoding.offsets[b, :n]
            assert own.tolist() == [list(span) for span in spans]
    return encoding, cut


def _limits(tokenizer, cap):
    """Limits that cut, one that fits the medium sentence exactly (kept == limit, nothing cut),
    one below it, and the checkpoint's own."""
    exact = len(tokenizer(MEDIUM)["input_ids"])
    return sorted({12, exact, exact - 1, 24, cap})


@pytest.mark.parametrize("name", list(BATCHES))
def test_the_counts_and_arrays_equal_the_two_call_way_for_every_family(family, name):
    loaded = family.loaded
    assert loaded is not None, family.load_error
    tokenizer = loaded.batch_tokenizer
    cut_somewhere = False
    for max_length in _limits(tokenizer, loaded.max_tokens):
        for padding, side in (("longest", "right"), ("longest", "left"), ("do_not_pad", "right")):
            _, cut = _check(tokenizer, name, max_length, padding, side)
            cut_somewhere |= any(cut)
    if name != "pairs, all short":
        assert cut_somewhere  # the limits do cut, so the counting is exercised


def test_a_row_that_fits_the_limit_exactly_lost_nothing(family):
    tokenizer = family.loaded.batch_tokenizer
    exact = len(tokenizer(MEDIUM)["input_ids"])
    encoding = encode_batch(tokenizer, [MEDIUM, SHORT], max_length=exact)
    assert encoding.truncated == (0, 0) and int(encoding.lengths[0]) == exact
    one_less = encode_batch(tokenizer, [MEDIUM, SHORT], max_length=exact - 1)
    assert one_less.truncated == (1, 0)


def test_no_truncation_cuts_nothing(family):
    tokenizer = family.loaded.batch_tokenizer
    encoding = encode_batch(tokenizer, [LONG, SHORT], max_length=8, truncation=False)
    full = tokenizer([LONG, SHORT])["input_ids"]
    assert encoding.truncated == (0, 0) and encoding.shape[1] == max(len(ids) for ids in full)


def _bundled_tokenizers():
    found = []
    for ref in (checkpoints.MINILM, checkpoints.SMOLLM2, checkpoints.CLASSIFIER):
        try:
            resolved = checkpoints.resolve(ref)
            if resolved.needs_preparation:
                continue
            found.append(pytest.param(ref, _batch_tokenizer(load_tokenizer(resolved))[0], id=ref))
        except ExplorerError:
            continue
    return found


@pytest.mark.parametrize(("ref", "tokenizer"), _bundled_tokenizers())
@pytest.mark.parametrize("name", list(BATCHES))
def test_the_bundled_tokenizers_count_the_same(ref, tokenizer, name):
    for max_length in _limits(tokenizer, 512):
        for padding, side in (("longest", "right"), ("longest", "left"), ("do_not_pad", "left")):
            _check(tokenizer, name, max_length, padding, side)
    # The default limit (max_length=None): the tokenizer's model_max_length.
    encoding, cut = _check(tokenizer, name, None, "longest", "right")
    assert encoding.truncated == tuple(cut)


def test_a_text_longer_than_the_models_limit_counts_what_was_cut():
    resolved = checkpoints.resolve(checkpoints.MINILM)
    tokenizer = load_tokenizer(resolved)
    text = " ".join([LONG] * 20)
    full = len(tokenizer(text)["input_ids"])
    assert full > 512
    encoding = encode_batch(tokenizer, [text, SHORT], max_length=512)
    assert encoding.truncated == (full - 512, 0)
    assert np.all(encoding.lengths == [512, len(tokenizer(SHORT)["input_ids"])])

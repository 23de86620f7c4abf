import csv
import io
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer.explain import tokenizer_lab as lab
from explorer.pipeline.encoding import encode_batch

BATCH = ["I've been waiting for a HuggingFace course my whole life.", "I hate this so much!"]


def test_schemes_are_named_from_the_tokenizer_itself(tiny_bert, tiny_gpt):
    wordpiece = lab.subword_scheme(tiny_bert.tokenizer)
    assert (wordpiece.algorithm, wordpiece.marker) == ("WordPiece", "##")
    bpe = lab.subword_scheme(tiny_gpt.tokenizer)
    assert (bpe.algorithm, bpe.marker) == ("byte-level BPE", "Ġ")


def test_unigram_scheme_uses_the_sentencepiece_marker():
    from transformers import PreTrainedTokenizerFast

    trained = lab.train_tokenizer("Unigram", lab.sample_corpus(), 200)
    wrapped = PreTrainedTokenizerFast(tokenizer_object=trained, unk_token="<unk>")
    scheme = lab.subword_scheme(wrapped)
    assert scheme.algorithm == "Unigram (SentencePiece)" and scheme.marker == "▁"


def test_special_tokens_list_roles_and_ids(tiny_bert, tiny_gpt):
    roles = {s.role: (s.token, s.token_id) for s in lab.special_tokens(tiny_bert.tokenizer)}
    assert roles["cls_token"] == ("[CLS]", tiny_bert.tokenizer.cls_token_id)
    assert roles["pad_token"] == ("[PAD]", tiny_bert.tokenizer.pad_token_id)
    gpt_roles = {s.role for s in lab.special_tokens(tiny_gpt.tokenizer)}
    assert "pad_token" not in gpt_roles and "eos_token" in gpt_roles


@pytest.mark.parametrize("fixture", ["tiny_bert", "tiny_gpt"])
def test_steps_equal_the_course_calls(request, fixture):
    tokenizer = request.getfixturevalue(fixture).tokenizer
    sentence = BATCH[0]
    steps = lab.tokenizer_steps(tokenizer, sentence)
    assert list(steps.tokens) == tokenizer.tokenize(sentence)
    assert list(steps.ids) == tokenizer.convert_tokens_to_ids(tokenizer.tokenize(sentence))
    assert list(steps.ids_with_specials) == tokenizer(sentence)["input_ids"]
    assert steps.decoded == tokenizer.decode(tokenizer(sentence)["input_ids"])
    # the ids without specials are the ids with specials, minus the added special tokens
    specials = tokenizer(sentence, return_special_tokens_mask=True)["special_tokens_mask"]
    kept = [i for i, special in zip(steps.ids_with_specials, specials, strict=True) if not special]
    assert kept == list(steps.ids)


def test_wordpiece_adds_cls_and_sep_and_explains_lower_casing(tiny_bert):
    steps = lab.tokenizer_steps(tiny_bert.tokenizer, "Attention Lets Tokens Look")
    assert steps.added == ("[CLS]", "[SEP]")
    assert not steps.exact
    assert any("lower-cases" in reason for reason in steps.why_not_exact)


def test_unknown_tokens_are_named_as_the_reason(tiny_bert):
    steps = lab.tokenizer_steps(tiny_bert.tokenizer, "attention 😀")
    assert any("unknown token [UNK]" in reason for reason in steps.why_not_exact)


def test_byte_level_round_trip_is_exact(tiny_gpt):
    steps = lab.tokenizer_steps(tiny_gpt.tokenizer, "Héllo 😀 wörld  <b>")
    assert steps.exact and steps.why_not_exact == () and steps.added == ()


@settings(max_examples=30, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz ", min_size=1, max_size=40).filter(lambda t: t.strip()))
def test_wordpiece_round_trip_of_lowercase_words_only_differs_in_spacing_or_unknowns(tiny_bert, text):
    steps = lab.tokenizer_steps(tiny_bert.tokenizer, text)
    if steps.exact:
        return
    assert steps.why_not_exact  # every difference comes with a reason
    if tiny_bert.tokenizer.unk_token_id not in steps.ids:
        assert " ".join(text.split()) == steps.decoded_plain


def test_json_export_parses_back_to_the_same_numbers(tiny_bert):
    encoding = encode_batch(tiny_bert.batch_tokenizer, BATCH, ["a pair", "another pair"])
    payload = json.loads(lab.encoding_json(encoding))
    assert payload["shape"] == list(encoding.shape)
    for b, row in enumerate(payload["sentences"]):
        np.testing.assert_array_equal(row["input_ids"], encoding.input_ids[b])
        np.testing.assert_array_equal(row["attention_mask"], encoding.attention_mask[b])
        np.testing.assert_array_equal(row["token_type_ids"], encoding.token_type_ids[b])
        assert row["tokens"] == list(encoding.tokens[b]) and row["pair"] == encoding.pairs[b]


def test_csv_export_has_one_row_per_cell(tiny_gpt):
    encoding = encode_batch(tiny_gpt.batch_tokenizer, BATCH)
    rows = list(csv.DictReader(io.StringIO(lab.batch_csv(encoding))))
    B, S = encoding.shape
    assert len(rows) == B * S
    ids = np.array([int(r["input_id"]) for r in rows]).reshape(B, S)
    mask = np.array([int(r["attention_mask"]) for r in rows]).reshape(B, S)
    np.testing.assert_array_equal(ids, encoding.input_ids)
    np.testing.assert_array_equal(mask, encoding.attention_mask)
    assert "token_type_id" not in rows[0]  # GPT-style tokenizers have none


def test_word_and_character_families_flag_unknowns():
    corpus = "the cat sat on the mat"
    words = lab.word_family("The cat flew", corpus)
    assert words.tokens == ("The", "cat", "[UNK]") and words.unknown == 1
    assert words.vocab_size == len({"the", "cat", "sat", "on", "mat"}) + 1
    chars = lab.character_family("cat!", corpus)
    assert chars.tokens == ("c", "a", "t", "[UNK]") and chars.unknown == 1


@pytest.mark.parametrize("kind", ["BPE", "WordPiece", "Unigram"])
def test_trained_tokenizers_split_less_with_a_larger_vocabulary(kind):
    corpus = lab.sample_corpus()
    small = lab.train_tokenizer(kind, corpus, 100)
    large = lab.train_tokenizer(kind, corpus, 1000)
    assert small.get_vocab_size() < large.get_vocab_size()
    text = "tokenization of the vocabulary"
    assert len(large.encode(text).tokens) < len(small.encode(text).tokens)


def test_pretrained_family_uses_the_real_tokenizer(tiny_bert):
    result = lab.pretrained_family("WordPiece", "tiny", tiny_bert.tokenizer, "attention lets")
    assert list(result.tokens) == tiny_bert.tokenizer.tokenize("attention lets")
    assert result.vocab_size == len(tiny_bert.tokenizer)


def test_sample_corpus_is_bundled():
    text = lab.sample_corpus()
    assert len(text.split()) > 400 and "tokenizer" in text


def test_unpadded_batch_keeps_row_lengths(tiny_bert):
    encoding = encode_batch(tiny_bert.batch_tokenizer, BATCH, padding="do_not_pad")
    direct = tiny_bert.batch_tokenizer(BATCH, truncation=True)
    assert not encoding.padded
    assert encoding.lengths.tolist() == [len(ids) for ids in direct["input_ids"]]


def test_max_length_padding_pads_to_exactly_max_length(tiny_bert):
    encoding = encode_batch(tiny_bert.batch_tokenizer, BATCH, padding="max_length", max_length=40)
    direct = tiny_bert.batch_tokenizer(BATCH, padding="max_length", truncation=True, max_length=40)
    assert encoding.shape == (2, 40)
    np.testing.assert_array_equal(encoding.input_ids, np.array(direct["input_ids"]))

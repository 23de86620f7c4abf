"""The Tokenizer lab's View, built for every checkpoint family: the batch it shows is what
``batch_tokenizer(..., return_tensors="np")`` returns, sentences about pairs, special tokens and
length limits are true for that tokenizer and config, and decoding round-trips as transformers does."""

from __future__ import annotations

import copy
import dataclasses
import functools
import re

import numpy as np
import pytest

from explorer.errors import CheckpointError, InputError
from explorer.explain import tokenizer_lab as lab
from explorer.pipeline.encoding import split_sentences
from explorer.pipeline.loading import MAX_TOKENS
from explorer.views import tokenizer as view_module
from explorer.views.common import Note
from explorer.views.tokenizer import Settings, build, build_families

BATCH = ("Attention lets tokens look at each other, again and again.", "Hello world")
PAIRS = ("It is a good course.", "It really is.")
MAX_LENGTH = 24
# Special tokens some tokenizer of the matrix has: a sentence naming one the current tokenizer
# lacks is false for it.
KNOWN_SPECIALS = (
    "[CLS]", "[SEP]", "[PAD]", "[MASK]", "[UNK]",
    "<s>", "</s>", "<pad>", "<unk>", "<mask>", "<|endoftext|>", "<|im_end|>",
)  # fmt: skip


@functools.cache
def trained(kind: str, corpus: str, size: int):
    return lab.train_tokenizer(kind, corpus, size)


def no_pretrained():
    raise AssertionError("the families tab must not load the bundled tokenizers without a text")


def test_every_family_loads_encoder_decoders_included(family):
    """Issue 13: the loader no longer refuses encoder-decoders (T5, BART): every family loads."""
    assert family.loaded is not None, family.load_error


def loaded_or_skip(family):
    """The family's LoadedCheckpoint (T5 has none: see the test above)."""
    if family.loaded is None:
        pytest.skip(f"{family.family.name}: the loader refuses it with a clear message")
    return family.loaded


def make_view(loaded, texts=BATCH, **settings):
    settings.setdefault("family_text", "")  # the families tab is tested on its own
    return build(
        loaded, split_sentences("\n".join(texts)), Settings(**settings), trained, no_pretrained, no_pretrained
    )


def sentences_of(view) -> list[str]:
    """Every sentence about the checkpoint the View holds (not the families tab, which is about
    other tokenizers, nor chips, which show the tokenizer's own tokens)."""
    notes = [*view.notes, view.batch.segments, view.batch.cut]
    notes += [s.truncation for s in view.sentences] + [s.verdict for s in view.steps]
    texts = [n.text for n in notes if isinstance(n, Note)]
    texts += [view.scheme, view.limits.help, view.batch.heading]
    texts += [s.header for s in view.sentences] + [s.added for s in view.steps]
    return texts


def assert_names_only_its_special_tokens(view, tokenizer):
    have = set(tokenizer.all_special_tokens)
    lacking = [t for t in KNOWN_SPECIALS if t not in have]
    for text in sentences_of(view):
        for token in lacking:
            assert token not in text, f"{token!r} is not a special token of this tokenizer: {text}"
    if view.specials:
        assert {row["token"] for row in view.specials.rows} <= have


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("padding", ["longest", "max_length"])
def test_batch_equals_the_tokenizer(family, padding, side):
    loaded = loaded_or_skip(family)
    view = make_view(loaded, padding=padding, side=side, max_length=MAX_LENGTH)
    expected = loaded.batch_tokenizer(
        list(BATCH),
        padding=padding,
        truncation=True,
        max_length=MAX_LENGTH,
        padding_side=side,
        return_tensors="np",
    )
    np.testing.assert_array_equal(view.batch.input_ids, expected["input_ids"])
    np.testing.assert_array_equal(view.batch.attention_mask, expected["attention_mask"])
    if "token_type_ids" in expected:
        np.testing.assert_array_equal(view.batch.token_type_ids, expected["token_type_ids"])
    else:
        assert view.batch.token_type_ids is None
        assert "no token_type_ids" in view.batch.segments.text
    B, S = expected["input_ids"].shape
    assert f"**input_ids shape [{B}, {S}]**" in view.batch.heading
    assert f"pad token `{loaded.batch_tokenizer.pad_token}`" in view.batch.heading
    # truncation: what the untruncated encoding has beyond max_length
    full = [len(ids) for ids in loaded.batch_tokenizer(list(BATCH))["input_ids"]]
    for b, n in enumerate(full):
        note = view.sentences[b].truncation
        assert (note is None) == (n <= MAX_LENGTH)
        if note:
            assert f"cut {n - MAX_LENGTH:,} token(s) from sentence {b}" in note.text
    assert_names_only_its_special_tokens(view, loaded.tokenizer)


def pair_structure(tokenizer, first, second):
    """Special tokens between the two texts and the template, read from transformers directly."""
    encoded = tokenizer(first, second)
    tokens = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
    sequence = encoded.sequence_ids()
    last_first = max(i for i, s in enumerate(sequence) if s == 0)
    first_second = min(i for i, s in enumerate(sequence) if s == 1)
    between = tuple(tokens[last_first + 1 : first_second])
    template = []
    for token, s in zip(tokens, sequence, strict=True):
        part = token if s is None else "AB"[s]
        if s is None or not template or template[-1] != part:
            template.append(part)
    return between, " ".join(template), encoded.get("token_type_ids"), sequence


def test_pair_batch_and_what_tells_the_sentences_apart(family):
    loaded = loaded_or_skip(family)
    tokenizer = loaded.batch_tokenizer
    view = make_view(loaded, pairs="\n".join(PAIRS), max_length=MAX_LENGTH)
    expected = tokenizer(
        list(BATCH),
        list(PAIRS),
        padding="longest",
        truncation=True,
        max_length=MAX_LENGTH,
        return_tensors="np",
    )
    np.testing.assert_array_equal(view.batch.input_ids, expected["input_ids"])
    np.testing.assert_array_equal(view.batch.attention_mask, expected["attention_mask"])
    if "token_type_ids" in expected:
        np.testing.assert_array_equal(view.batch.token_type_ids, expected["token_type_ids"])
    else:
        assert view.batch.token_type_ids is None

    between, template, types, sequence = pair_structure(tokenizer, BATCH[0], PAIRS[0])
    assert view.batch.pair.between == between
    assert view.batch.pair.template == template
    facts_template = getattr(family.family, "pair_template", None)
    if facts_template is not None:
        assert template == facts_template  # the family's documented layout
    sentence = view.batch.segments.text
    for code in re.findall(r"`([^`]+)`", sentence):
        assert code == "token_type_ids" or code in tokenizer.all_special_tokens, code
    for token in between:
        assert f"`{token}`" in sentence
    if types is None:
        assert "no token_type_ids" in sentence
        if not between:  # GPT-2 / Llama style: the texts are just joined
            assert "no special token between them" in sentence and "told apart only by" not in sentence
    else:
        second = {t for t, s in zip(types, sequence, strict=True) if s == 1}
        first = {t for t, s in zip(types, sequence, strict=True) if s == 0}
        claims_segments = "**0** for the first sentence's tokens and **1** for the second's" in sentence
        assert claims_segments == (first == {0} and second == {1})
    assert_names_only_its_special_tokens(view, loaded.tokenizer)


def test_steps_round_trip_as_transformers_decodes(family):
    loaded = loaded_or_skip(family)
    tokenizer = loaded.tokenizer
    texts = (*BATCH, "Héllo wörld 😀")
    view = make_view(loaded, texts=texts)
    assert len(view.steps) == len(texts) and view.step_options == (0, 1, 2)
    for sentence, step in zip(texts, view.steps, strict=True):
        ids = tokenizer(sentence)["input_ids"]
        assert step.ids_with_specials == str(list(ids))
        assert step.ids == str(tokenizer.convert_tokens_to_ids(tokenizer.tokenize(sentence)))
        assert step.steps.decoded == tokenizer.decode(ids)
        plain = tokenizer.decode(ids, skip_special_tokens=True)
        assert step.steps.decoded_plain == plain
        assert (step.verdict.kind == "success") == (plain == sentence)
        # what add_special_tokens adds: ids minus the ids without specials (a subsequence of them)
        rest, added = list(tokenizer(sentence, add_special_tokens=False)["input_ids"]), []
        for token_id in ids:
            if rest and token_id == rest[0]:
                rest.pop(0)
            else:
                added.append(tokenizer.convert_ids_to_tokens(token_id))
        assert step.steps.added == tuple(added)
        if not added:
            assert "adds no special tokens" in step.added
    assert_names_only_its_special_tokens(view, tokenizer)


def test_max_length_sentence_names_both_limits(family):
    loaded = loaded_or_skip(family)
    config = loaded.config
    positions = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
    if positions is None:  # T5: relative positions, no table: the tokenizer's and the app's limits
        top = min(MAX_TOKENS, loaded.tokenizer.model_max_length)
        assert view_module.limits(loaded).max_tokens == top
        view = make_view(loaded, max_length=4096)
        warning = [n.text for n in view.notes if n.kind == "warning"]
        assert len(warning) == 1 and f"above this tokenizer's limit of {top} tokens" in warning[0]
        return
    assert view_module.limits(loaded).max_tokens == min(
        MAX_TOKENS, positions, loaded.tokenizer.model_max_length
    )
    view = make_view(loaded, max_length=4096)
    warning = [n.text for n in view.notes if n.kind == "warning"]
    assert len(warning) == 1
    assert f"{positions:,}" in warning[0] and f"{MAX_TOKENS:,}" in warning[0]
    top = min(MAX_TOKENS, positions, loaded.tokenizer.model_max_length)
    if positions == top:  # the tiny models have 64 positions, below the app's cap
        assert f"above this model's limit of {top} tokens" in warning[0]
    else:  # RoBERTa: 66 positions (2 taken by the padding offset), model_max_length 64
        assert loaded.tokenizer.model_max_length == top
        assert f"above this tokenizer's limit of {top} tokens" in warning[0]
        assert "this model's limit" not in warning[0]
    help_text = view.limits.help
    assert f"{positions:,} positions" in help_text and f"at most {MAX_TOKENS:,} tokens" in help_text
    assert not [n for n in make_view(loaded, max_length=top).notes if n.kind == "warning"]

    # A model with more positions than the app's cap (a decoder with 8,192): the app's cap applies.
    big = copy.deepcopy(config)
    for name in ("max_position_embeddings", "n_positions"):
        if hasattr(big, name):
            setattr(big, name, 8192)
    tokenizer = copy.copy(loaded.tokenizer)
    tokenizer.model_max_length = 8192
    large = dataclasses.replace(loaded, config=big, tokenizer=tokenizer, max_tokens=MAX_TOKENS)
    limit = view_module.limits(large)
    assert (limit.positions, limit.app_cap, limit.applies) == (8192, MAX_TOKENS, "app")
    view = make_view(large, max_length=4096)
    warning = [n.text for n in view.notes if n.kind == "warning"][0]
    assert f"above the app's limit of {MAX_TOKENS} tokens" in warning and "8,192 positions" in warning
    assert "this model's limit" not in warning


def test_unpadded_rows_say_whether_they_stack(family):
    loaded = loaded_or_skip(family)
    lengths = [len(ids) for ids in loaded.batch_tokenizer(list(BATCH), truncation=True)["input_ids"]]
    view = make_view(loaded, padding="do_not_pad")
    assert view.encoding.lengths.tolist() == lengths
    if len(set(lengths)) > 1:
        assert "cannot be stacked" in view.batch.heading
        assert ", ".join(map(str, lengths)) in view.batch.heading
    same = make_view(loaded, texts=("Hello world", "Hello world"), padding="do_not_pad")
    assert "cannot be stacked" not in same.batch.heading and "stack into one tensor" in same.batch.heading


def test_downloads_hold_the_batch(family):
    import json

    loaded = loaded_or_skip(family)
    view = make_view(loaded)
    json_download, csv_download = view.batch.downloads
    payload = json.loads(json_download.data())
    assert payload["shape"] == list(view.batch.input_ids.shape)
    for b, row in enumerate(payload["sentences"]):
        assert row["input_ids"] == view.batch.input_ids[b].tolist()
    assert csv_download.data().count("\n") == view.batch.input_ids.size + 1


def test_mismatched_pairs_are_an_input_error(tiny_bert):
    with pytest.raises(InputError, match="one second sentence per sentence"):
        make_view(tiny_bert, pairs="only one")


def test_families_tab():
    settings = Settings(family_text="Tokenization of transformerification", vocab=300)
    stand_in = trained("WordPiece", lab.sample_corpus(), 300)

    class Pretrained:  # what pretrained_family reads: tokenize, unk_token, len
        unk_token = "[UNK]"

        def tokenize(self, text):
            return stand_in.encode(text).tokens

        def __len__(self):
            return stand_in.get_vocab_size()

    families = build_families(settings, trained, Pretrained, Pretrained)
    assert not families.notes and len(families.results) == 7
    rows = families.sizes.rows
    assert len(rows) == 12 and families.sizes.index == ["tokenizer", "asked vocabulary"]
    text = settings.family_text
    for row in rows:
        # the same (cached) tokenizer the View got: WordPiece training is not deterministic
        tokenizer = trained(row["tokenizer"], lab.sample_corpus(), row["asked vocabulary"])
        assert row["actual vocabulary"] == tokenizer.get_vocab_size()
        assert row["tokens"] == len(tokenizer.encode(text).tokens)
    captions = [n.text for n in families.size_notes]
    unigram = [c for c in captions if c.startswith("Unigram")]
    assert unigram and all("merg" not in c.replace("does not merge", "") for c in unigram)
    for kind in ("BPE", "WordPiece"):
        short = [r for r in rows if r["tokenizer"] == kind and r["actual vocabulary"] < r["asked vocabulary"]]
        said = [c for c in captions if c.startswith(f"{kind} builds")]
        assert bool(short) == bool(said)
        if short:
            assert f"{short[0]['actual vocabulary']:,} tokens" in said[0]
    over = [r for r in rows if r["actual vocabulary"] > r["asked vocabulary"]]
    for row in over:  # byte-level BPE cannot have fewer than its 256 byte tokens
        assert any(f"it has {row['actual vocabulary']:,}" in c for c in captions)


def test_families_tab_problems_are_notes():
    empty = build_families(Settings(family_text="  "), trained, no_pretrained, no_pretrained)
    assert [n.kind for n in empty.notes] == ["info"] and empty.sizes is None

    def broken(kind, corpus, size):
        raise ValueError("no words")

    failed = build_families(Settings(), broken, no_pretrained, no_pretrained)
    assert failed.notes == (Note("error", "Could not train on that text: no words"),)

    def unavailable():
        raise CheckpointError("SmolLM2 must be prepared first.")

    refused = build_families(Settings(), trained, unavailable, unavailable)
    assert refused.notes == (Note("error", "SmolLM2 must be prepared first."),) and not refused.results


# --- What the classification token is for, per checkpoint -------------------------------------


def cls_row(view) -> str | None:
    rows = {row["role"]: row["what it is for"] for row in view.specials.rows} if view.specials else {}
    return rows.get("cls_token")


def test_the_cls_row_says_what_this_checkpoint_uses_it_for(family):
    import torch

    loaded = loaded_or_skip(family)
    tokenizer, facts = loaded.tokenizer, family.family
    meaning = cls_row(make_view(loaded))
    if tokenizer.cls_token is None:  # GPT-2, Llama, Qwen3: no classification token, no row
        assert meaning is None
        return
    assert "summarises the sentence" not in meaning or "depends" in meaning or "taught" in meaning
    first = tokenizer("a")["input_ids"][0] == tokenizer.cls_token_id
    assert first and "starts every sequence" in meaning
    model = loaded.model
    if facts.kind == "classifier":  # BertForSequenceClassification: logits from the pooler
        assert "through the pooler" in meaning and "dense layer and tanh" in meaning
        batch = tokenizer(["the model reads tokens"], return_tensors="pt")
        with torch.inference_mode():
            hidden = model.bert(**batch).last_hidden_state  # [1, S, D]
            pooled = torch.tanh(model.bert.pooler.dense(hidden[:, 0]))  # the first token only
            assert torch.allclose(model.classifier(pooled), model(**batch).logits, atol=1e-5)
    elif facts.head == "AutoModelForMaskedLM":
        assert "masked-LM head" in meaning and "depends on pre-training" in meaning
    elif facts.kind == "encoder-decoder":  # BART: <s> starts the encoder's input; the decoder reads all
        assert "encoder-decoder" in meaning and "no single token has to summarise" in meaning
    else:  # a bare encoder with no sentence-transformers pooling config
        assert facts.head == "AutoModel" and "no task head reads it" in meaning
        has_pooler = getattr(model, "pooler", None) is not None
        assert ("pooler_output" in meaning) == has_pooler


def _classifier_folder(family_folder, kind: str, tmp_path):
    """The family's tokenizer with a fresh RoBERTa or DistilBERT sequence classifier."""
    import torch
    from transformers import (
        AutoConfig,
        AutoTokenizer,
        DistilBertForSequenceClassification,
        RobertaForSequenceClassification,
    )

    torch.manual_seed(0)
    config = AutoConfig.from_pretrained(family_folder, num_labels=2)
    model = {"roberta": RobertaForSequenceClassification, "distilbert": DistilBertForSequenceClassification}[
        kind
    ](config)
    model.save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(family_folder).save_pretrained(tmp_path)
    return tmp_path


@pytest.mark.parametrize("family", ["roberta", "distilbert"], indirect=True)
def test_roberta_and_distilbert_heads_read_the_first_vector_directly(family, tmp_path):
    import torch

    from tests.conftest import load_local

    loaded = load_local(_classifier_folder(family.folder, family.family.model_type, tmp_path))
    assert loaded.head_class == "AutoModelForSequenceClassification"
    meaning = cls_row(make_view(loaded))
    assert "last_hidden_state[:, 0]" in meaning and "pooler" not in meaning
    # True for this model: the logits depend on the first token's final vector only.
    batch = loaded.tokenizer(["the model reads tokens"], return_tensors="pt")
    model = loaded.model
    with torch.inference_mode():
        hidden = model.base_model(**batch).last_hidden_state  # [1, S, D]
        only_first = torch.zeros_like(hidden)
        only_first[:, 0] = hidden[:, 0]
        if family.family.model_type == "roberta":
            logits = model.classifier(only_first)
        else:
            logits = model.classifier(torch.relu(model.pre_classifier(only_first[:, 0])))
        assert torch.allclose(logits, model(**batch).logits, atol=1e-5)


@pytest.mark.parametrize("mode", ["pooling_mode_mean_tokens", "pooling_mode_cls_token"])
def test_a_sentence_transformers_encoder_is_described_by_its_pooling(tiny_bert_dir, tmp_path, mode):
    """MiniLM's package ships modules.json and 1_Pooling/config.json (mean pooling): the row says
    its sentence vector is the mean, not the first token's vector."""
    import json
    import shutil

    from tests.conftest import load_local

    folder = tmp_path / "st"
    shutil.copytree(tiny_bert_dir, folder)
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "1_Pooling").mkdir()
    pooling = {key: key == mode for key in view_module.POOLING_MODES}
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    meaning = cls_row(make_view(load_local(folder)))
    assert "sentence-transformers" in meaning and f"1_Pooling/config.json: {mode}" in meaning
    if mode == "pooling_mode_mean_tokens":
        assert "the mean of all token vectors" in meaning and "not what summarises" in meaning
    else:
        assert "the first token's vector" in meaning and "not what summarises" not in meaning


@pytest.mark.parametrize("family", ["gpt2"], indirect=True)
def test_a_decoder_given_a_cls_token_is_told_it_cannot_summarise(family):
    loaded = family.loaded
    tokenizer = copy.deepcopy(loaded.tokenizer)
    tokenizer.add_special_tokens({"cls_token": tokenizer.eos_token})
    meaning = view_module.first_token_purpose(dataclasses.replace(loaded, tokenizer=tokenizer))
    assert "decoder" in meaning and "cannot summarise" in meaning
    assert "does not add it" in meaning  # GPT-2's tokenizer adds no special token to a sentence

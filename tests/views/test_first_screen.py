"""The first screen: the default checkpoint (the default classifier once built, else the bundled
encoder), the course's first example through the Pipeline View, the truncation sentence naming
the limit that cut the text, and the GGUF caption beside de-quantized probabilities."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from explorer.pipeline import checkpoints
from explorer.pipeline.encoding import encode_batch
from explorer.pipeline.loading import MAX_TOKENS
from explorer.pipeline.run import run_model
from explorer.training import finetune as ft
from explorer.views import pipeline as home
from explorer.views import tokenizer as tok_view


def built(loaded, sentences, **kwargs):
    encoding = encode_batch(loaded.batch_tokenizer, sentences, max_length=loaded.max_tokens)
    return encoding, home.build(loaded, encoding, run_model(loaded, encoding), **kwargs)


# --- The default checkpoint ----------------------------------------------------------------------


def test_default_ref_is_the_classifier_only_once_its_folder_has_a_config(monkeypatch, tmp_path):
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path))
    folder = tmp_path / "checkpoints" / ft.DEFAULT_NAME
    assert checkpoints.classifier_folder() == folder == ft.default_classifier_folder()
    assert checkpoints.default_ref() == checkpoints.MINILM  # nothing built
    folder.mkdir(parents=True)
    assert checkpoints.default_ref() == checkpoints.MINILM  # a folder still empty (being written)
    (folder / "config.json").write_text("{}")
    assert checkpoints.default_ref() == checkpoints.CLASSIFIER == f"saved:{ft.DEFAULT_NAME}"
    # ... and the picker lists it, so the sidebar can select it
    assert checkpoints.entry_for(checkpoints.default_ref()) is not None
    assert checkpoints.DEFAULT_REF == checkpoints.MINILM  # the fallback stays the bundled encoder


def test_the_default_text_is_the_courses_first_example():
    from explorer.ui.state import DEFAULT_TEXT

    assert tuple(DEFAULT_TEXT.split("\n")) == home.COURSE_SENTENCES


# --- The course's example through the View ----------------------------------------------------


@pytest.mark.parametrize("family", ["cls-single"], indirect=True)
def test_the_course_example_on_a_classifier_ends_in_pipelines_probabilities(family):
    from transformers import pipeline

    loaded = family.loaded
    _, view = built(loaded, home.COURSE_SENTENCES, classifier_built=False)
    assert view.classifier is None  # a classifier needs no offer
    assert "course's first example" in view.example.text and "softmax" in view.example.text
    assert view.postprocess_header == "③ Postprocessing: logits → softmax → labelled probabilities"
    classify = pipeline("text-classification", model=loaded.model, tokenizer=loaded.tokenizer, top_k=None)
    theirs = classify(list(home.COURSE_SENTENCES))
    assert len(view.predictions) == 2
    for block, answer in zip(view.predictions, theirs, strict=True):
        assert block.bars_html
        ours = dict(zip(block.prediction.labels, block.prediction.scores, strict=True))
        assert ours == pytest.approx({a["label"]: a["score"] for a in answer}, abs=1e-5)
        assert list(block.prediction.labels) == [a["label"] for a in answer]  # best first, as pipeline()


@pytest.mark.parametrize("family", ["cls-multi", "cls-regression"], indirect=True)
def test_other_heads_do_not_claim_the_courses_softmax(family):
    _, view = built(family.loaded, home.COURSE_SENTENCES)
    function = family.family.pipeline_function
    assert function in view.example.text or function == "none"
    if function == "none":
        assert "regression" in view.example.text and "probabilit" not in view.postprocess_header
    else:
        assert view.postprocess_header == f"③ Postprocessing: logits → {function} → labelled probabilities"


def test_a_bare_encoder_offers_the_default_classifier(family):
    assert family.loaded is not None, family.load_error
    loaded = family.loaded
    _, missing = built(loaded, home.COURSE_SENTENCES, classifier_built=False)
    _, ready = built(loaded, home.COURSE_SENTENCES, classifier_built=True)
    if loaded.head_class != "AutoModel":
        assert missing.classifier is None and ready.classifier is None
        assert "no classification head" not in missing.example.text
        if loaded.head_class == "AutoModelForCausalLM":
            assert "next token" in missing.example.text
        return
    # no head: the example stops at hidden states, and the page says how to get the classifier
    assert "no classification head" in missing.example.text
    assert missing.predictions == ()
    offer = missing.classifier
    assert offer.use_ref is None and offer.button == "Build the default classifier"
    assert checkpoints.CLASSIFIER_NAME in offer.note.text and "meanwhile" in offer.note.text.lower()
    train, _ = ft.bundled_dataset()
    steps = -(-len(train.texts) // ft.TrainingConfig().batch_size) * ft.TrainingConfig().epochs
    assert f"{steps} training steps" in offer.note.text  # what one click costs
    assert ready.classifier.use_ref == checkpoints.CLASSIFIER
    assert checkpoints.CLASSIFIER_NAME in ready.classifier.button


def test_other_text_is_not_called_the_courses_example(tiny_bert):
    _, view = built(tiny_bert, ("the model reads tokens",), classifier_built=True)
    assert view.example is None


def test_build_default_classifier_starts_one_job_into_the_default_folder(monkeypatch, tmp_path):
    """The button's job: MiniLM (as resolved) fine-tuned on the bundled sentences into the default
    folder; a second click while it runs joins the same job."""
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path))
    started = []

    class FakeJob:
        def __init__(self, base, train, validation, output, config=None, probes=()):
            self.args = (base, train, validation, output, tuple(probes))
            self.finished = False
            started.append(self)

        def start(self):
            return self

    monkeypatch.setattr(home.ft, "TrainingJob", FakeJob)
    monkeypatch.setattr(home, "_build_job", None)
    job = home.build_default_classifier(home.COURSE_SENTENCES)
    base, train, validation, output, probes = job.args
    assert base == checkpoints.resolve(checkpoints.MINILM).location
    assert (train, validation) == ft.bundled_dataset()
    assert output == tmp_path / "checkpoints" / ft.DEFAULT_NAME
    assert probes == home.COURSE_SENTENCES
    assert home.build_default_classifier() is job and len(started) == 1  # still running: joined
    job.finished = True
    assert home.build_default_classifier() is not job and len(started) == 2  # done or failed: anew


# --- Truncation: which limit cut the text ------------------------------------------------------


def test_truncation_names_the_limit_that_cut(family):
    assert family.loaded is not None, family.load_error
    loaded = family.loaded
    config, tokenizer = loaded.config, loaded.tokenizer
    positions = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
    long = ("tokens " * 300,)
    encoding, view = built(loaded, long)
    text = view.sentences[0].truncation.text
    if positions is None:  # T5: relative positions, no table; the tokenizer's limit cuts
        top = min(tokenizer.model_max_length, MAX_TOKENS)
        assert text.startswith(f"Sentence 0 was cut to {top} tokens")
        assert "by the tokenizer's limit" in text and "sets no maximum number of positions" in text
        return
    top = min(positions, tokenizer.model_max_length, MAX_TOKENS)
    assert encoding.truncated[0] > 0 and f"{encoding.truncated[0]:,} token(s) were cut" in text
    assert text.startswith(f"Sentence 0 was cut to {top} tokens")
    assert f"{positions:,} positions" in text and f"{MAX_TOKENS}" in text  # both limits named
    if positions == top:
        assert "by the model's own limit" in text
    else:  # RoBERTa: 2 of its positions go to the padding offset; its tokenizer says 64
        assert tokenizer.model_max_length == top and "by the tokenizer's limit" in text
    assert "app's cap of" not in text

    # The same family with 8,192 positions (a modern decoder's): the app's cap cut it.
    big = copy.deepcopy(config)
    for name in ("max_position_embeddings", "n_positions"):
        if hasattr(big, name):
            setattr(big, name, 8192)
    wide = copy.copy(tokenizer)
    wide.model_max_length = 8192
    large = dataclasses.replace(loaded, config=big, tokenizer=wide, max_tokens=MAX_TOKENS)
    limit = tok_view.limits(large)
    cut = len(wide("tokens " * 600)["input_ids"]) - MAX_TOKENS
    sentence = home.truncation_sentence(0, cut, limit)
    assert sentence.startswith(f"Sentence 0 was cut to {MAX_TOKENS} tokens: {cut:,} token(s)")
    assert f"by the app's cap of {MAX_TOKENS} tokens, not the model" in sentence
    assert "8,192 positions" in sentence


# --- De-quantized probabilities -----------------------------------------------------------------


@pytest.mark.parametrize("family", ["llama", "gpt2"], indirect=True)
def test_gguf_caption_beside_next_token_probabilities(family):
    loaded = family.loaded
    _, plain = built(loaded, home.COURSE_SENTENCES)
    assert plain.predictions and plain.quantized is None  # a safetensors checkpoint: no caption
    as_bundled = dataclasses.replace(
        loaded, resolved=dataclasses.replace(loaded.resolved, ref=checkpoints.SMOLLM2)
    )
    _, view = built(as_bundled, home.COURSE_SENTENCES)
    assert view.quantized.kind == "caption"
    assert "de-quantized" in view.quantized.text and checkpoints.SMOLLM2_GGUF in view.quantized.text
    assert "4-bit" in view.quantized.text

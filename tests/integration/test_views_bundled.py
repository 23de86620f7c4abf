"""The bundled checkpoints through every page's View (the family matrix's checks, on the real
models): shapes equal the model's outputs, numbers equal transformers' own, no sentence names a
special token the tokenizer does not have."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from explorer.pipeline import checkpoints
from explorer.pipeline.bundled import prepare_smollm2
from explorer.pipeline.encoding import encode_batch, split_sentences
from explorer.pipeline.loading import load_checkpoint
from explorer.pipeline.postprocess import SAME_PROBABILITIES
from explorer.pipeline.run import pipeline_scores, run_model
from explorer.training.finetune import default_classifier_folder
from explorer.views import attention, classification, generation, model, pipeline, save_load, tokenizer
from tests.view_contents import strings

pytestmark = pytest.mark.bundled
TEXT = "I've been waiting for a HuggingFace course my whole life.\nI hate this so much!"
REFS = [checkpoints.MINILM, checkpoints.SMOLLM2, "saved:minilm-sentiment"]


@pytest.fixture(scope="module", params=REFS, ids=["minilm", "smollm2", "classifier"])
def bundled(request):
    ref = request.param
    if ref == checkpoints.SMOLLM2:
        prepare_smollm2()
    if ref.startswith("saved:") and not (default_classifier_folder() / "config.json").is_file():
        pytest.fail("the default classifier is missing: run `make models` (make test does)")
    loaded = load_checkpoint(checkpoints.resolve(ref))
    sentences = split_sentences(TEXT)
    encoding = encode_batch(loaded.batch_tokenizer, sentences.sentences, max_length=loaded.max_tokens)
    run = run_model(loaded, encoding, hidden_states=True, attentions=True)
    return loaded, sentences, encoding, run


BRACKETED = re.compile(r"\[(?:CLS|SEP|PAD|MASK|UNK)\]")


def _no_foreign_special_tokens(view, tokenizer) -> None:
    own = set(tokenizer.all_special_tokens)
    for text in strings(view):
        for token in BRACKETED.findall(text):
            assert token in own, f"{token!r} is not a special token of this tokenizer: {text[:200]}"


def test_every_view_builds_and_names_only_this_tokenizers_special_tokens(bundled):
    loaded, sentences, encoding, run = bundled
    views = [
        pipeline.build(loaded, encoding, run),
        model.build(loaded, encoding, run, model.Settings()),
        attention.build(loaded, encoding, run, attention.Settings()),
        classification.build(loaded, encoding, run),
        save_load.build(loaded, encoding, save_load.Settings()),
        generation.build(loaded, sentences.sentences[0], generation.Settings()),
        tokenizer.build(loaded, sentences, tokenizer.Settings(), lambda *a: None, lambda: None, lambda: None),
    ]
    for view in views:
        _no_foreign_special_tokens(view, loaded.tokenizer)


def test_the_model_view_shapes_are_the_models(bundled):
    loaded, _, encoding, run = bundled
    view = model.build(loaded, encoding, run, model.Settings())
    L1, B, S, D = run.hidden_states.shape  # [L + 1, B, S, D]
    assert L1 == loaded.config.num_hidden_layers + 1 and D == loaded.config.hidden_size
    assert [row["shape"] for row in view.hidden.table.rows] == [str([B, S, D])] * L1


def test_the_step_by_step_attention_is_the_models(bundled):
    loaded, _, encoding, run = bundled
    view = attention.build(loaded, encoding, run, attention.Settings(layer=1, head=2, sentence=1, steps=True))
    assert view.steps is not None and view.steps.steps.max_abs_difference < 1e-5
    assert view.steps.same and view.steps.agreement.kind == "success"


def test_classifier_scores_equal_pipeline(bundled):
    loaded, _, encoding, run = bundled
    if loaded.head_class != "AutoModelForSequenceClassification":
        pytest.skip("only the classifier has labels")
    theirs = pipeline_scores(loaded, encoding.sentences)
    view = classification.build(loaded, encoding, run, theirs)
    for row, their in zip(view.classifier.sentences, theirs, strict=True):
        result = row.classification
        np.testing.assert_allclose([their[label] for label in result.labels], result.scores, atol=1e-5)
    assert view.classifier.check.agrees and view.classifier.check.verdict.kind == "success"


def test_decoder_candidates_equal_the_models_softmax(bundled):
    loaded, sentences, _, _ = bundled
    if loaded.head_class != "AutoModelForCausalLM":
        pytest.skip("only the decoder predicts the next token")
    prompt = sentences.sentences[0]
    view = generation.build(loaded, prompt, generation.Settings())
    ids = loaded.tokenizer(prompt, return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        expected = torch.softmax(loaded.model(input_ids=ids).logits[0, -1].double(), -1)  # [vocab]
    top = torch.topk(expected, 10)
    shown = view.decoder.candidates
    assert list(shown.token_ids) == top.indices.tolist()
    # the page asks the head for the last position only (logits_to_keep=1): a [1, D] x [D, V] product
    # rounds differently in float32 from the full [S, D] x [D, V] one (1.3e-6 seen on SmolLM2), so the
    # bound is the one the app uses to call probabilities the same
    np.testing.assert_allclose(shown.raw, top.values.numpy(), atol=SAME_PROBABILITIES)

"""'Why this prediction?' on the bundled classifier and the bundled decoder (SmolLM2): Integrated
Gradients complete within 5%, occlusion equals the model run on the occluded text (tokenized here),
and the lesson's sentence. Expected numbers come from the model and tokenizer called here."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.explain import attribution as at
from explorer.pipeline import checkpoints
from explorer.pipeline.encoding import encode_batch
from explorer.pipeline.loading import load_checkpoint
from explorer.training import finetune as ft
from explorer.views import attribution as view
from explorer.views import classification

pytestmark = pytest.mark.bundled
SENTENCE = "The film was not bad at all."


@pytest.fixture(scope="module")
def classifier():
    folder = ft.default_classifier_folder()
    if not (folder / "config.json").is_file():
        pytest.fail(f"The default classifier is not built at {folder}: run `make models` (make test does).")
    return load_checkpoint(checkpoints.resolve(checkpoints.CLASSIFIER))


def _probabilities(model, tokenizer, text: str) -> np.ndarray:
    with torch.no_grad():
        logits = model(**tokenizer(text, return_tensors="pt")).logits[0]
    return torch.softmax(logits.double(), -1).numpy()


def test_the_classifier_on_the_lesson_sentence(classifier):
    encoding = encode_batch(classifier.batch_tokenizer, [SENTENCE], max_length=classifier.max_tokens)
    one = at.row(encoding, 0)
    target = at.classifier_target(classifier, one, "NEGATIVE")
    result = at.compute(classifier, one, target, at.BASELINES[0], at.OCCLUSIONS[2])
    c = result.completeness
    assert c.converged and c.relative_error < 0.05
    assert abs(result.integrated_gradients.sum() - c.difference) / abs(c.difference) < 0.05

    tokenizer, model = classifier.tokenizer, classifier.model
    expected = _probabilities(model, tokenizer, SENTENCE)[0]
    assert result.score == pytest.approx(expected, abs=1e-5)
    # Occlusion by removal equals the model on the text without that word (tokenized here).
    words = SENTENCE.split(" ")
    assert list(result.word_texts) == [w.lower() for w in words]  # the bundled tokenizer is uncased
    for w in range(len(words)):
        text = " ".join(words[:w] + words[w + 1 :])
        without = _probabilities(model, tokenizer, text)[0]
        assert result.occluded_scores[w] == pytest.approx(without, abs=1e-5), text

    # The view and the lesson's explanation say the numbers.
    shown = view.build(result, classification.Settings(attr_show=True), classifier.resolved.label)
    assert shown.completeness.kind == "success"
    assert f"{c.relative_error:.2%}" in shown.completeness.text
    sentence = view.why_explanation(classifier, encoding, 0, "NEGATIVE")
    assert f"**NEGATIVE** ({expected:.1%})" in sentence
    settings = view.lesson_settings(classification.Settings)
    assert settings.attr_show and settings.attr_target == "NEGATIVE"


def test_the_decoder_next_token():
    loaded = load_checkpoint(checkpoints.resolve(checkpoints.SMOLLM2))
    prompt = "The capital of France is"
    encoding = at.row(encode_batch(loaded.batch_tokenizer, [prompt], max_length=loaded.max_tokens), 0)
    target = at.token_target(loaded, encoding, at.last_position(encoding), None, "next token")
    assert loaded.tokenizer.decode([target.index]) == " Paris"
    before = [p.requires_grad for p in loaded.model.parameters()]
    ig, check, f_input, f_base, _ = at.integrated_gradients(loaded, encoding, target)
    assert check.converged and check.relative_error < 0.05
    with torch.no_grad():
        ids = loaded.tokenizer(prompt, return_tensors="pt")["input_ids"]
        direct = loaded.model(input_ids=ids).logits[0, -1, target.index]
    assert f_input == pytest.approx(float(direct), abs=1e-3)
    assert abs(ig.sum() - (f_input - f_base)) / abs(f_input - f_base) < 0.05
    assert ig[0] == 0  # the first token is kept in a decoder's baseline
    assert [p.requires_grad for p in loaded.model.parameters()] == before
    assert all(p.grad is None for p in loaded.model.parameters())

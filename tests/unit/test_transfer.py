"""Transfer learning, two ways (explorer.training.transfer): the feature-based head against scikit-learn fitted
in the test on sentence vectors computed here by hand (AutoModel + mean pooling with the mask), the
fine-tuned numbers read from the metadata finetune writes, and the recommendation's arithmetic."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from explorer.pipeline import checkpoints
from explorer.training import finetune as ft
from explorer.training import transfer


def _mean_pooled(folder: Path, sentences: list[str]) -> np.ndarray:
    """[N, D] mean of the last layer's real token vectors: an independent pooling for the tiny BERT."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    batch = tokenizer(sentences, padding=True, truncation=True, return_tensors="pt")
    with torch.inference_mode():
        vectors = model(**batch).last_hidden_state.double()  # [N, S, D]
    mask = batch["attention_mask"].double()[:, :, None]  # [N, S, 1]
    return ((vectors * mask).sum(1) / mask.sum(1)).numpy()  # [N, D]


def _small(data: ft.LabelledData, per_label: int) -> ft.LabelledData:
    """The first ``per_label`` examples of each label (both classes, a quick fit)."""
    picked = [i for label in (0, 1) for i in [j for j, y in enumerate(data.labels) if y == label][:per_label]]
    return data.pick(sorted(picked))


def test_pair_features_are_u_v_their_distance_and_product():
    u = np.array([[1.0, -2.0], [0.5, 0.0]])  # [2, 2]
    v = np.array([[3.0, 1.0], [0.5, -1.0]])
    expected = np.array([[1, -2, 3, 1, 2, 3, 3, -2], [0.5, 0, 0.5, -1, 0, 1, 0.25, 0]])
    np.testing.assert_array_equal(transfer.pair_features(u, v), expected)


def test_sentence_features_are_mean_pooled_token_vectors(tiny_bert, tiny_bert_dir):
    train, _ = ft.bundled_dataset()
    data = _small(train, 5)
    ours = transfer.features(tiny_bert, data)  # [10, 32]
    np.testing.assert_allclose(ours, _mean_pooled(tiny_bert_dir, list(data.texts)), atol=1e-5)


def test_pair_features_come_from_each_sentence_of_the_pair(tiny_bert, tiny_bert_dir):
    train, _, _ = ft.bundled_pairs()
    data = _small(train, 4)
    u = _mean_pooled(tiny_bert_dir, list(data.texts))
    v = _mean_pooled(tiny_bert_dir, list(data.pairs))
    expected = np.concatenate([u, v, np.abs(u - v), u * v], axis=1)  # [8, 128]
    np.testing.assert_allclose(transfer.features(tiny_bert, data), expected, atol=1e-5)


@pytest.mark.parametrize("kind", transfer.KINDS)
def test_feature_head_equals_scikit_learn_on_independent_vectors(tiny_bert, tiny_bert_dir, kind):
    from sklearn.linear_model import LogisticRegression

    train, held_out = transfer.bundled_split(kind)
    train, held_out = _small(train, 40), _small(held_out, 15)
    trained = transfer.train_feature_head(tiny_bert, train, held_out, kind)

    def vectors(data: ft.LabelledData) -> np.ndarray:
        u = _mean_pooled(tiny_bert_dir, list(data.texts))
        if data.pairs is None:
            return u
        v = _mean_pooled(tiny_bert_dir, list(data.pairs))
        return np.concatenate([u, v, np.abs(u - v), u * v], axis=1)

    reference = LogisticRegression(C=1.0, max_iter=5000).fit(vectors(train), np.array(train.labels))
    predicted = reference.predict(vectors(held_out))
    right = int((predicted == np.array(held_out.labels)).sum())
    assert trained.score.accuracy == pytest.approx(right / 30)
    assert trained.score.examples == 30 and trained.score.train_examples == 80
    width = 32 * (4 if kind == "pairs" else 1)
    assert trained.score.parameters == width + 1  # one weight vector and a bias for two classes
    assert (trained.dimension, trained.features) == (32, width)
    # lbfgs stops once its gradient is under tol (1e-4): vectors that differ by ~1e-6 (torch's thread count)
    # move where it stops by up to ~3e-3, while a wrong feature layout moves the weights by ~0.1.
    np.testing.assert_allclose(trained.head.coef_, reference.coef_, atol=1e-2)
    assert trained.score.seconds >= trained.fit_seconds > 0
    assert trained.score.way == transfer.FEATURE_WAY
    assert "mean pooling" in trained.pooling and "app's choice" in trained.pooling


def test_feature_probabilities_equal_predict_proba(tiny_bert, tiny_bert_dir):
    train, held_out = ft.bundled_dataset()
    trained = transfer.train_feature_head(tiny_bert, _small(train, 30), _small(held_out, 5), "sentences")
    sentences = [
        "A wonderful, warm film.",
        "Dull and far too long.",
        "",
        "<script>alert(1)</script> 😀 مرحبا 你好",
    ]
    ours = transfer.feature_probabilities(tiny_bert, trained, sentences)  # [4, 2]
    theirs = trained.head.predict_proba(_mean_pooled(tiny_bert_dir, sentences))
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
    assert transfer.feature_probabilities(tiny_bert, trained, []).shape == (0, 2)


def _metadata(folder: Path, **fields) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / checkpoints.TRAINING_METADATA).write_text(json.dumps(fields))
    return folder


def test_fine_tuned_sentence_numbers_are_read_from_the_metadata(tmp_path):
    train, validation = ft.bundled_dataset()
    folder = _metadata(
        tmp_path / "clf",
        train_examples=len(train.labels),
        validation_examples=len(validation.labels),
        validation={"epoch": 3.0, "accuracy": 0.9, "f1": 0.91, "loss": 0.2},
        test=None,
        seconds=31.4,
        torch_threads=2,
        date="2026-12-04T03:58:07",
    )
    score, source = transfer.fine_tuned_score(folder, "sentences", 1234)
    assert score is not None
    assert (score.accuracy, score.f1, score.seconds, score.parameters) == (0.9, 0.91, 31.4, 1234)
    assert score.examples == len(validation.labels) and score.train_examples == len(train.labels)
    assert "31 s" in source and "2 CPU threads" in source and checkpoints.TRAINING_METADATA in source


def test_fine_tuned_pair_numbers_come_from_the_held_out_test_split(tmp_path):
    train, validation, test = ft.bundled_pairs()
    folder = _metadata(
        tmp_path / "pairs",
        train_examples=len(train.labels),
        validation_examples=len(validation.labels),
        validation={"accuracy": 0.75, "f1": 0.7},
        test={"examples": len(test.labels), "accuracy": 0.5833, "f1": 0.6},
        seconds=90.0,
    )
    score, _ = transfer.fine_tuned_score(folder, "pairs", None)
    assert score is not None and score.accuracy == 0.5833 and score.examples == len(test.labels)


def test_missing_or_other_split_numbers_are_refused(tmp_path):
    score, why = transfer.fine_tuned_score(tmp_path / "nothing", "pairs", None)
    assert score is None and "not built" in why and "--pairs" in why
    folder = _metadata(
        tmp_path / "other",
        train_examples=10,
        validation_examples=4,
        validation={"accuracy": 1.0, "f1": 1.0},
        seconds=3,
    )
    score, why = transfer.fine_tuned_score(folder, "sentences", None)
    assert score is None and "not comparable" in why
    (folder / checkpoints.TRAINING_METADATA).write_text("{not json")
    assert transfer.fine_tuned_score(folder, "sentences", None)[0] is None


def _score(way: str, accuracy: float, examples: int, parameters: int | None, seconds: float = 1.0):
    return transfer.Score(
        way=way,
        kind="pairs",
        accuracy=accuracy,
        f1=accuracy,
        examples=examples,
        train_examples=100,
        seconds=seconds,
        parameters=parameters,
        source="",
    )


def test_a_clear_gap_recommends_the_more_accurate_way():
    feature = _score(transfer.FEATURE_WAY, 0.80, 400, 385, 4.0)
    fine = _score(transfer.FINE_TUNED_WAY, 0.95, 400, 22_000_000, 30.0)
    # the gap (15 points) against twice the standard error of the difference, by hand
    noise = 2 * math.sqrt(0.95 * 0.05 / 400 + 0.8 * 0.2 / 400)
    assert 0.15 > noise
    choice = transfer.recommend(feature, fine)
    assert choice.way == transfer.FINE_TUNED_WAY and choice.clear
    assert "15.0 points" in choice.text and f"±{noise * 100:.1f}" in choice.text
    assert "22,000,000 weights trained instead of 385" in choice.text
    flipped = transfer.recommend(
        _score(transfer.FEATURE_WAY, 0.95, 400, 385), _score("fine-tuned", 0.8, 400, 9)
    )
    assert flipped.way == transfer.FEATURE_WAY and flipped.clear


def test_a_gap_within_the_noise_recommends_the_cheaper_way():
    feature = _score(transfer.FEATURE_WAY, 0.611, 72, 1537)
    fine = _score(transfer.FINE_TUNED_WAY, 0.583, 72, 22_713_986)
    choice = transfer.recommend(feature, fine)
    assert not choice.clear and choice.way == transfer.FEATURE_WAY
    assert "within" in choice.text and "1,537 weights instead of 22,713,986" in choice.text
    # even when the fine-tuned one is a little ahead
    assert transfer.recommend(_score("feature-based", 0.55, 72, 10), fine).way == transfer.FEATURE_WAY


def test_without_a_fine_tuned_classifier_the_feature_based_one_is_named():
    choice = transfer.recommend(_score(transfer.FEATURE_WAY, 0.7, 72, 10), None)
    assert choice.way == transfer.FEATURE_WAY and not choice.clear and "70.0%" in choice.text


@pytest.mark.bundled
def test_the_default_classifiers_recorded_accuracy_is_its_accuracy_on_the_split():
    """The number the page shows for the fine-tuned classifier (its metadata) against an evaluation
    of the saved model, here, on the same held-out sentences through run.classifier_logits."""
    from explorer.pipeline.loading import load_checkpoint
    from explorer.pipeline.run import classifier_logits

    folder = ft.default_classifier_folder()
    if not (folder / "config.json").is_file():
        pytest.skip("the default classifier is not built (make models)")
    loaded = load_checkpoint(checkpoints.resolve(checkpoints.CLASSIFIER))
    score, _ = transfer.fine_tuned_score(folder, "sentences", loaded.num_parameters)
    _, validation = ft.bundled_dataset()
    logits = classifier_logits(loaded.model, loaded.tokenizer, validation.texts, max_length=64)  # [N, 2]
    right = int((logits.argmax(-1) == np.array(validation.labels)).sum())
    assert score is not None and score.accuracy == pytest.approx(right / len(validation.labels), abs=1e-9)


@pytest.mark.bundled
def test_the_pair_classifiers_recorded_accuracy_is_its_accuracy_on_the_held_out_pairs():
    """The same for the pair classifier: its metadata's test accuracy against the saved model's
    predictions on the held-out pairs, encoded as tokenizer(sentence1, sentence2) and run here."""
    from explorer.pipeline.encoding import encode_batch
    from explorer.pipeline.loading import load_checkpoint
    from explorer.pipeline.run import pair_logits

    folder = ft.pair_classifier_folder()
    if not (folder / "config.json").is_file():
        pytest.skip("the pair classifier is not built (python -m explorer.training.finetune --pairs)")
    loaded = load_checkpoint(checkpoints.resolve(transfer.fine_tuned_ref("pairs")))
    score, _ = transfer.fine_tuned_score(folder, "pairs", loaded.num_parameters)
    _, _, test = ft.bundled_pairs()
    encoding = encode_batch(loaded.batch_tokenizer, test.texts, test.pairs, max_length=ft.PAIR_MAX_LENGTH)
    predicted = pair_logits(loaded.model, encoding).argmax(-1)  # [N]
    right = int((predicted == np.array(test.labels)).sum())
    assert score is not None and score.accuracy == pytest.approx(right / len(test.labels), abs=1e-9)

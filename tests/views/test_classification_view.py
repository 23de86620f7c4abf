"""The Classification page's View: for every family, and for the three classifier heads against
transformers' own pipeline("text-classification") (called here, independently); the pipeline check
says "the same" only when the numbers agree; the fine-tuning section from a job's progress."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from explorer.errors import ExplorerError
from explorer.pipeline.encoding import encode_batch
from explorer.pipeline.run import run_model
from explorer.training import finetune as ft
from explorer.views import classification as cls
from tests.views.test_pipeline_view import SPECIALS, texts

SENTENCES = ("the model reads tokens", "attention is all you need and more", "tokens")


def built(loaded, sentences=SENTENCES, pipeline=None):
    encoding = encode_batch(loaded.batch_tokenizer, sentences, max_length=loaded.max_tokens)
    run = run_model(loaded, encoding)
    return cls.build(loaded, encoding, run, pipeline=pipeline)


def transformers_scores(loaded, sentences=SENTENCES) -> list[dict[str, float]]:
    from transformers import pipeline

    classify = pipeline("text-classification", model=loaded.model, tokenizer=loaded.tokenizer, top_k=None)
    return [{a["label"]: a["score"] for a in answer} for answer in classify(list(sentences))]


def assert_matches_pipeline(view, theirs):
    classifier = view.classifier
    assert len(classifier.sentences) == len(theirs)
    for row, answer in zip(classifier.sentences, theirs, strict=True):
        ours = dict(
            zip(row.classification.labels, (float(s) for s in row.classification.scores), strict=True)
        )
        assert set(ours) == set(answer)
        for label, score in answer.items():
            assert ours[label] == pytest.approx(score, abs=1e-5)
    check = classifier.check
    assert check.agrees and check.verdict.kind == "success"
    assert "the same" in check.verdict.text and "gives the same labels" in check.verdict.text
    assert check.largest_difference <= 1e-5
    plural = "scores" if classifier.function == "none" else "probabilities"
    assert f"the same {plural}:" in check.verdict.text


def test_view_for_every_family(family):
    if family.loaded is None:
        assert family.family.kind == "encoder-decoder"
        assert isinstance(family.load_error, ExplorerError) and "encoder-decoder" in str(family.load_error)
        return
    loaded, facts = family.loaded, family.family
    view = built(loaded)
    own = set(loaded.tokenizer.all_special_tokens)
    for text in texts(view, skip=("chips_html", "bars_html", "csv", "classification")):
        for special in SPECIALS:
            assert special not in text or special in own, f"{facts.name}: {text!r} names {special}"
    if not facts.is_classifier:
        assert view.classifier is None
        assert "has no classification head" in view.no_head.warning.text
        assert loaded.model_class in view.no_head.warning.text
        return
    assert view.no_head is None
    assert view.classifier.function == facts.pipeline_function
    assert_matches_pipeline(view, transformers_scores(loaded))
    logits_shape = view.classifier.steps[1].caption
    assert f"[{len(SENTENCES)}, {facts.num_labels}]" in logits_shape
    if facts.pipeline_function != "softmax":
        assert "softmax" not in view.intro.lower()
        assert "softmax" not in view.classifier.steps[2].caption


def test_tiny_classifier_matches_pipeline(tiny_classifier):
    view = built(tiny_classifier)
    assert_matches_pipeline(view, transformers_scores(tiny_classifier))
    assert all(row.bars_html and row.predicted.startswith("→ **") for row in view.classifier.sentences)


def test_a_difference_is_said_plainly(tiny_classifier):
    theirs = transformers_scores(tiny_classifier)
    perturbed = [{label: score + 1e-3 for label, score in answer.items()} for answer in theirs]
    check = built(tiny_classifier, pipeline=perturbed).classifier.check
    assert not check.agrees and check.verdict.kind == "warning"
    assert "the same" not in check.verdict.text
    assert "differ" in check.verdict.text and "1.0e-03" in check.verdict.text
    assert check.largest_difference == pytest.approx(1e-3, abs=1e-5)


def test_a_difference_just_above_the_tolerance_is_not_the_same(tiny_classifier):
    theirs = transformers_scores(tiny_classifier)
    nudged = [dict(answer) for answer in theirs]
    label = next(iter(nudged[1]))
    nudged[1][label] += 3e-5  # one label of one sentence
    check = built(tiny_classifier, pipeline=nudged).classifier.check
    assert not check.agrees and "the same" not in check.verdict.text


def test_different_label_names_are_said(tiny_classifier):
    renamed = [
        {f"LABEL_{i}": s for i, s in enumerate(answer.values())}
        for answer in transformers_scores(tiny_classifier)
    ]
    check = built(tiny_classifier, pipeline=renamed).classifier.check
    assert not check.agrees and math.isinf(check.largest_difference)
    assert "name the labels differently" in check.verdict.text and "the same" not in check.verdict.text


@pytest.mark.parametrize("family", ["cls-regression"], indirect=True)
def test_regression_says_score_not_probability(family):
    view = built(family.loaded)
    classifier = view.classifier
    assert classifier.function == "none" and classifier.score_name == "score"
    shown = texts(view, skip=("chips_html", "bars_html", "classification"))
    assert not [t for t in shown if "probabilit" in t.lower()]
    assert all(row.bars_html is None for row in classifier.sentences)  # a score is a number, not a bar
    for row in classifier.sentences:
        raw = float(row.classification.logits[0])  # the head's own output, unchanged
        assert f"{raw:.4f}" in row.score.text and f"{raw:.4f}" in row.predicted


@pytest.mark.parametrize("family", ["cls-multi"], indirect=True)
def test_multi_label_says_sigmoid(family):
    view = built(family.loaded)
    assert "sigmoid" in view.intro and "softmax" not in view.intro.lower()
    assert view.classifier.steps[2].caption.startswith("sigmoid")


def test_no_head_offers_the_default_classifier_only_when_it_exists(tiny_bert, monkeypatch):
    monkeypatch.setattr(cls.checkpoints, "entry_for", lambda ref: None)
    view = built(tiny_bert)
    assert view.no_head.default_ref is None and view.no_head.hint.kind == "info"
    monkeypatch.setattr(cls.checkpoints, "entry_for", lambda ref: object())
    view = built(tiny_bert)
    assert view.no_head.default_ref == f"saved:{ft.DEFAULT_NAME}" and view.no_head.hint is None


# --- Fine-tuning --------------------------------------------------------------------------------


def test_training_view_counts_and_steps():
    data = cls.training_data(cls.SOURCES[0], None)
    train, validation = ft.bundled_dataset()
    view = cls.build_training(data, cls.Settings(epochs=2))
    negatives = sum(1 for y in train.labels if y == 0)
    assert (
        f"**{len(train.texts)}** training sentences ({negatives} negative, {len(train.texts) - negatives} positive)"
        in view.counts
    )
    assert f"**{len(validation.texts)}** for validation" in view.counts
    assert view.steps == -(-len(train.texts) // 16) * 2
    assert view.estimate.startswith(f"{view.steps} training steps")
    assert len(view.data.rows) == min(len(train.texts), cls.SHOWN_ROWS)
    assert view.data.rows[0] == {"text": train.texts[0], "label": ft.LABELS[train.labels[0]]}


def test_training_data_waits_for_an_upload_and_reports_bad_files():
    assert cls.training_data(cls.SOURCES[1], None) is None
    with pytest.raises(ExplorerError, match="needs a 'text' column"):
        cls.training_data(cls.SOURCES[1], b"review,stars\nnice,5\n")
    rows = "".join(f"good {i},1\nbad {i},0\n" for i in range(10)) + ",1\n"
    data = cls.training_data(cls.SOURCES[1], ("text,label\n" + rows).encode())
    assert len(data.train.texts) + len(data.validation.texts) == 20
    assert [n.text for n in data.notes] == ["Skipped 1 row(s) with an empty text or label."]


def fake_job(status="running", finished=False, **progress):
    return SimpleNamespace(
        progress=ft.Progress(status=status, **progress),
        config=ft.TrainingConfig(epochs=2),
        finished=finished,
        probes=("a great course", "a terrible course"),
        before=[(0.49, 0.51), (0.52, 0.48)],
        after=[(0.1, 0.9), (0.8, 0.2)],
    )


def test_progress_of_a_running_job():
    job = fake_job(step=3, total_steps=10, seconds=4.2, losses=[(1, 0.7), (2, 0.6), (3, 0.5)])
    view = cls.training_progress(job)
    assert view.fraction == pytest.approx(0.3) and view.text == "running: step 3 of 10 · 4 s"
    assert view.can_stop and view.loss is not None and view.comparison is None and view.saved is None


def test_progress_of_a_finished_job(tmp_path):
    evaluations = [
        {"epoch": 1.0, "accuracy": 0.75, "loss": 0.51234},
        {"epoch": 2.0, "accuracy": 0.875, "loss": 0.4},
    ]
    job = fake_job(
        "done",
        True,
        step=10,
        total_steps=10,
        evaluations=evaluations,
        losses=[(10, 0.3)],
        message="Saved.",
        output=str(tmp_path / "my-classifier"),
    )
    view = cls.training_progress(job)
    assert not view.can_stop and view.fraction == 1.0
    assert view.evaluations.rows == (
        {"epoch": 1, "validation accuracy": "75.0%", "validation loss": 0.5123},
        {"epoch": 2, "validation accuracy": "87.5%", "validation loss": 0.4},
    )
    assert [row["P(POSITIVE) fine-tuned"] for row in view.comparison.rows] == [0.9, 0.2]
    assert [row["P(POSITIVE) untrained head"] for row in view.comparison.rows] == [0.51, 0.48]
    assert view.saved.kind == "success" and view.saved_ref == "saved:my-classifier"


def test_a_failed_job_says_why():
    view = cls.training_progress(fake_job("failed", True, message="Fine-tuning failed: out of memory"))
    assert view.message.kind == "error" and view.saved is None and view.text == "failed: step 0 · 0 s"


@pytest.mark.parametrize(
    ("name", "expected"), [(ft.DEFAULT_NAME, "default classifier's name"), ("Bad name!", "lower-case")]
)
def test_a_bad_name_is_refused_before_anything_starts(name, expected, monkeypatch):
    monkeypatch.setattr(ft.TrainingJob, "start", lambda self: pytest.fail("the job must not start"))
    data = cls.training_data(cls.SOURCES[0], None)
    with pytest.raises(ExplorerError, match=expected):
        cls.start_training(data, cls.Settings(name=name), probes=())

"""The default classifier that `make run` / `make test` build from the bundled data: it must
classify plain everyday sentences it never saw, not only its validation split."""

import csv
from pathlib import Path

import pytest

from explorer.pipeline import checkpoints
from explorer.pipeline.encoding import encode_batch
from explorer.pipeline.loading import load_checkpoint
from explorer.pipeline.postprocess import classify, compare_with_pipeline
from explorer.pipeline.run import pipeline_scores, run_model
from explorer.training import finetune as ft

pytestmark = pytest.mark.bundled
EVERYDAY = Path(__file__).resolve().parents[2] / "bench" / "everyday_sentences.csv"


@pytest.fixture(scope="module")
def classifier():
    folder = ft.default_classifier_folder()
    if not (folder / "config.json").is_file():
        pytest.fail(f"The default classifier is not built at {folder}: run `make models` (make test does).")
    return load_checkpoint(checkpoints.resolve(f"saved:{ft.DEFAULT_NAME}"))


def test_it_is_listed_in_the_picker_with_its_labels(classifier):
    entry = checkpoints.entry_for(f"saved:{ft.DEFAULT_NAME}")
    assert entry is not None and "NEGATIVE / POSITIVE" in entry.description
    assert classifier.head_class == "AutoModelForSequenceClassification"
    assert classifier.config.id2label == {0: "NEGATIVE", 1: "POSITIVE"}


def test_everyday_sentences_are_classified_correctly(classifier):
    rows = list(csv.DictReader(EVERYDAY.open()))
    train, validation = ft.bundled_dataset()
    assert not {r["text"] for r in rows} & set(train.texts + validation.texts)  # unseen sentences
    predicted = []
    for start in range(0, len(rows), 8):
        chunk = [r["text"] for r in rows[start : start + 8]]
        run = run_model(classifier, encode_batch(classifier.batch_tokenizer, chunk))
        predicted += [c.predicted for c in classify(run.logits, classifier.config)]
    accuracy = sum(p == r["label"] for p, r in zip(predicted, rows, strict=True)) / len(rows)
    assert accuracy >= 0.9, accuracy


def test_its_numbers_equal_the_transformers_pipeline(classifier):
    sentences = ["I've been waiting for a HuggingFace course my whole life.", "I hate this so much!"]
    results = classify(
        run_model(classifier, encode_batch(classifier.batch_tokenizer, sentences)).logits, classifier.config
    )
    assert [r.predicted for r in results] == ["POSITIVE", "NEGATIVE"]
    assert all(
        c.same_label and c.max_abs_difference < 1e-5
        for c in compare_with_pipeline(results, pipeline_scores(classifier, sentences))
    )

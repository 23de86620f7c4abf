"""Sentence-pair fine-tuning: the bundled paraphrase pairs, the pair CSV's checks, and a short
fine-tune through Dataset.map / DataCollatorWithPadding / Trainer whose accuracy and F1 are
recomputed here from the saved model's own predictions."""

import csv
import io
import json

import numpy as np
import pytest
import torch

from explorer.errors import InputError
from explorer.pipeline.checkpoints import TRAINING_METADATA
from explorer.training import finetune as ft


def csv_bytes(rows, header=("sentence1", "sentence2", "label")) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def _f1_by_counts(predicted, labels) -> float:
    """F1 = 2TP / (2TP + FP + FN), written differently from ft.f1_score on purpose."""
    tp = sum(1 for p, y in zip(predicted, labels, strict=True) if p == 1 and y == 1)
    fp = sum(1 for p, y in zip(predicted, labels, strict=True) if p == 1 and y == 0)
    fn = sum(1 for p, y in zip(predicted, labels, strict=True) if p == 0 and y == 1)
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


# --- The bundled pairs --------------------------------------------------------------------------


def test_the_bundled_pairs_are_many_balanced_and_unique():
    train, validation, test = ft.bundled_pairs()
    everything = [
        (a, b, y)
        for part in (train, validation, test)
        for a, b, y in zip(part.texts, part.pairs, part.labels, strict=True)
    ]
    assert len(everything) >= 400
    assert all(part.is_pairs and part.label_names == ft.PAIR_LABELS for part in (train, validation, test))
    positives = sum(y for _, _, y in everything)
    assert 0.45 <= positives / len(everything) <= 0.55
    for part in (train, validation, test):
        assert 0.4 <= sum(part.labels) / len(part.labels) <= 0.6
    unordered = [frozenset((a.lower(), b.lower())) for a, b, _ in everything]
    assert len(set(unordered)) == len(unordered), "a pair appears twice"
    assert all(a.strip() and b.strip() and a != b for a, b, _ in everything)


def test_the_held_out_pairs_share_no_sentence_with_training_or_validation():
    train, validation, test = ft.bundled_pairs()
    assert len(test.texts) >= 60
    seen = set(train.texts) | set(train.pairs) | set(validation.texts) | set(validation.pairs)
    held_out = set(test.texts) | set(test.pairs)
    assert not (seen & held_out)
    assert not ({*train.texts, *train.pairs} & {*validation.texts, *validation.pairs})


def test_the_bundled_pairs_have_hard_negatives():
    """Non-paraphrases that share most of their words: the model cannot count overlap."""
    train, validation, test = ft.bundled_pairs()
    hard = 0
    for part in (train, validation, test):
        for a, b, y in zip(part.texts, part.pairs, part.labels, strict=True):
            words_a, words_b = set(a.lower().split()), set(b.lower().split())
            if y == 0 and len(words_a & words_b) / len(words_a | words_b) >= 0.5:
                hard += 1
    assert hard >= 50  # 56 today: about one negative in five


# --- F1 and the pair CSV ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("predicted", "labels"),
    [([1, 1, 0, 0], [1, 0, 1, 0]), ([1, 1, 1, 1], [1, 1, 0, 0]), ([0, 0], [1, 0]), ([1, 0, 1], [1, 0, 1])],
)
def test_f1_matches_its_definition(predicted, labels):
    assert ft.f1_score(predicted, labels) == pytest.approx(_f1_by_counts(predicted, labels))


def test_a_pair_csv_is_read_with_its_label_words():
    rows = [("A cat sat.", "A cat was sitting.", "paraphrase"), ("A cat sat.", "A dog ran.", "0")] * 4
    rows += [("x", "", "1")]  # skipped: no second sentence
    data = ft.read_labelled_csv(csv_bytes(rows))
    assert data.is_pairs and data.texts[:2] == ("A cat sat.", "A cat sat.")
    assert data.pairs[:2] == ("A cat was sitting.", "A dog ran.") and data.labels[:2] == (1, 0)
    assert data.counts() == {"NOT_PARAPHRASE": 4, "PARAPHRASE": 4}
    assert any("empty sentence1, sentence2 or label" in note for note in data.notes)
    train, validation = ft.split(data, validation_fraction=0.25)
    assert train.is_pairs and validation.is_pairs and len(train.texts) + len(validation.texts) == 8


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"sentence1,label\na,1\n", "'sentence2' is missing"),
        (b"sentence1,sentence2\na,b\n", "'label' is missing"),
        (csv_bytes([("a", "b", "maybe")] * 8), "Unknown labels: 'maybe'"),
        (csv_bytes([("a", "b", "paraphrase")] * 8), "no NOT_PARAPHRASE examples"),
        (csv_bytes([("a", "b", "1")] * 8 + [("a", "c", "0")] * 2), "at least 4 of each class"),
        (b"", "'sentence1', 'sentence2' and 'label'"),
    ],
)
def test_pair_csv_errors_say_what_to_fix(raw, expected):
    with pytest.raises(InputError, match=expected):
        ft.read_labelled_csv(raw)


def test_a_large_pair_csv_is_sampled_with_a_note():
    rows = [(f"sentence {i}", f"other {i}", str(i % 2)) for i in range(50)]
    data = ft.read_labelled_csv(csv_bytes(rows), max_rows=20)
    assert len(data.texts) == len(data.pairs) == 20 and any("random sample of 20" in n for n in data.notes)
    index = {f"sentence {i}": (f"other {i}", i % 2) for i in range(50)}
    assert all(index[a] == (b, y) for a, b, y in zip(data.texts, data.pairs, data.labels, strict=True))


# --- A short fine-tune --------------------------------------------------------------------------


def _subset(data: ft.LabelledData, n: int) -> ft.LabelledData:
    positives = [i for i, y in enumerate(data.labels) if y == 1][: n // 2]
    negatives = [i for i, y in enumerate(data.labels) if y == 0][: n // 2]
    return data.pick(sorted(positives + negatives))


def _predict(folder, data: ft.LabelledData) -> list[int]:
    """The saved classifier's predictions, by a direct forward pass on tokenizer(s1, s2)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    batch = tokenizer(list(data.texts), list(data.pairs), padding=True, truncation=True, return_tensors="pt")
    with torch.no_grad():
        return model(**batch).logits.argmax(-1).tolist()


def test_a_short_pair_fine_tune_reports_accuracy_and_f1_of_its_predictions(tiny_bert_dir, tmp_path):
    train, validation, test = ft.bundled_pairs()
    train, validation, test = _subset(train, 24), _subset(validation, 10), _subset(test, 12)
    output = tmp_path / "pairs"
    config = ft.TrainingConfig(epochs=1, batch_size=8, learning_rate=1e-3, max_length=64)
    progress = ft.fine_tune(str(tiny_bert_dir), train, validation, output, config, test=test)
    assert progress.status == "done"

    # Dynamic padding: each batch padded to its own longest pair, batch by batch.
    assert len(progress.batch_shapes) == 3  # 24 pairs / 8, before any evaluation batch
    for shape in progress.batch_shapes:
        assert shape["padded shape"] == (len(shape["lengths"]), max(shape["lengths"]))
    # Each pair became one input: tokenizer(sentence1, sentence2) is longer than either sentence.
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_bert_dir)
    joined = {
        len(tokenizer(a, b, truncation=True, max_length=64)["input_ids"])
        for a, b in zip(train.texts, train.pairs, strict=True)
    }
    assert {n for shape in progress.batch_shapes for n in shape["lengths"]} <= joined

    # The last evaluation and the held-out scores equal what the saved model predicts.
    predicted = _predict(output, validation)
    last = progress.evaluations[-1]
    accuracy = float(np.mean(np.array(predicted) == np.array(validation.labels)))
    assert last["accuracy"] == pytest.approx(accuracy) and last["f1"] == pytest.approx(
        _f1_by_counts(predicted, validation.labels)
    )
    held_out = _predict(output, test)
    assert progress.test["predictions"] == held_out
    assert progress.test["accuracy"] == pytest.approx(np.mean(np.array(held_out) == np.array(test.labels)))
    assert progress.test["f1"] == pytest.approx(_f1_by_counts(held_out, test.labels))

    meta = json.loads((output / TRAINING_METADATA).read_text())
    assert meta["pairs"] is True and meta["columns"] == ["sentence1", "sentence2"]
    assert meta["test"]["examples"] == len(test.labels) and "predictions" not in meta["test"]
    config_json = json.loads((output / "config.json").read_text())
    assert config_json["id2label"] == {"0": "NOT_PARAPHRASE", "1": "PARAPHRASE"}


def test_pair_csv_notes_say_what_was_skipped_and_cut():
    long = "word " * (ft.MAX_TEXT_CHARS // 5 + 10)
    rows = [(f"first {i}", f"second {i}", str(i % 2)) for i in range(10)]
    rows += [("", "no first sentence", "1"), (long, "short", "0")]
    data = ft.read_labelled_csv(csv_bytes(rows))
    assert data.notes == (
        "Skipped 1 row(s) with an empty sentence1, sentence2 or label.",
        f"Cut 1 pair(s) with a sentence longer than {ft.MAX_TEXT_CHARS} characters.",
    )
    assert data.texts[-1] == long.strip()[: ft.MAX_TEXT_CHARS] and data.pairs[-1] == "short"
    assert len(data.texts) == len(data.pairs) == len(data.labels) == 11

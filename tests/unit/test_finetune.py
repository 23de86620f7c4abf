import csv
import io
import json
import os
import time

import numpy as np
import pytest
import torch

from explorer.errors import InputError
from explorer.pipeline import saving
from explorer.training import finetune as ft

TINY_TRAIN = ft.LabelledData(
    (
        "attention is great",
        "tokens are lovely",
        "i love this course",
        "what a great model",
        "i hate this",
        "tokens are awful",
        "this is terrible",
        "what a bad model",
    )
    * 3,
    (1, 1, 1, 1, 0, 0, 0, 0) * 3,
)
TINY_VALIDATION = ft.LabelledData(("a great course", "a terrible course"), (1, 0))


def csv_bytes(rows, header=("text", "label"), encoding="utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    if header:
        writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def test_bundled_dataset_is_big_balanced_and_varied():
    train, validation = ft.bundled_dataset()
    total = len(train.texts) + len(validation.texts)
    assert total >= 600
    assert train.counts()["POSITIVE"] == train.counts()["NEGATIVE"]
    assert validation.counts()["POSITIVE"] == validation.counts()["NEGATIVE"] > 50
    texts = train.texts + validation.texts
    assert len(set(texts)) == total  # no duplicates
    assert not set(train.texts) & set(validation.texts)
    negated = [
        t
        for t in texts
        if any(
            w in t.lower().split()
            for w in ("not", "never", "wasn't", "isn't", "didn't", "can't", "won't", "wouldn't")
        )
    ]
    mixed = [t for t in texts if " but " in t]
    assert len(negated) >= 40 and len(mixed) >= 40


def test_csv_reader_accepts_labels_in_words_or_numbers_and_notes_skipped_rows():
    raw = csv_bytes(
        [
            ("good", "1"),
            ("bad", "0"),
            ("", "1"),
            ("fine", "Positive"),
            ("awful", "NEG"),
            ("nice", "pos"),
            ("poor", "negative"),
            ("great", "1"),
            ("worse", "0"),
        ]
    )
    data = ft.read_labelled_csv(raw)
    assert data.texts == ("good", "bad", "fine", "awful", "nice", "poor", "great", "worse")
    assert data.labels == (1, 0, 1, 0, 1, 0, 1, 0)
    assert data.notes == ("Skipped 1 row(s) with an empty text or label.",)


def test_csv_reader_accepts_a_byte_order_mark_and_a_sentence_column():
    raw = "\ufeff".encode() + csv_bytes([("a", "1"), ("b", "0")] * 4, header=("Sentence", "Label"))
    assert len(ft.read_labelled_csv(raw).texts) == 8


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (csv_bytes([("a", "1")], header=("review", "label")), "needs a 'text' column"),
        (csv_bytes([("a", "1")], header=("text", "stars")), "needs a 'text' column"),
        (csv_bytes([("good", "1")] * 10), "no NEGATIVE examples"),
        (csv_bytes([("bad", "negative")] * 10), "no POSITIVE examples"),
        (csv_bytes([("good", "1"), ("bad", "0")]), "Too few examples"),
        (csv_bytes([("good", "5 stars"), ("bad", "0")] * 5), "Unknown labels"),
        ("text,label\ncafé,1\n".encode("latin-1") + b"\xff\xfe,0\n", "not UTF-8"),
    ],
)
def test_csv_reader_rejects_bad_files_with_a_clear_message(raw, says):
    with pytest.raises(InputError, match=says):
        ft.read_labelled_csv(raw)


def test_huge_csv_is_sampled_with_a_note():
    raw = csv_bytes([(f"sentence number {i}", str(i % 2)) for i in range(100_000)])
    data = ft.read_labelled_csv(raw)
    assert len(data.texts) == ft.MAX_ROWS
    assert any("100,000 rows" in note for note in data.notes)
    assert abs(data.counts()["POSITIVE"] - data.counts()["NEGATIVE"]) < 500
    assert ft.read_labelled_csv(raw).texts == data.texts  # the sample is reproducible


def test_split_is_stratified_and_disjoint():
    data = ft.LabelledData(tuple(f"s{i}" for i in range(50)), tuple([1] * 30 + [0] * 20))
    train, validation = ft.split(data, 0.2)
    assert validation.counts() == {"NEGATIVE": 4, "POSITIVE": 6}
    assert len(train.texts) == 40 and not set(train.texts) & set(validation.texts)


def test_fine_tune_lowers_the_loss_changes_the_weights_and_saves_labels(tiny_bert_dir, tmp_path):
    from transformers import AutoModelForSequenceClassification

    output = tmp_path / "tuned"
    config = ft.TrainingConfig(epochs=4, learning_rate=1e-3, batch_size=8, seed=0)
    progress = ft.fine_tune(str(tiny_bert_dir), TINY_TRAIN, TINY_VALIDATION, output, config)
    assert progress.status == "done" and progress.output == str(output)
    losses = [loss for _, loss in progress.losses]
    assert len(losses) >= 8 and np.mean(losses[-3:]) < np.mean(losses[:3])
    assert [e["epoch"] for e in progress.evaluations] == [1.0, 2.0, 3.0, 4.0]
    tuned = AutoModelForSequenceClassification.from_pretrained(output)
    assert tuned.config.id2label == {0: "NEGATIVE", 1: "POSITIVE"}
    untrained = ft._build_model(str(tiny_bert_dir), config.seed)
    assert not torch.equal(tuned.classifier.weight, untrained.classifier.weight)
    metadata = json.loads((output / "explorer_training.json").read_text())
    assert metadata["train_examples"] == len(TINY_TRAIN.texts)
    assert [p.name for p in tmp_path.iterdir()] == ["tuned"]  # no temporary folders left


def test_a_stopped_job_saves_nothing(tiny_bert_dir, tmp_path):
    output = tmp_path / "stopped"
    job = ft.TrainingJob(
        str(tiny_bert_dir), TINY_TRAIN, TINY_VALIDATION, output, ft.TrainingConfig(epochs=50, batch_size=2)
    )
    job.start()
    deadline = time.monotonic() + 60
    while job.progress.step < 2 and not job.finished and time.monotonic() < deadline:
        job._thread.join(0.05)  # until training has really started (bounded)
    job.stop()
    job._thread.join(60)
    assert job.progress.status == "stopped"
    assert job.progress.step < job.progress.total_steps
    assert not output.exists() and list(tmp_path.iterdir()) == []


def test_a_failed_job_reports_and_saves_nothing(tmp_path):
    output = tmp_path / "failed"
    job = ft.TrainingJob(str(tmp_path / "no-such-model"), TINY_TRAIN, TINY_VALIDATION, output).start()
    job._thread.join(60)
    assert job.progress.status == "failed" and "Fine-tuning failed" in job.progress.message
    assert not output.exists()


def test_a_finished_job_scores_probes_before_and_after(tiny_bert_dir, tmp_path):
    job = ft.TrainingJob(
        str(tiny_bert_dir),
        TINY_TRAIN,
        TINY_VALIDATION,
        tmp_path / "probe",
        ft.TrainingConfig(epochs=3, learning_rate=1e-3, batch_size=8),
        probes=["a great course", "a terrible course"],
    ).start()
    job._thread.join(120)
    assert job.progress.status == "done"
    assert len(job.before) == len(job.after) == 2
    assert all(abs(sum(p) - 1) < 1e-5 for p in job.before + job.after)
    assert job.before != job.after


def test_save_atomically_replaces_an_existing_checkpoint(tiny_bert, tmp_path):
    folder = tmp_path / "copy"
    saving.save_atomically(tiny_bert.model, tiny_bert.tokenizer, folder, {"first": True})
    saving.save_atomically(tiny_bert.model, tiny_bert.tokenizer, folder, {"first": False})
    assert json.loads((folder / "explorer_training.json").read_text()) == {"first": False}
    assert [p.name for p in tmp_path.iterdir()] == ["copy"]


def test_save_new_keeps_a_taken_name_and_claims_the_next_free_one(tiny_bert, tmp_path):
    folder = tmp_path / "mine"
    first = saving.save_new(tiny_bert.model, tiny_bert.tokenizer, folder, {"first": True})
    second = saving.save_new(tiny_bert.model, tiny_bert.tokenizer, folder, {"first": False})
    third = saving.save_new(tiny_bert.model, tiny_bert.tokenizer, folder, {"third": True})
    assert (first, second, third) == (folder, tmp_path / "mine-2", tmp_path / "mine-3")
    assert json.loads((folder / "explorer_training.json").read_text()) == {"first": True}  # not replaced
    assert json.loads((second / "explorer_training.json").read_text()) == {"first": False}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "mine-2", "mine-3"]


def test_a_numbered_name_stays_within_the_name_limit(tmp_path):
    long = tmp_path / ("a" * saving.MAX_NAME)
    names = [p.name for p, _ in zip(saving.free_names(long), range(3), strict=False)]
    assert names == ["a" * 40, "a" * 38 + "-2", "a" * 38 + "-3"]


def test_two_fine_tunes_under_one_name_both_stay_and_the_second_says_where(tiny_bert_dir, tmp_path):
    """Issue 22: the second fine-tune under a taken name used to replace the first silently."""
    output = tmp_path / "twins"
    config = ft.TrainingConfig(epochs=1, learning_rate=1e-3, batch_size=8)
    jobs = []
    for _ in range(2):
        job = ft.TrainingJob(
            str(tiny_bert_dir), TINY_TRAIN, TINY_VALIDATION, output, config, probes=["good"], replace=False
        )
        job.start()._thread.join(120)
        jobs.append(job)
    first, second = (job.progress for job in jobs)
    assert first.status == second.status == "done"
    assert first.output == str(output) and second.output == str(tmp_path / "twins-2")
    assert "already exists" not in first.message
    assert "A checkpoint named 'twins' already exists" in second.message and "'twins-2'" in second.message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["twins", "twins-2"]
    assert len(jobs[1].after) == 1  # the probe was scored by the checkpoint read back from twins-2


def test_a_replacing_fine_tune_still_replaces(tiny_bert_dir, tmp_path):
    """The default classifier's rebuild (replace=True, the default) keeps its one folder."""
    output = tmp_path / "default"
    config = ft.TrainingConfig(epochs=1, learning_rate=1e-3, batch_size=8)
    for _ in range(2):
        progress = ft.fine_tune(str(tiny_bert_dir), TINY_TRAIN, TINY_VALIDATION, output, config)
        assert progress.output == str(output) and "already exists" not in progress.message
    assert [p.name for p in tmp_path.iterdir()] == ["default"]


def test_a_killed_saves_temporary_folders_are_removed_by_the_next_save(tiny_bert, tmp_path):
    """Issue 22: a fine-tune killed while saving left its `.<name>-xxxxxxxx` folder behind."""
    left = [tmp_path / ".killed-ab_cd123", tmp_path / ".other-old-1700000000000000000"]
    fresh = tmp_path / ".running-zz9_yy88"  # a save happening right now in another process
    unrelated = tmp_path / ".not-a-temporary-folder"
    for folder in [*left, fresh, unrelated]:
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(b"half written")
    hour_ago = time.time() - 3600
    for folder in [*left, unrelated]:
        os.utime(folder, (hour_ago, hour_ago))
    saving.save_atomically(tiny_bert.model, tiny_bert.tokenizer, tmp_path / "next", None)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [".not-a-temporary-folder", ".running-zz9_yy88", "next"]
    )
    assert saving.remove_stale_temporaries(tmp_path, older_than=-1) == [".running-zz9_yy88"]


def test_two_saves_at_the_same_moment_get_two_names(tiny_bert, tmp_path):
    """Two processes (here threads) saving under one name at once: one rename claims each name."""
    import threading

    folder, saved, barrier = tmp_path / "race", [], threading.Barrier(2)

    def save(mark: int) -> None:
        barrier.wait()
        saved.append(saving.save_new(tiny_bert.model, tiny_bert.tokenizer, folder, {"mark": mark}))

    threads = [threading.Thread(target=save, args=(mark,)) for mark in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(saved) == [folder, tmp_path / "race-2"]
    marks = {json.loads((p / "explorer_training.json").read_text())["mark"] for p in saved}
    assert marks == {1, 2}  # neither replaced the other
    assert sorted(p.name for p in tmp_path.iterdir()) == ["race", "race-2"]

"""AppTest for the Token classification (NER) page: the data, the alignment, the padded batch,
clear messages for a bad CSV, the fine-tune's progress and report, and "Use this model"."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from app_helpers import ROOT, TIMEOUT, messages_of
from streamlit.testing.v1 import AppTest

from explorer import ui
from explorer.pipeline import checkpoints
from explorer.training import ner
from explorer.training.finetune import Progress
from explorer.views import ner as ner_view

PAGE = str(ROOT / "pages" / "ner.py")


@pytest.fixture
def empty_cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path))
    return tmp_path


def open_page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception
    return at


def _tables(at: AppTest) -> list:
    return [frame.value for frame in at.dataframe] + [t.value for t in at.table]


def test_page_shows_data_alignment_and_batch(empty_cache):
    at = open_page()
    assert "No NER model is built yet" in messages_of(at)
    assert "No held-out name" in messages_of(at)
    counts = next(t for t in _tables(at) if "PER names" in t.columns)
    assert list(counts.index) == ["train", "validation", "test", "natural"]
    assert counts.loc["train", "sentences"] == len(ner.bundled_sentences()["train"])
    aligned = next(t for t in _tables(at) if "word id" in t.columns)
    assert aligned["label"].iloc[0] == "-100 (ignored)" and aligned["word id"].iloc[0] == "None"
    assert (aligned["label"] == "-100 (ignored)").sum() > 2  # [CLS], [SEP] and a later sub-token
    assert any("DataCollatorForTokenClassification(tokenizer)" in m.value for m in at.markdown)
    assert any("`labels` [4," in m.value for m in at.markdown)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"tokens,tags\nAnna lives in Paris,B-PER O B-LOC\n", "has 4 word(s) but 3 tag(s)"),
        (b"tokens,tags\nAnna lives,B-PERSON O\n", "unknown tag 'B-PERSON'"),
        (b"token,tag\nAnna,B-PER\nlives,\n", "has a word but no tag"),
    ],
)
def test_a_misaligned_csv_gets_a_clear_message(empty_cache, raw, message):
    at = open_page()
    at.radio(key="ner.source").set_value(ner_view.SOURCES[1]).run()
    at.get("file_uploader")[0].set_value(("bad.csv", raw, "text/csv")).run()
    assert not at.exception
    assert message in "\n".join(e.value for e in at.error)


class _FinishedJob:
    """A NerJob that has already finished (the page only reads these fields)."""

    def __init__(self, output: Path) -> None:
        scores = {"precision": 0.9, "recall": 0.8, "f1": 0.847, "entities": 50, "token_accuracy": 0.97}
        per_type = {"PER": {"precision": 1.0, "recall": 0.9, "f1": 0.947, "entities": 20}}
        self.progress = Progress(
            status="done",
            step=10,
            total_steps=10,
            losses=[(1, 2.0), (10, 0.3)],
            evaluations=[
                {
                    "epoch": 1.0,
                    "precision": 0.5,
                    "recall": 0.4,
                    "f1": 0.444,
                    "token_accuracy": 0.9,
                    "loss": 0.5,
                }
            ],
            test={"test": {**scores, "per_type": per_type}},
            message=f"Saved to {output}.",
            output=str(output),
        )
        self.config = ner.NerConfig(epochs=1)
        self._finished = threading.Event()
        self._finished.set()

    @property
    def finished(self) -> bool:
        return True

    def stop(self) -> None:
        pass


def test_fine_tune_button_shows_progress_report_and_use_this_model(empty_cache, monkeypatch):
    started = []

    def fake_start(data, epochs, learning_rate):
        started.append((len(data.train), epochs, learning_rate))
        return _FinishedJob(empty_cache / "checkpoints" / ner.NAME)

    monkeypatch.setattr(ner_view, "start_training", fake_start)
    at = open_page()
    at.button(key="ner.start").click().run()
    assert not at.exception
    defaults = ner.NerConfig()
    assert started == [(len(ner.bundled_sentences()["train"]), defaults.epochs, defaults.learning_rate)]
    assert "seqeval on the held-out sentences" in [s.value for s in at.subheader]
    overall = next(t for t in _tables(at) if "F1" in t.columns and "token accuracy" in t.columns)
    assert overall.loc["test", "F1"] == 0.847
    at.button(key="ner.use_new").click().run()
    assert at.session_state[ui.PICK_KEY] == f"saved:{ner.NAME}"


def test_a_built_model_is_described_with_its_scores(empty_cache):
    folder = empty_cache / "checkpoints" / ner.NAME
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    scores = {
        "precision": 0.9,
        "recall": 0.9,
        "f1": 0.9,
        "entities": 40,
        "token_accuracy": 0.98,
        "per_type": {},
    }
    metadata = {
        "train_examples": 520,
        "config": {"epochs": 6},
        "seconds": 61.0,
        "validation_scores": {"f1": 0.95},
        "held_out": {"natural": scores},
    }
    (folder / checkpoints.TRAINING_METADATA).write_text(json.dumps(metadata))
    at = open_page()
    assert any("natural (40 names) F1 0.900" in s.value for s in at.success)
    at.button(key="ner.use_saved").click().run()
    assert at.session_state[ui.PICK_KEY] == ner.REF


def test_a_good_upload_is_split_and_aligned(empty_cache):
    rows = "\n".join(f"Anna{i} lives in Paris .,B-PER O O B-LOC O" for i in range(12))
    at = open_page()
    at.selectbox(key="ner.sentence").set_value(25).run()  # a sentence the upload does not have
    at.radio(key="ner.source").set_value(ner_view.SOURCES[1]).run()
    at.get("file_uploader")[0].set_value(("good.csv", f"tokens,tags\n{rows}\n".encode(), "text/csv")).run()
    assert not at.exception and not at.error
    counts = next(t for t in _tables(at) if "PER names" in t.columns)
    assert counts.loc["train", "sentences"] == 10 and counts.loc["validation", "sentences"] == 2
    aligned = next(t for t in _tables(at) if "word id" in t.columns)
    assert "paris" in set(aligned["sub-token"])

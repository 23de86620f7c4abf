"""NER fine-tuning (explorer.training.ner, explorer.views.ner): the bundled data, the label alignment, the
collator's batches, a user's CSV, seqeval's scores, and a tiny fine-tune that pipeline() reads."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from explorer.errors import InputError
from explorer.pipeline import tasks
from explorer.training import ner
from explorer.views import ner as ner_view
from tests.conftest import _bert_config, _save, _wordpiece_tokenizer, load_local

DATA = Path(__file__).resolve().parents[2] / "explorer" / "data" / "ner_sentences.csv"


@pytest.fixture(scope="module")
def tokenizer():
    return _wordpiece_tokenizer()


# --- The bundled data -----------------------------------------------------------------------------


def _rows() -> list[dict[str, str]]:
    with DATA.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _names(row: dict[str, str]) -> set[str]:
    """Entity strings of one CSV row, read independently of explorer.training.ner: a B- tag opens a name,
    following I- tags of the same type extend it."""
    names, current = [], None
    for word, tag in zip(row["tokens"].split(" "), row["tags"].split(" "), strict=True):
        if tag.startswith("B-"):
            current = [word]
            names.append(current)
        elif tag.startswith("I-") and current is not None:
            current.append(word)
        else:
            current = None
    return {" ".join(n) for n in names}


def test_bundled_data_is_tagged_word_by_word_with_known_tags():
    rows = _rows()
    counts = {split: sum(1 for r in rows if r["split"] == split) for split in ner.SPLITS}
    assert counts["train"] >= 400 and counts["test"] >= 100 and 35 <= counts["natural"] <= 50
    for row in rows:
        assert len(row["tokens"].split(" ")) == len(row["tags"].split(" ")), row
        assert set(row["tags"].split(" ")) <= set(ner.TAGS), row
    data = ner.bundled_sentences()
    assert {k: len(v) for k, v in data.items()} == counts
    assert all(data["train"].entity_counts()[kind] >= 50 for kind in ner.ENTITY_TYPES)


def test_held_out_sentences_share_no_name_with_training():
    rows = _rows()
    train = set().union(*(_names(r) for r in rows if r["split"] == "train"))
    for split in ("test", "natural"):
        held = set().union(*(_names(r) for r in rows if r["split"] == split))
        assert len(held) >= 40
        assert not held & train, (split, held & train)
    view = ner_view.build_data(ner_view.training_data(ner_view.SOURCES[0], None))
    assert view.overlap.kind == "info" and "No held-out name" in view.overlap.text


def test_the_generator_writes_the_committed_file(tmp_path, monkeypatch):
    """The committed CSV is what explorer/data/ner_generate.py writes (deterministic)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("ner_generate", DATA.with_name("ner_generate.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.rows() == _rows()
    assert module.tagged("[Maria Lopez](PER) flew to [Lisbon](LOC).") == (
        ["Maria", "Lopez", "flew", "to", "Lisbon", "."],
        ["B-PER", "I-PER", "O", "O", "B-LOC", "O"],
    )


# --- Alignment and batches ------------------------------------------------------------------------


def test_first_sub_token_of_each_word_carries_its_label(tokenizer):
    words = ("Kowalski", "split", "Zanzibar", "words", ".")
    tags = ("B-ORG", "O", "B-PER", "O", "O")
    aligned = ner.alignment(tokenizer, words, tags)
    # by hand: [CLS], then each word's own pieces (label on the first), then [SEP]
    expected_tokens, expected_labels = ["[CLS]"], [-100]
    for word, tag in zip(words, tags, strict=True):
        pieces = tokenizer.tokenize(word)
        expected_tokens += pieces
        expected_labels += [ner.TAGS.index(tag)] + [-100] * (len(pieces) - 1)
    expected_tokens.append("[SEP]")
    expected_labels.append(-100)
    assert list(aligned.tokens) == expected_tokens
    assert list(aligned.labels) == expected_labels
    assert any(len(tokenizer.tokenize(w)) > 1 for w in words)  # the test covers a split word
    view = ner_view.build_alignment(tokenizer, words, tags)
    labelled = sum(1 for x in expected_labels if x != -100)
    assert f"**{labelled}** carry a label" in view.explanation.text
    assert "`[CLS]`, `[SEP]`" in view.explanation.text
    assert view.table.rows[0]["word id"] == "None" and view.table.rows[0]["label"] == "-100 (ignored)"


def test_align_labels_by_hand():
    assert ner.align_labels([None, 0, 0, 1, None], [3, 0]) == [-100, 3, -100, 0, -100]
    assert ner.align_labels([0, 1, 1, 1], [5, 6]) == [5, 6, -100, -100]


def test_collator_pads_labels_with_minus_100(tokenizer):
    data = ner.TaggedData(
        (("the", "quick", "fox"), ("I", "hate", "this", "so", "much", "!")),
        (("O", "O", "B-PER"), ("B-PER", "O", "O", "O", "O", "O")),
    )
    batch = ner.collate(tokenizer, data, count=2)
    lengths = [len(tokenizer(list(w), is_split_into_words=True)["input_ids"]) for w in data.words]
    assert batch.lengths == tuple(lengths)
    width = max(lengths)
    assert batch.shapes["input_ids"] == (2, width) and batch.shapes["labels"] == (2, width)
    short = batch.labels[lengths.index(min(lengths))]
    assert short[min(lengths) :] == (-100,) * (width - min(lengths))


# --- A user's CSV ---------------------------------------------------------------------------------


def _sentence_csv(extra: str = "") -> bytes:
    rows = ["tokens,tags"]
    for i in range(12):
        rows.append(f"Anna{i} lives in Paris .,B-PER O O B-LOC O")
    return ("\n".join(rows) + "\n" + extra).encode()


def test_a_good_csv_reads_in_both_layouts():
    by_sentence = ner.read_tagged_csv(_sentence_csv())
    lines = ["token,tag"]
    for i in range(12):
        lines += [f"Anna{i},B-PER", "lives,O", "in,O", "Paris,B-LOC", ".,O", ","]
    by_word = ner.read_tagged_csv("\n".join(lines).encode())
    assert by_word.words == by_sentence.words and by_word.tags == by_sentence.tags
    assert len(by_sentence) == 12 and by_sentence.entity_counts() == {
        "PER": 12,
        "ORG": 0,
        "LOC": 12,
        "MISC": 0,
    }


def test_word_and_tag_counts_that_differ_name_the_row():
    with pytest.raises(InputError, match=r"Row 14 has 3 word\(s\) but 2 tag\(s\)"):
        ner.read_tagged_csv(_sentence_csv("Bob went home,B-PER O\n"))
    with pytest.raises(InputError, match="Row 3 has a word but no tag"):
        ner.read_tagged_csv(b"token,tag\nAnna,B-PER\nlives,\n")


def test_unknown_tags_are_refused_with_the_known_ones():
    with pytest.raises(InputError, match=r"Row 14: unknown tag 'B-PERSON'.*B-MISC"):
        ner.read_tagged_csv(_sentence_csv("Bob left,B-PERSON O\n"))
    lower = ner.read_tagged_csv(_sentence_csv("bob left,b-per o\n"))
    assert lower.tags[-1] == ("B-PER", "O")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "empty"),
        (b"text,label\nhi,1\n", "columns are 'text', 'label'"),
        ("tokens,tags\ncaf\xe9,O\n".encode("latin-1"), "not UTF-8"),
        (b"tokens,tags\nAnna lives,B-PER O\n", "Too little to learn from"),
    ],
)
def test_bad_files_get_a_clear_message(raw, message):
    with pytest.raises(InputError, match=message):
        ner.read_tagged_csv(raw)


def test_an_i_tag_without_b_is_noted_and_html_stays_text():
    data = ner.read_tagged_csv(_sentence_csv("<script>alert(1)</script> Rome,O I-LOC\n"))
    assert any("I- tag(s) follow O" in n for n in data.notes)
    assert data.words[-1][0] == "<script>alert(1)</script>"
    assert ner.entities(("O", "I-LOC", "I-LOC", "B-PER", "I-ORG")) == [
        (1, "LOC", 3),
        (3, "PER", 4),
        (4, "ORG", 5),
    ]


# --- Scores ---------------------------------------------------------------------------------------


def test_scores_are_entity_level():
    truth = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    guess = [["B-PER", "O", "O", "B-LOC"], ["B-ORG", "O"]]
    # by hand: 3 true names, 3 predicted, 2 exactly right (the person lost its second word)
    result = ner.scores(truth, guess)
    assert result["precision"] == pytest.approx(2 / 3) and result["recall"] == pytest.approx(2 / 3)
    assert result["f1"] == pytest.approx(2 / 3) and result["entities"] == 3
    assert result["token_accuracy"] == pytest.approx(5 / 6)
    assert result["per_type"]["PER"]["f1"] == 0.0 and result["per_type"]["LOC"]["f1"] == 1.0


def test_word_predictions_read_the_first_sub_token():
    import numpy as np

    logits = np.zeros((1, 4, len(ner.TAGS)))  # [N, S, K]
    logits[0, 1, ner.TAGS.index("B-PER")] = 1  # word 0, first piece
    logits[0, 2, ner.TAGS.index("B-LOC")] = 1  # word 0, second piece: ignored
    logits[0, 3, 0] = 1  # word 1
    labels = np.array([[-100, ner.TAGS.index("B-PER"), -100, 0]])
    assert ner.word_predictions(logits, labels) == ([["B-PER", "O"]], [["B-PER", "O"]])


# --- A tiny fine-tune, read by pipeline() ---------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory) -> Path:
    import torch
    from transformers import BertModel

    torch.manual_seed(0)
    tokenizer = _wordpiece_tokenizer()
    return _save(BertModel(_bert_config(len(tokenizer))), tokenizer, tmp_path_factory.mktemp("ner-base"))


def _tiny_data() -> ner.TaggedData:
    words = (("I", "hate", "this", "fox", "."), ("the", "quick", "brown", "fox", "jumps"))
    tags = (("B-PER", "O", "O", "B-LOC", "O"), ("O", "B-ORG", "I-ORG", "O", "O"))
    return ner.TaggedData(words * 4, tags * 4)


def test_tiny_fine_tune_saves_a_token_classifier_pipeline_reads(tiny_encoder, tmp_path):
    from transformers import pipeline

    output = tmp_path / "tiny-ner"
    data = _tiny_data()
    progress = ner.fine_tune(
        str(tiny_encoder),
        data,
        data,
        output,
        ner.NerConfig(epochs=1, batch_size=4),
        held_out={"test": data},
    )
    assert progress.status == "done" and progress.total_steps == 2
    assert [s["padded shape"][0] for s in progress.batch_shapes] == [4, 4]
    assert set(progress.test) == {"test"} and progress.test["test"]["entities"] == 12
    loaded = load_local(output)  # the app's real loading path
    assert loaded.task.head == tasks.TOKEN_CLASSIFICATION
    assert loaded.model.config.id2label == dict(enumerate(ner.TAGS))
    found = pipeline("token-classification", model=str(output))("the quick brown fox")
    assert all(item["entity"] in ner.TAGS for item in found)
    metadata = ner.saved_metadata(output)
    assert metadata["labels"] == list(ner.TAGS) and metadata["held_out"]["test"]["entities"] == 12
    assert "accuracy" not in (metadata["validation_scores"] or {})  # the picker's sentence-classifier text
    saved = ner_view.saved_model(output)
    assert saved.built and saved.report.overall.rows[0]["names"] == 12


def test_a_job_stopped_before_it_starts_saves_nothing(tiny_encoder, tmp_path):
    data = _tiny_data()
    job = ner.NerJob(base=str(tiny_encoder), train=data, validation=data, output=tmp_path / "never")
    job.stop()
    job.start()
    job._finished.wait(60)
    assert job.progress.status == "stopped" and not (tmp_path / "never").exists()
    shown = ner_view.training_progress(job)
    assert shown.finished and shown.saved is None and not shown.can_stop


def test_build_default_is_skipped_when_the_model_is_there(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path))
    folder = tmp_path / "checkpoints" / ner.NAME
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    assert ner.build_default() == folder
    assert "already built" in capsys.readouterr().out


def test_a_job_runs_to_the_end_in_the_background(tiny_encoder, tmp_path):
    data = _tiny_data()
    output = tmp_path / "tiny-job"
    job = ner.NerJob(
        base=str(tiny_encoder),
        train=data,
        validation=data,
        output=output,
        config=ner.NerConfig(epochs=1, batch_size=8),
        held_out={"natural": data},
    )
    job.start()
    assert job._finished.wait(120)
    assert job.progress.status == "done", job.progress.message
    shown = ner_view.training_progress(job)
    assert shown.saved_ref == "saved:tiny-job" and shown.report.overall.rows[0]["split"] == "natural"
    assert shown.evaluations.rows[0]["epoch"] == 1 and shown.loss is not None

"""The Classification page's "Transfer learning, two ways" view (views.classification.build_transfer):
both ways side by side, the user's sentences and pairs predicted both ways, checked against
transformers' own pipeline, scikit-learn's predict_proba and a hand forward pass; bad input gets a
note, never an exception."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from explorer.pipeline import checkpoints
from explorer.training import finetune as ft
from explorer.training import transfer
from explorer.views import classification as cls
from explorer.views import settings
from tests.conftest import load_local

SENTENCES = [
    "A wonderful, warm film.",
    "Dull and far too long.",
    "<b>bold</b><script>alert(1)</script> 😀 你好",
]
PAIRS = "The meeting was moved. ||| The meeting changed day.\nI put the kettle on. ||| Penguins swim."


def _small(data: ft.LabelledData, per_label: int) -> ft.LabelledData:
    picked = [i for label in (0, 1) for i in [j for j, y in enumerate(data.labels) if y == label][:per_label]]
    return data.pick(sorted(picked))


@pytest.fixture(scope="module")
def heads(tiny_bert) -> dict[str, transfer.FeatureHead]:
    found = {}
    for kind in transfer.KINDS:
        train, held_out = transfer.bundled_split(kind)
        found[kind] = transfer.train_feature_head(tiny_bert, _small(train, 30), _small(held_out, 10), kind)
    return found


def _fine_tuned_copy(source: Path, folder: Path, kind: str, accuracy: float, labels: tuple[str, str]):
    """The tiny classifier saved as a classifier fine-tuned on the bundled split, with metadata as
    finetune writes it (its numbers made up: the view must show them, not recompute them)."""
    shutil.copytree(source, folder)
    config = json.loads((folder / "config.json").read_text())
    config["id2label"] = dict(enumerate(labels))
    config["label2id"] = {name: i for i, name in enumerate(labels)}
    (folder / "config.json").write_text(json.dumps(config))
    train, held_out = transfer.bundled_split(kind)
    scored = {"accuracy": accuracy, "f1": 0.5}
    meta = {
        "train_examples": len(train.labels),
        "validation_examples": len(held_out.labels),
        "validation": scored,
        "test": {**scored, "examples": len(held_out.labels)},
        "seconds": 42.0,
        "torch_threads": 2,
    }
    (folder / checkpoints.TRAINING_METADATA).write_text(json.dumps(meta))
    return load_local(folder)


@pytest.fixture(scope="module")
def fine_tuned(tiny_classifier_dir, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("fine-tuned")
    return {
        "sentences": _fine_tuned_copy(tiny_classifier_dir, root / "s", "sentences", 0.97, ft.LABELS),
        "pairs": _fine_tuned_copy(tiny_classifier_dir, root / "p", "pairs", 0.5833, ft.PAIR_LABELS),
    }


def _mean_pooled(folder: Path, firsts, seconds=None) -> np.ndarray:
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()

    def pooled(sentences):
        batch = tokenizer(list(sentences), padding=True, truncation=True, return_tensors="pt")
        with torch.inference_mode():
            vectors = model(**batch).last_hidden_state.double()  # [N, S, D]
        mask = batch["attention_mask"].double()[:, :, None]
        return ((vectors * mask).sum(1) / mask.sum(1)).numpy()  # [N, D]

    u = pooled(firsts)
    if seconds is None:
        return u
    v = pooled(seconds)
    return np.concatenate([u, v, np.abs(u - v), u * v], axis=1)


def test_both_ways_side_by_side_with_the_users_sentences(tiny_bert, tiny_bert_dir, heads, fine_tuned):
    from transformers import pipeline

    view = cls.build_transfer(tiny_bert, heads, fine_tuned, SENTENCES, PAIRS)
    assert [k.title for k in view.kinds] == [cls.TRANSFER_TITLES[k] for k in transfer.KINDS]
    assert "app's choice" in view.pooling.text  # the tiny BERT has no sentence-transformers files
    single = view.kinds[0]
    rows = {row["way"].split(":")[0]: row for row in single.comparison.rows}
    assert rows["fine-tuned"]["held-out accuracy"] == "97.0%"  # its metadata, not recomputed
    assert rows["fine-tuned"]["weights trained"] == f"{fine_tuned['sentences'].num_parameters:,}"
    assert rows["feature-based"]["held-out accuracy"] == f"{heads['sentences'].score.accuracy:.1%}"
    assert rows["feature-based"]["weights trained"] == "33"  # D = 32 weights and a bias
    assert "42 s" in single.sources.text and f"{tiny_bert.num_parameters:,}" in single.sources.text
    assert single.problem is None

    # the sidebar's sentences, both ways: the fine-tuned head as transformers' pipeline scores it,
    # the feature-based head as scikit-learn's predict_proba scores independently pooled vectors
    classifier = pipeline(
        "text-classification", model=str(fine_tuned["sentences"].resolved.location), device="cpu"
    )
    theirs = [{r["label"]: r["score"] for r in result} for result in classifier(SENTENCES, top_k=None)]
    expected = heads["sentences"].head.predict_proba(_mean_pooled(tiny_bert_dir, SENTENCES))  # [3, 2]
    assert [row["sentence"] for row in single.predictions.rows] == SENTENCES
    for row, pipe, probabilities in zip(single.predictions.rows, theirs, expected, strict=True):
        assert row["fine-tuned P(POSITIVE)"] == pytest.approx(pipe["POSITIVE"], abs=1e-3)
        assert row["fine-tuned label"] == max(pipe, key=pipe.get)
        assert row["feature-based P(POSITIVE)"] == pytest.approx(probabilities[1], abs=1e-3)
        assert row["feature-based label"] == ft.LABELS[int(probabilities.argmax())]


def test_pairs_are_predicted_both_ways(tiny_bert, tiny_bert_dir, heads, fine_tuned):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    view = cls.build_transfer(tiny_bert, heads, fine_tuned, SENTENCES, PAIRS)
    pairs = view.kinds[1]
    rows = {row["way"].split(":")[0]: row for row in pairs.comparison.rows}
    assert rows["fine-tuned"]["held-out accuracy"] == "58.3%"
    assert rows["feature-based"]["weights trained"] == "129"  # 4 x 32 pair features and a bias
    firsts = ["The meeting was moved.", "I put the kettle on."]
    seconds = ["The meeting changed day.", "Penguins swim."]
    folder = fine_tuned["pairs"].resolved.location
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    with torch.inference_mode():
        logits = model(**tokenizer(firsts, seconds, padding=True, return_tensors="pt")).logits
    by_hand = torch.softmax(logits.double(), -1).numpy()  # [2, 2]
    expected = heads["pairs"].head.predict_proba(_mean_pooled(tiny_bert_dir, firsts, seconds))
    assert len(pairs.predictions.rows) == 2
    for row, fine, feature in zip(pairs.predictions.rows, by_hand, expected, strict=True):
        assert row["fine-tuned P(PARAPHRASE)"] == pytest.approx(fine[1], abs=1e-3)
        assert row["feature-based P(PARAPHRASE)"] == pytest.approx(feature[1], abs=1e-3)


def test_the_recommendation_is_computed_from_the_numbers_shown(tiny_bert, heads, fine_tuned):
    view = cls.build_transfer(tiny_bert, heads, fine_tuned, SENTENCES, PAIRS)
    for kind, part in zip(transfer.KINDS, view.kinds, strict=True):
        fine, _ = transfer.fine_tuned_score(
            Path(fine_tuned[kind].resolved.location), kind, fine_tuned[kind].num_parameters
        )
        assert part.recommendation.text == transfer.recommend(heads[kind].score, fine).text


def test_missing_fine_tuned_classifiers_and_bad_pairs_get_notes(tiny_bert, heads, tmp_path, monkeypatch):
    monkeypatch.setattr(transfer, "fine_tuned_folder", lambda kind: tmp_path / "absent")
    view = cls.build_transfer(tiny_bert, heads, {"sentences": None, "pairs": None}, [], "no separator here")
    single, pairs = view.kinds
    assert len(single.comparison.rows) == 1 and single.predictions is None
    assert single.problem is not None and "make models" in single.problem.text
    assert "Only the feature-based" in single.recommendation.text
    assert pairs.problem is not None and pairs.problem.kind == "warning" and "pair box" in pairs.problem.text
    assert pairs.predictions is None


def test_the_toggle_is_carried_by_a_link():
    params = {p.name: p for p in settings.link_params(cls.Settings)}
    assert params["transfer"].kind == "bool" and params["transfer"].key == "cls.transfer"
    assert cls.Settings().transfer is False  # off until the user opens it: the section trains a head


@pytest.mark.bundled
def test_the_page_section_opens_on_the_bundled_minilm():
    """The Classification page with the toggle on (AppTest): both kinds drawn, a recommendation
    each, no exception; what it says about the pair classifier depends on whether it is built."""
    from streamlit.testing.v1 import AppTest

    from explorer import ui

    root = Path(__file__).resolve().parents[2]
    at = AppTest.from_file(str(root / "streamlit_app.py"), default_timeout=600)
    at.session_state[ui.TEXT_KEY] = "What a lovely surprise.\nI want my money back."
    at.run()
    at.switch_page("pages/classification.py").run()
    assert not at.exception
    at.toggle(key="cls.transfer").set_value(True).run()
    assert not at.exception
    subheaders = [h.value for h in at.subheader]
    assert all(title in subheaders for title in cls.TRANSFER_TITLES.values())
    notes = [n.value for kind in ("success", "info") for n in getattr(at, kind)]
    assert sum("Use the **" in n or "Only the feature-based" in n for n in notes) == 2
    assert any("1_Pooling/config.json" in c.value for c in at.caption)  # MiniLM pools as its files say
    assert any("What a lovely surprise." in str(frame.value) for frame in at.table)

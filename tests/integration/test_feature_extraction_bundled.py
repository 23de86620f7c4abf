"""Feature extraction on the bundled MiniLM (real weights, offline): the app's sentence embeddings
equal sentence-transformers' ``encode()``, the course's two sentences are at cosine 0.172, and the
Pipeline page draws the section."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.pipeline.checkpoints import MINILM, resolve
from explorer.pipeline.encoding import encode_batch
from explorer.pipeline.loading import load_checkpoint
from explorer.pipeline.run import run_model
from explorer.pipeline.tasks import TaskInputs
from explorer.pipeline.tasks import feature_extraction as fe
from explorer.views.tasks import feature_extraction as fe_view
from tests.view_contents import note_texts

COURSE = ("I've been waiting for a HuggingFace course my whole life.", "I hate this so much!")
UNUSUAL = ("<script>alert(1)</script>", "🙂 漢字 שלום", "", "word " * 400)  # the last: > 256 tokens


@pytest.fixture(scope="module")
def minilm():
    return load_checkpoint(resolve(MINILM))


@pytest.fixture(scope="module")
def reference(minilm):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(minilm.resolved.location, device="cpu")


def _view(loaded, sentences, labels="education, politics, business"):
    encoding = encode_batch(loaded.batch_tokenizer, list(sentences), max_length=loaded.max_tokens)
    return fe_view.build(loaded, encoding, run_model(loaded, encoding), TaskInputs(labels=labels))


def _measured(loaded) -> fe.BundledVectors:
    """The bundled vectors, computed here if no test did yet (what the page's button does)."""
    return fe_view.bundled_vectors(loaded, fe.pooling_for(loaded))


def test_minilm_pools_as_its_files_say(minilm):
    pooling = fe.pooling_for(minilm)
    assert (pooling.mode, pooling.normalize, pooling.from_checkpoint, pooling.max_tokens) == (
        "mean",
        True,
        True,
        256,
    )


def test_sentence_embeddings_equal_sentence_transformers_encode(minilm, reference):
    sentences = [*COURSE, *UNUSUAL]
    ours = fe.sentence_embeddings(minilm, sentences, batch_size=4)  # [N, 384]
    theirs = reference.encode(sentences, batch_size=4)
    assert ours.shape == theirs.shape == (len(sentences), 384)
    assert np.abs(ours - theirs).max() <= 1e-5


def test_the_course_sentences_at_cosine_0172(minilm):
    embeddings = fe.sentence_embeddings(minilm, COURSE)
    assert float(embeddings[0] @ embeddings[1]) == pytest.approx(0.172, abs=5e-4)
    view = _view(minilm, COURSE)
    assert view.similarity_table.rows[0]["cosine"] == pytest.approx(0.172, abs=5e-4)
    assert "(0.172)" in view.similarity_note.text
    assert view.check.kind == "success" and "the same" in view.check.text
    assert view.mask.conclusion.kind == "success"
    assert "modules.json lists Transformer → Pooling → Normalize" in view.pooling.text
    assert view.embeddings_title == "Sentence embeddings: shape [2, 384]"


def test_nearest_bundled_sentences_equal_a_search_with_sentence_transformers(minilm, reference):
    from explorer.training.finetune import bundled_dataset

    train, validation = bundled_dataset()
    texts = train.texts + validation.texts
    corpus = reference.encode(list(texts), batch_size=64)  # [N, 384], normalised
    queries = reference.encode(list(COURSE))  # [2, 384]
    bundled = _measured(minilm)
    assert np.abs(bundled.vectors - corpus).max() <= 1e-5
    view = _view(minilm, COURSE)
    rows = view.embedding_map.nearest.rows
    for b in range(2):
        scores = corpus @ queries[b]  # [N]
        expected = [texts[k] for k in np.argsort(-scores, kind="stable")[: fe.NEAREST]]
        found = [row["nearest bundled sentence"] for row in rows if row["sentence"].startswith(f"{b} ·")]
        assert found == expected
    assert "once for this checkpoint" in view.embedding_map.timing.text


def test_a_long_sentence_is_cut_where_sentence_transformers_cuts(minilm, reference):
    view = _view(minilm, (COURSE[0], UNUSUAL[-1]))
    assert any("max_seq_length" in text and "256" in text for text in note_texts(view))
    shown = view.embeddings.rows[1]
    assert shown["real tokens"] == 256
    expected = reference.encode([UNUSUAL[-1]])[0]
    assert [shown[f"dim {d}"] for d in range(fe_view.SHOWN_DIMENSIONS)] == [
        round(float(expected[d]), 4) for d in range(fe_view.SHOWN_DIMENSIONS)
    ]


def test_the_pipeline_page_draws_feature_extraction(monkeypatch):
    from tests.app.app_helpers import rerun, start

    monkeypatch.setattr(fe, "_BUNDLED_CACHE", type(fe._BUNDLED_CACHE)())  # not computed yet
    at = start("\n".join(COURSE), ref=MINILM)
    assert not at.exception
    headers = [h.value for h in at.subheader]
    assert "Sentence embeddings: shape [2, 384]" in headers
    assert "Candidate labels, the embedding way" in headers
    assert len(at.get("plotly_chart")) == 2  # similarity, labels; the map waits for its button
    text = " ".join(m.value for m in at.markdown)
    assert "0.172" in text
    assert any("the same token vectors" in s.value for s in at.success)
    at.button(key="home.features.map_button").click()
    at = rerun(at)
    assert not at.exception
    assert len(at.get("plotly_chart")) == 3
    assert any("s to compute, once for this checkpoint" in c.value for c in at.caption)

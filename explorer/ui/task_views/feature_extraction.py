"""Draw explorer.views.tasks.feature_extraction.View: step ③ for a checkpoint without a task head."""

from __future__ import annotations

import streamlit as st

from explorer.ui.widgets import chart, note, notes, table
from explorer.views.tasks.feature_extraction import EmbeddingMap, LabelPart, MaskDemo, View

KEY = "home.features"  # widget and chart keys of this section


def _mask(part: MaskDemo) -> None:
    note(part.intro)
    if part.table is not None:
        table(part.table)
    note(part.conclusion)


def _labels(part: LabelPart) -> None:
    note(part.intro)
    notes(part.notes)
    if part.heatmap is not None:
        chart(part.heatmap, key=f"{KEY}.labels", filename="label-similarity")
    if part.table is not None:
        table(part.table)


def _map(part: EmbeddingMap) -> None:
    note(part.intro)
    if part.compute is not None and st.button(part.offer or "Compute", key=f"{KEY}.map_button"):
        with st.spinner("Embedding the bundled sentences (once for this checkpoint)…"):
            part.compute()
        st.rerun()
    if part.figure is not None:
        chart(part.figure, key=f"{KEY}.map", filename="embedding-map")
    note(part.timing)
    if part.nearest is not None:
        st.markdown("**Nearest bundled sentences** (semantic search, by cosine similarity)")
        table(part.nearest)


def draw(view: View) -> None:
    """The token vectors and their check, the pooling, the sentence embeddings and their similarity,
    the mask's role in pooling, then the labels (embedding way) and the embedding map."""
    note(view.intro)
    note(view.check)
    note(view.pooling)
    notes(view.notes)
    st.subheader(view.embeddings_title)
    table(view.embeddings)
    st.subheader(view.similarity_title)
    if view.similarity is not None:
        chart(view.similarity, key=f"{KEY}.similarity", filename="sentence-similarity")
    note(view.similarity_note)
    if view.similarity_table is not None:
        table(view.similarity_table)
    st.subheader("Padding and the attention mask, in pooling")
    _mask(view.mask)
    st.subheader("Candidate labels, the embedding way")
    _labels(view.labels)
    st.subheader("Your sentences among the bundled ones")
    _map(view.embedding_map)

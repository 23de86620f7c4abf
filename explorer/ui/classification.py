"""Drawing helpers of the Classification page (pages/classification.py): the classifier's three
steps, sentence pairs, the fine-tuning form and transfer learning, each from its frozen View."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from explorer.errors import ExplorerError
from explorer.ui.routing import show_error
from explorer.ui.state import use_checkpoint
from explorer.ui.widgets import note, notes, settings, table, widget
from explorer.views import classification as cls


def draw_pairs(rows: Sequence[Any]) -> None:
    """Pairs in three columns: the pair and its tokens, the logits, the probabilities."""
    for row in rows:
        columns = st.columns(3)
        columns[0].markdown(f"**A:** {row.first}  \n**B:** {row.second}")
        columns[0].html(row.chips_html)
        columns[0].caption(row.segments)
        table(row.logits, where=columns[1])
        columns[2].html(row.bars_html)
        columns[2].markdown(row.predicted)


def draw_no_head(nh: Any) -> None:
    """A checkpoint without a classification head: why, and a button to the default classifier."""
    note(nh.warning)
    if nh.default_ref:
        st.button(nh.default_label, on_click=use_checkpoint, args=(nh.default_ref,), key="cls.use_default")
    note(nh.hint)


def draw_classifier(c: Any) -> None:
    """The three steps per sentence, the check against pipeline() and the CSV download."""
    for column, step in zip(st.columns(3), c.steps, strict=True):
        column.subheader(step.title)
        column.caption(step.caption)
    for row in c.sentences:
        columns = st.columns(3)
        columns[0].text(row.text)
        columns[0].html(row.chips_html)
        table(row.logits, where=columns[1])
        if row.bars_html:
            columns[2].html(row.bars_html)
        note(row.score, where=columns[2])
        columns[2].markdown(row.predicted)
    st.subheader(c.check.title)
    if c.check.table:
        table(c.check.table)
    note(c.check.verdict)
    st.download_button(c.csv_label, c.csv, file_name="probabilities.csv", mime="text/csv", key="cls.csv")


def _training_data(source: str) -> Any | None:
    """The data to fine-tune on: bundled, or a CSV the user uploads (None when it cannot be read)."""
    try:
        upload = None
        if source == cls.SOURCES[1]:
            upload = st.file_uploader(cls.UPLOAD_LABEL, type=["csv"], key="cls.upload")
        return cls.training_data(source, upload.getvalue() if upload else None)
    except ExplorerError as problem:
        show_error(problem)
        return None


def fine_tune_form(sentences: Sequence[str], pairs_text: str) -> None:
    """The data, the training settings and the start button (the job runs in the background)."""
    source = widget(cls.Settings, "source")
    training_data = _training_data(source)
    if training_data is None:
        return
    notes(training_data.notes)
    top, columns = st.container(), st.columns(3)
    widget(cls.Settings, "epochs", where=columns[0])
    widget(cls.Settings, "lr", where=columns[1], format_func=str)  # widget passes None otherwise
    widget(cls.Settings, "name", where=columns[2])
    chosen = settings(cls.Settings)
    training = cls.build_training(training_data, chosen)
    top.markdown(training.counts)
    if training_data.is_pairs:
        top.markdown(cls.PAIR_TOKENIZATION)
    with top.expander("Look at the data"):
        st.dataframe(list(training.data.rows), hide_index=True)
    st.caption(training.estimate)
    running = (job := st.session_state.get("cls.job")) is not None and not job.finished
    if st.button("Start fine-tuning", type="primary", disabled=running, key="cls.start"):
        try:
            probes: Sequence[str] = sentences
            probe_pairs: Sequence[str] | None = None
            if training_data.is_pairs:
                probes, probe_pairs = cls.probe_pairs(pairs_text)
            st.session_state["cls.job"] = cls.start_training(training_data, chosen, probes, probe_pairs)
            st.session_state["cls.announced"] = False
        except ExplorerError as problem:
            show_error(problem)


def draw_transfer(tv: Any) -> None:
    """Transfer learning, two ways: per kind, the comparison, the advice and the predictions."""
    note(tv.pooling)
    for part in tv.kinds:
        st.subheader(part.title)
        table(part.comparison)
        note(part.recommendation)
        note(part.problem)
        note(part.sources)
        if part.predictions is not None:
            st.markdown(f"**{part.predictions_title}**")
            table(part.predictions)

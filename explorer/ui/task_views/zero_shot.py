"""Draw explorer.views.tasks.zero_shot.View: step ③ of the Pipeline page for an NLI checkpoint."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from explorer.ui.widgets import chart, note, notes, table
from explorer.views.common import Note, Table
from explorer.views.tasks.zero_shot import PairChips, View


def draw(view: View) -> None:
    notes(view.notes)
    if not view.sentences:
        return
    notes(view.steps)
    note(view.check)
    if view.heatmap is not None:
        chart(view.heatmap, key="home.zero_shot.heatmap", filename="zero-shot-scores")
    note(view.layout)
    for b, sentence in enumerate(view.sentences):
        draw_scored(
            f"Sentence {b}",
            sentence.sentence,
            best=sentence.best,
            bars_html=sentence.bars_html,
            details="its pairs and every logit",
            chips=sentence.chips,
            rows=sentence.pairs,
            more=sentence.more_pairs,
        )


def draw_scored(
    title: str,
    text: str,
    *,
    best: Note,
    bars_html: str,
    details: str,
    chips: Sequence[PairChips],
    rows: Table,
    more: str = "",
) -> None:
    """One sentence (or prompt) against its labels (or choices): the text, the winner and the bars;
    in an expander, each pair as the model receives it (``more`` says what is not drawn) and the table."""
    st.markdown(f"**{title}**")
    st.text(text)
    note(best)
    st.html(bars_html)
    with st.expander(f"{title}: {details}"):
        for pair in chips:
            st.markdown(pair.caption)
            st.html(pair.html)
        if more:
            st.caption(more)
        table(rows)

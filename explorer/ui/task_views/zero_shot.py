"""Draw explorer.views.tasks.zero_shot.View: step ③ of the Pipeline page for an NLI checkpoint."""

from __future__ import annotations

import streamlit as st

from explorer.ui.widgets import chart, note, notes, table
from explorer.views.tasks.zero_shot import View


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
        st.markdown(f"**Sentence {b}**")
        st.text(sentence.sentence)
        note(sentence.best)
        st.html(sentence.bars_html)
        with st.expander(f"Sentence {b}: its pairs and every logit"):
            for chips in sentence.chips:
                st.markdown(chips.caption)
                st.html(chips.html)
            if sentence.more_pairs:
                st.caption(sentence.more_pairs)
            table(sentence.pairs)

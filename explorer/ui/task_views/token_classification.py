"""Step ③ for a token classifier: explorer.views.tasks.token_classification.View drawn."""

from __future__ import annotations

import streamlit as st

from explorer.ui.widgets import note, notes, table
from explorer.views.tasks.token_classification import View


def draw(view: View) -> None:
    notes(view.notes)
    note(view.intro)
    note(view.strategy_note)
    st.html(view.legend_html)
    for section in view.sentences:
        st.markdown(section.title)
        st.caption("Each token's label and its probability (hover a token for its position and characters).")
        st.html(section.chips_html)
        if section.highlight_html is not None:
            st.caption("The entities in the sentence:")
            st.html(section.highlight_html)
        if section.entities_table is not None:
            table(section.entities_table)
        notes(section.notes)
    note(view.check)
    if view.check_table is not None:
        table(view.check_table)

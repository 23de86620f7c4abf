"""Draw explorer.views.tasks.multiple_choice.View: step ③ of the Pipeline page for a multiple-choice head."""

from __future__ import annotations

import streamlit as st

from explorer.ui.widgets import note, notes, table
from explorer.views.tasks.multiple_choice import View


def draw(view: View) -> None:
    notes(view.notes)
    if not view.prompts:
        return
    notes(view.steps)
    note(view.layout)
    for b, prompt in enumerate(view.prompts):
        st.markdown(f"**Prompt {b}**")
        st.text(prompt.prompt)
        note(prompt.best)
        st.html(prompt.bars_html)
        with st.expander(f"Prompt {b}: its rows and logits"):
            for chips in prompt.chips:
                st.markdown(chips.caption)
                st.html(chips.html)
            table(prompt.choices)

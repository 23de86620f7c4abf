"""Draw explorer.views.tasks.question_answering.View: step ③ of the Pipeline page for a question-answering
checkpoint (the question widget is drawn above it by explorer.ui.tasks)."""

from __future__ import annotations

import streamlit as st

from explorer.ui.widgets import chart, note, notes, table
from explorer.views.tasks.question_answering import View


def _picked_window(view: View) -> int:
    count = len(view.figures)
    if count < 2:
        return 0
    return st.selectbox(
        "Window to draw",
        options=list(range(count)),
        index=view.best_window,
        format_func=lambda w: view.window_labels[w],
        key=f"home.qa.window.{count}",
        help="The context is cut into overlapping windows; the answer's window is picked first.",
    )


def draw(view: View) -> None:
    note(view.removed)
    if view.problem is not None:
        note(view.problem)
        return
    note(view.answer)
    st.html(view.answer_html)
    notes(view.steps)
    if view.windows is not None:
        st.markdown("**Each window's best span**")
        table(view.windows)
    window = _picked_window(view)
    chart(view.figures[window], key=f"home.qa.logits.{window}", filename=f"qa-logits-window-{window + 1}")
    if view.parts is not None:
        st.markdown("**The spans that make the answer's score** (same text, ignoring case: scores added)")
        table(view.parts)
    if view.others is not None:
        st.markdown(view.others_title)
        table(view.others)

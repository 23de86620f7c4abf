"""The guided lesson's flow: a step presets text, checkpoint and its page's Settings, opens the
page, and a banner on that page explains what is on screen (explorer.app.lessons computes it)."""

from __future__ import annotations

import streamlit as st

from explorer.errors import ExplorerError
from explorer.pipeline import checkpoints
from explorer.ui.cache import load, mask_effect, pipeline
from explorer.ui.routing import page_file, page_spec
from explorer.ui.state import PICK_KEY, SELECTION_KEY, TEXT_KEY, read_sentences
from explorer.views.settings import from_state, presets

LESSON_STEP_KEY = "lesson.step"
LESSON_GOTO_KEY = "lesson.goto"


def start_step(index: int) -> None:
    """Button callback: preset the text, checkpoint and page settings of a lesson step, and ask
    the entry file to open its page (a callback cannot switch pages itself)."""
    from explorer.app.lessons import LESSON

    step = LESSON[index]
    ref = step.ref if checkpoints.entry_for(step.ref) else checkpoints.DEFAULT_REF
    st.session_state[LESSON_STEP_KEY] = index
    st.session_state[TEXT_KEY] = step.text
    st.session_state[PICK_KEY] = ref
    if step.settings is not None:
        st.session_state.update(
            {key: value for key, value in presets(step.settings, ref).items() if value is not None}
        )
    st.session_state[LESSON_GOTO_KEY] = step.page


def end_lesson() -> None:
    st.session_state.pop(LESSON_STEP_KEY, None)


def go_to_pending_page() -> None:
    """Open the page a lesson step asked for (called by the entry file before the page runs)."""
    goto = st.session_state.pop(LESSON_GOTO_KEY, None)
    if goto:
        st.switch_page(page_file(goto))


def lesson_banner(page) -> None:
    """On the page of the current lesson step: its explanation of what is on screen, its
    question, and the way on."""
    from explorer.app.lessons import LESSON, Facts

    index = st.session_state.get(LESSON_STEP_KEY)
    if index is None or page_spec(page).path != LESSON[index].page:
        return
    step = LESSON[index]
    with st.container(border=True):
        st.markdown(f"**🎓 Lesson, step {index + 1} of {len(LESSON)}: {step.title}**")
        current = st.session_state.get(SELECTION_KEY)
        try:
            if current is None or current.ref is None:
                raise ExplorerError(current.error if current else "Pick a checkpoint.")
            sentences = read_sentences(current.text)
            loaded = load(current.ref)
            encoding, run = pipeline(
                current.ref, sentences, hidden_states=step.hidden_states, attentions=step.attentions
            )
            cls = page_spec(page).settings
            settings = from_state(cls, st.session_state, current.ref) if cls else None
            facts = Facts(
                loaded=loaded,
                encoding=encoding,
                run=run,
                settings=settings,
                mask_effect=lambda: mask_effect(current.ref, sentences),
            )
            st.markdown(step.explain(facts))
        except ExplorerError as problem:
            st.markdown(f"This step explains what the page shows once it can run: {problem}")
        st.markdown(f"**Try it:** {step.question}")
        columns = st.columns([1, 1, 4])
        if index > 0:
            columns[0].button("← Previous", on_click=start_step, args=(index - 1,), key="lesson.previous")
        if index + 1 < len(LESSON):
            columns[1].button(
                "Next step →", on_click=start_step, args=(index + 1,), type="primary", key="lesson.next"
            )
        columns[2].button("End the lesson", on_click=end_lesson, key="lesson.end")

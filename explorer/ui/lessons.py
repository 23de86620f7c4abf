"""The guided lesson's flow: a step presets text, checkpoint and its page's Settings, opens the
page, and a banner on that page explains what is on screen (explorer.app.lessons computes it)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from explorer.errors import ExplorerError
from explorer.pipeline import checkpoints
from explorer.ui.cache import load, mask_effect, pipeline
from explorer.ui.routing import page_file, page_spec
from explorer.ui.state import PICK_KEY, SELECTION_KEY, TEXT_KEY, read_sentences
from explorer.views.settings import from_state, presets

LESSON_STEP_KEY = "lesson.step"
LESSON_GOTO_KEY = "lesson.goto"
# The student's own text and checkpoint before the lesson started, given back when it ends.
LESSON_KEPT_KEY = "lesson.kept"


def _facts(step, ref: str, sentences) -> Any:
    """What the step's page shows for ``sentences`` on ``ref`` (one cached run, as the page's)."""
    from explorer.app.lessons import Facts

    encoding, run = pipeline(ref, sentences, hidden_states=step.hidden_states, attentions=step.attentions)
    return Facts(loaded=load(ref), encoding=encoding, run=run, known=step.known)


def _opening_settings(step, ref: str) -> Any:
    """The step's page settings: as declared, or computed from what the model does on its text
    (the head it found); as declared when that cannot run."""
    if step.opens is None or step.settings is None:
        return step.settings
    try:
        return step.opens(_facts(step, ref, read_sentences(step.text)), step.settings)
    except ExplorerError:
        return step.settings


def start_step(index: int) -> None:
    """Button callback: preset the text, checkpoint and page settings of a lesson step, and ask
    the entry file to open its page (a callback cannot switch pages itself). The first step
    started keeps the student's own text and checkpoint, for :func:`end_lesson` to give back."""
    from explorer.app.lessons import LESSON

    step = LESSON[index]
    ref = step.ref if checkpoints.entry_for(step.ref) else checkpoints.DEFAULT_REF
    if LESSON_STEP_KEY not in st.session_state:
        st.session_state[LESSON_KEPT_KEY] = (
            st.session_state.get(TEXT_KEY),
            st.session_state.get(PICK_KEY),
        )
    st.session_state[LESSON_STEP_KEY] = index
    st.session_state[TEXT_KEY] = step.text
    st.session_state[PICK_KEY] = ref
    settings = _opening_settings(step, ref)
    if settings is not None:
        st.session_state.update(
            {key: value for key, value in presets(settings, ref).items() if value is not None}
        )
    st.session_state[LESSON_GOTO_KEY] = step.page


def end_lesson() -> None:
    """Button callback: the lesson ends, and the student's own text and checkpoint come back."""
    st.session_state.pop(LESSON_STEP_KEY, None)
    text, ref = st.session_state.pop(LESSON_KEPT_KEY, (None, None))
    if text is not None:
        st.session_state[TEXT_KEY] = text
    if ref is not None:
        st.session_state[PICK_KEY] = ref


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
                known=step.known,
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
        columns[2].button(
            "End the lesson",
            on_click=end_lesson,
            key="lesson.end",
            help="Gives back the text and checkpoint you had before the lesson started.",
        )

"""Lessons: a guided walk through the pipeline for a class, one page and one idea per step."""

import streamlit as st

from explorer import ui
from explorer.app import lessons
from explorer.app.lessons import LESSON
from explorer.pipeline import checkpoints

ui.ensure_routed()
st.title("Lessons")
st.markdown(
    "A guided tour of the course's pipeline for a class: **tokenizer → IDs → padding and masks → model → "
    "hidden states → attention → logits → probabilities → fine-tuning**. Each step opens the right page with "
    "its text and settings, explains what is on the screen for the model in use, and asks a question to try. "
    "Students can change the text at any time: the explanation follows."
)
for index, step in enumerate(LESSON):
    page = next(spec for spec in ui.PAGES if spec.path == step.page)
    columns = st.columns([5, 1])
    columns[0].markdown(
        f"**{index + 1}. {step.title}** · {page.title} page · “{step.text.splitlines()[0][:60]}”"
    )
    columns[1].button(
        "Start here" if index else "Start",
        on_click=ui.start_step,
        args=(index,),
        key=f"lessons.start.{index}",
        type="primary" if index == 0 else "secondary",
    )
if not checkpoints.entry_for(lessons.CLASSIFIER):
    st.warning(
        f"Steps {lessons.steps_using(lessons.CLASSIFIER)} use the classifier fine-tuned here, which is not built "
        "yet (they show the encoder meanwhile): run `make models` once, or fine-tune one on the Classification page."
    )

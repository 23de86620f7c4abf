"""Tokenizer lab: the first step of the pipeline, made visible for the shared text and checkpoint.
Everything shown comes from explorer.views.tokenizer.build."""

import streamlit as st

from explorer import ui
from explorer.errors import ExplorerError
from explorer.pipeline import checkpoints
from explorer.views import tokenizer as lab_view
from explorer.views.tokenizer import Settings

st.title("Tokenizer lab")
st.markdown(lab_view.INTRO)
selection = ui.selection()
with st.expander("Sentence pairs (a second sentence for each line)", expanded=False):
    ui.widget(Settings, "pairs")
st.subheader("Batch settings")
columns = st.columns(4)
ui.widget(Settings, "padding", where=columns[0])
ui.widget(Settings, "truncation", where=columns[1])
ui.widget(Settings, "side", where=columns[3])
try:
    sentences = ui.read_sentences(selection.text)
    loaded = ui.load(selection.ref)
    limits = lab_view.limits(loaded)  # the model's limit is the default, and the help says why
    ui.widget(Settings, "max_length", ref=selection.ref, where=columns[2], **limits.widget)
    view = lab_view.build(
        loaded,
        sentences,
        ui.settings(Settings, selection.ref),
        ui.trained_tokenizer,
        lambda: ui.tokenizer(checkpoints.MINILM),
        lambda: ui.tokenizer(checkpoints.SMOLLM2),
    )
except ExplorerError as problem:
    ui.show_error(problem)
    ui.stop()
ui.notes(view.notes)
tab_tokens, tab_steps, tab_batch, tab_families = st.tabs(lab_view.TABS)
with tab_tokens:
    st.markdown(view.scheme)
    if view.specials:
        st.markdown("**Special tokens** (yellow chips) of this tokenizer:")
        ui.table(view.specials)
    st.markdown(lab_view.CHIPS_LEGEND)
    for sentence in view.sentences:
        st.markdown(sentence.header)
        st.text(sentence.text)
        if sentence.pair:
            st.text(sentence.pair)
        st.html(sentence.chips_html)
        ui.note(sentence.truncation)
with tab_steps:
    picked = ui.widget(Settings, "step_sentence", options=view.step_options, format_func=view.step_label)
    step = view.steps[picked]
    st.markdown("**1. Split into tokens:** `tokens = tokenizer.tokenize(text)`")
    st.html(step.tokens_html)
    for text, code in step.blocks:
        st.markdown(text)
        if code is not None:
            st.code(code, language=None, wrap_lines=True)
    ui.note(step.verdict)
with tab_batch:
    st.markdown(view.batch.heading)
    ui.note(view.batch.segments)
    st.html(view.batch.grid_html)
    ui.note(view.batch.cut)
    for column, download in zip(st.columns(2), view.batch.downloads, strict=True):
        ui.download(download, where=column)
with tab_families:
    st.markdown(lab_view.FAMILIES_INTRO)
    ui.widget(Settings, "family_text")
    ui.widget(Settings, "corpus")
    ui.widget(Settings, "vocab", format_func=str)  # ui.widget passes None to select_slider otherwise
    ui.notes(view.families.notes)
    for family in view.families.results:
        st.markdown(family.header)
        st.html(family.chips_html)
    if view.families.sizes:
        st.subheader("How the vocabulary size changes the splits")
        ui.table(view.families.sizes)
        ui.notes(view.families.size_notes)

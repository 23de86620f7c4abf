"""Inside the model: the config as a card, the hidden states layer by layer, and the head classes."""

import streamlit as st

from explorer import ui
from explorer.views import model as model_view

st.title("Inside the model")
st.markdown(
    "Step 2 of the pipeline. The model turns input IDs into one vector per token (the **hidden states**), "
    "layer after layer; a **head** on top turns the last layer's vectors into the task's scores."
)

data = ui.page_data(hidden_states=True)
ref = data.selection.ref
# The sentence picker and the two comparisons' toggles are drawn below; their values are already in
# session state. The comparisons run (cached) only while their toggle is on.
view = model_view.build(
    data.loaded,
    data.encoding,
    data.run,
    ui.settings(model_view.Settings),
    mask_effect=lambda: ui.mask_effect(ref, data.sentences),
    random_comparison=lambda: ui.random_comparison(ref, data.sentences),
)

st.header("The checkpoint's config")
left, right = st.columns([3, 2])
ui.table(view.config.table, where=left)
ui.note(view.config.sentence, where=right)

st.header("Hidden states, layer by layer")
ui.note(view.encoder_only)
ui.note(view.missing)
if view.hidden is not None:
    ui.note(view.hidden.sentence)
    ui.table(view.hidden.table)

if view.trajectory is not None:
    ui.sentence_picker(model_view.Settings, data.encoding)
    path = view.trajectory
    ui.note(path.limit_note)
    ui.chart(path.norms_figure, key="model.norms")
    ui.chart(path.change_figure, key="model.change")
    ui.note(path.caption)
    st.download_button(
        "Download the vector lengths (CSV)",
        path.csv,
        file_name="hidden-state-norms.csv",
        mime="text/csv",
        key="model.csv",
    )

st.header("What each head class returns for this batch")
ui.table(view.heads.table)
ui.note(view.heads.caption)

st.header("The attention mask's effect")
mask = view.mask
ui.note(mask.offer)
ui.widget(model_view.Settings, "mask")
ui.note(mask.missing)
if mask.effect is not None:
    ui.note(mask.intro)
    ui.table(mask.table)
    ui.note(mask.with_mask)
    ui.note(mask.without_mask)

st.header("Architecture versus checkpoint")
ui.table(view.architecture.table)
ui.note(view.architecture.sentence)
st.subheader("The same config with random weights")
ui.note(view.random.offer)
ui.widget(model_view.Settings, "random")
if view.random.comparison is not None:
    ui.note(view.random.sentence)
    ui.table(view.random.table)

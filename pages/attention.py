"""Attention: heatmaps per layer and head, bertviz views offline, and attention step by step."""

import streamlit as st

from explorer import ui
from explorer.views import attention

S = attention.Settings

st.title("Attention")
st.markdown(
    "In every layer, each token (a **query**) looks at the other tokens (the **keys**) and takes a "
    "weighted mix of their values. Each row of an attention matrix holds one query's weights; they sum to 1."
)

data = ui.page_data(hidden_states=True, attentions=True)
sentence = ui.sentence_picker(S, data.encoding)
part = None
if attention.is_encoder_decoder(data.run):  # T5, BART: encoder, decoder and cross-attention
    part = ui.widget(S, "part")
choices = attention.choices(data.run, part)
controls = st.columns([2, 2, 3])
ui.widget(S, "layer", where=controls[0], options=choices.layers)
ui.widget(S, "head", where=controls[1], options=choices.heads)
ui.widget(S, "aggregate", where=controls[2])
toggles = st.columns(3)
ui.widget(S, "hide_special", where=toggles[0])
ui.widget(S, "show_padding", where=toggles[1])
view = attention.build(data.loaded, data.encoding, data.run, ui.settings(S, sentence=sentence))
ui.note(view.numbering)
if view.heading:
    st.header(view.heading)

ui.notes(view.mask_notes)
heatmap = view.heatmap
if heatmap.figure is None:
    ui.note(heatmap.empty)
else:
    ui.chart(heatmap.figure, key="att.heatmap", filename=heatmap.filename)
    for column, download in zip(st.columns(2), heatmap.downloads, strict=True):
        ui.download(download, where=column)
    st.caption("The camera icon above the chart saves it (PNG or SVG: see Display in the sidebar).")

st.header("All layers and heads at a glance")
ui.chart(view.entropy_figure, key="att.entropy")
ui.note(view.entropy_caption)

st.header("bertviz")
ui.widget(S, "bertviz")
bertviz = view.bertviz
if bertviz.windowed:
    ui.widget(S, "window", low=bertviz.window_low, high=bertviz.window_high)
ui.notes(bertviz.notes)
if bertviz.html is not None:
    st.iframe(bertviz.html, height=bertviz.height)
    ui.note(bertviz.caption)

st.header("Scaled dot-product attention, step by step")
ui.note(view.steps_note)
if view.steps is not None:
    steps = view.steps
    ui.notes(steps.intro_notes)
    for column, (name, figure) in zip(st.columns(3), steps.projections, strict=True):
        ui.chart(figure, key=f"att.step.{name}", where=column)
    ui.note(steps.scores_text)
    ui.chart(steps.scores_figure, key="att.step.scores")
    ui.note(steps.scale_text)
    ui.chart(steps.masked_figure, key="att.step.masked")
    ui.note(steps.softmax_text)
    ui.chart(steps.weights_figure, key="att.step.weights")
    ui.note(steps.agreement)
    ui.note(steps.mix_text)
    ui.chart(steps.output_figure, key="att.step.output")
    ui.note(steps.multi_head)

st.header("Where position comes from")
ui.note(view.position_note)
position = view.position
if position is not None:
    ui.notes(position.notes)
    own, original = st.columns(2)
    if position.figure is not None:
        ui.chart(position.figure, key="att.position", where=own)
    ui.chart(position.sinusoidal_figure, key="att.position.sinusoidal", where=original)
    ui.note(position.sinusoidal_text)

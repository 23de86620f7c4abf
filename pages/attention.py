"""Attention: heatmaps per layer and head, bertviz views offline, and attention step by step.

Two fragments (st.fragment): changing the layer, head or what the heatmap shows reruns only the
heatmap and step by step; changing bertviz's view reruns only bertviz. The rest runs with the page."""

import streamlit as st

from explorer import ui
from explorer.views import attention

S = attention.Settings
BERTVIZ_LAYER_KEY = "att.bertviz_drawn_layer"  # the layer a one-layer bertviz view shows (else None)

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
overview = attention.overview(data.loaded, data.encoding, data.run, ui.settings(S, sentence=sentence))
ui.note(overview.numbering)
if overview.heading:
    st.header(overview.heading)
ui.notes(overview.mask_notes)


@st.fragment
def layer_and_head(data, choices, sentence: int) -> None:
    """The chosen layer and head: its heatmap, and step by step once opened."""
    controls = st.columns([2, 2, 3])
    layer = ui.widget(S, "layer", where=controls[0], options=choices.layers)
    ui.widget(S, "head", where=controls[1], options=choices.heads)
    ui.widget(S, "aggregate", where=controls[2])
    toggles = st.columns(3)
    ui.widget(S, "hide_special", where=toggles[0])
    ui.widget(S, "show_padding", where=toggles[1])
    drawn = st.session_state.get(BERTVIZ_LAYER_KEY)
    if drawn is not None and drawn != layer:  # bertviz below shows one layer only (a long input)
        st.session_state[BERTVIZ_LAYER_KEY] = None
        st.rerun()  # the whole page, bertviz included
    ui.keep_link_current("attention")
    one = attention.head(data.loaded, data.encoding, data.run, ui.settings(S, sentence=sentence))
    heatmap = one.heatmap
    if heatmap.figure is None:
        ui.note(heatmap.empty)
    else:
        ui.chart(heatmap.figure, key="att.heatmap", filename=heatmap.filename)
        for column, download in zip(st.columns(2), heatmap.downloads, strict=True):
            ui.download(download, where=column)
        st.caption("The camera icon above the chart saves it (PNG or SVG: see Display in the sidebar).")

    st.header("Scaled dot-product attention, step by step")
    if not ui.widget(S, "steps"):
        return
    ui.note(one.steps_note)
    steps = one.steps
    if steps is None:
        return
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


@st.fragment
def bertviz(data, sentence: int) -> None:
    """bertviz's head or model view (its own Layer menu: the page's layer is where it opens)."""
    st.header("bertviz")
    ui.widget(S, "bertviz")
    settings = attention.clamp(data.run, ui.settings(S, sentence=sentence))
    view = attention.bertviz_view(data.run, data.encoding, settings)
    if view.windowed:
        ui.widget(S, "window", low=view.window_low, high=view.window_high)
    ui.keep_link_current("attention")
    ui.notes(view.notes)
    st.session_state[BERTVIZ_LAYER_KEY] = settings.layer if view.follows_layer else None
    if view.html is not None:
        st.iframe(view.html, height=view.height)
        ui.note(view.caption)


layer_and_head(data, choices, sentence)

st.header("All layers and heads at a glance")
ui.chart(overview.entropy_figure, key="att.entropy")
ui.note(overview.entropy_caption)

bertviz(data, sentence)

st.header("Where position comes from")
if ui.widget(S, "position"):
    ui.note(overview.position_note)
    position = overview.position
    if position is not None:
        ui.notes(position.notes)
        own, original = st.columns(2)
        if position.figure is not None:
            ui.chart(position.figure, key="att.position.own", where=own)
        ui.chart(position.sinusoidal_figure, key="att.position.sinusoidal", where=original)
        ui.note(position.sinusoidal_text)

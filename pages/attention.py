"""Attention: heatmaps per layer and head, bertviz views offline, and attention step by step.

Two fragments (st.fragment): changing the layer, head or what the heatmap shows reruns only the
heatmap and step by step; changing bertviz's view reruns only bertviz. The rest runs with the page."""

import streamlit as st

from explorer import ui
from explorer.views import attention

S = attention.Settings
BERTVIZ_LAYER_KEY = "att.bertviz_drawn_layer"  # the layer a one-layer bertviz view shows (else None)

st.title("Attention")
st.markdown(attention.INTRO)

data = ui.page_data(hidden_states=True, attentions=True)
encoding, run = data.encoding, data.run
assert encoding is not None and run is not None  # page_data ran the batch
sentence = ui.sentence_picker(S, encoding)
part = ui.widget(S, "part") if attention.is_encoder_decoder(run, encoding) else None  # T5, BART
choices = attention.choices(run, encoding, part)
overview = attention.overview(data.loaded, encoding, run, ui.settings(S, sentence=sentence))
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
    for name, where in zip(("hide_special", "show_padding"), st.columns(3)[:2], strict=True):
        ui.widget(S, name, where=where)
    if st.session_state.get(BERTVIZ_LAYER_KEY) not in (None, layer):  # bertviz shows one layer only
        st.session_state[BERTVIZ_LAYER_KEY] = None
        st.rerun()  # the whole page, bertviz included
    ui.keep_link_current("attention")
    one = attention.head(data.loaded, data.encoding, data.run, ui.settings(S, sentence=sentence))
    ui.note(one.heatmap.empty)  # why nothing is drawn, if so
    if one.heatmap.figure is not None:
        ui.chart(one.heatmap.figure, key="att.heatmap", filename=one.heatmap.filename)
        for column, download in zip(st.columns(2), one.heatmap.downloads, strict=True):
            ui.download(download, where=column)
        st.caption("The camera icon above the chart saves it (PNG or SVG: see Display in the sidebar).")

    st.header("Scaled dot-product attention, step by step")
    if not ui.widget(S, "steps"):
        return
    ui.note(one.steps_note)
    if (steps := one.steps) is None:
        return
    ui.notes(steps.intro_notes)
    for column, (name, figure) in zip(st.columns(3), steps.projections, strict=True):
        ui.chart(figure, key=f"att.step.{name}", where=column)
    for text, figure, key in steps.walk:
        ui.note(text)
        if figure is not None:
            ui.chart(figure, key=key)


@st.fragment
def bertviz(data, sentence: int) -> None:
    """bertviz's head or model view (its own Layer menu: the page's layer is where it opens)."""
    st.header("bertviz")
    ui.widget(S, "bertviz")
    settings = attention.clamp(data.run, data.encoding, ui.settings(S, sentence=sentence))
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
ui.note(overview.numbering)  # below the heatmap, which stays above the fold
ui.chart(overview.entropy_figure, key="att.entropy")
ui.note(overview.entropy_caption)

bertviz(data, sentence)

st.header("Where position comes from")
if ui.widget(S, "position"):
    ui.note(overview.position_note)
    if (position := overview.position) is not None:
        ui.notes(position.notes)
        own, original = st.columns(2)
        if position.figure is not None:
            ui.chart(position.figure, key="att.position.own", where=own)
        ui.chart(position.sinusoidal_figure, key="att.position.sinusoidal", where=original)
        ui.note(position.sinusoidal_text)

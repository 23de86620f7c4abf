"""A layer, step by step: the input embeddings and one whole layer from the model's own weights."""

import streamlit as st

from explorer import ui
from explorer.views import layer

S = layer.Settings

st.title("A layer, step by step")
st.markdown(
    "The model's own weights, applied one operation at a time to one sentence: first the input "
    "**embeddings**, then one whole **layer** (attention, residual connections, norms, feed-forward). "
    "Each step names its operation and the shape of the tensor it makes, and each result is compared "
    "with the hidden state the model itself returned."
)

data = ui.page_data(hidden_states=True)
encoding, run = data.encoding, data.run
assert encoding is not None and run is not None  # page_data runs the batch unless asked not to
controls = st.columns(2)
with controls[0]:
    sentence = ui.sentence_picker(S, encoding)
ui.widget(S, "layer", where=controls[1], options=layer.layer_options(run), format_func=layer.layer_label)
view = layer.build(data.loaded, encoding, run, ui.settings(S, sentence=sentence))
ui.note(view.unsupported)
if (chosen := view.chosen) is not None:  # one heatmap at a time: the step picked here
    ui.widget(S, "step", options=view.step_options, default=view.settings.step, format_func=view.step_label)
    ui.note(chosen.text)
    ui.note(view.window)
    ui.chart(chosen.figure, key=f"layer.figure.{chosen.value}")


def draw(section) -> None:
    """One section: what it is, every step with its shape, their widths to scale, the check."""
    ui.notes(section.notes)
    ui.table(section.overview)
    st.html(section.widths_html)
    ui.note(section.agreement)


if view.embeddings is not None:
    st.header("The input embeddings")
    draw(view.embeddings)
if view.layer is not None:
    st.header(f"Layer {view.settings.layer}, step by step")
    draw(view.layer)

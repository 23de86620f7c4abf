"""Inside the model: the config as a card, the hidden states layer by layer, and the head classes."""

import pandas as pd
import streamlit as st

from explorer import exports, figures, ui
from explorer import model_info as info
from explorer.loading import HEAD_DESCRIPTIONS
from explorer.views import model as model_settings

st.title("Inside the model")
st.markdown(
    "Step 2 of the pipeline. The model turns input IDs into one vector per token (the **hidden states**), "
    "layer after layer; a **head** on top turns the last layer's vectors into the task's scores."
)

data = ui.page_data(hidden_states=True)
loaded, encoding, run = data.loaded, data.encoding, data.run

card = info.config_card(loaded)
st.header("The checkpoint's config")
left, right = st.columns([3, 2])
left.table(pd.DataFrame(card.rows(), columns=["", "value"]).set_index(""))
right.markdown(
    f"`{card.head_class}` loaded a `{card.model_class}`: {HEAD_DESCRIPTIONS[card.head_class]}.\n\n"
    f"Each of the {card.layers} layers has {card.heads} attention heads of size {card.head_dim} "
    f"({card.heads} × {card.head_dim} = {card.hidden_size} = the hidden size), then a feed-forward "
    f"network that widens each vector to {card.intermediate_size} and back."
)

st.header("Hidden states, layer by layer")
B, S = encoding.shape
rows = info.hidden_state_rows(run, encoding)
st.markdown(
    f"`output_hidden_states=True` returns {len(rows)} tensors: the embeddings, then the output of each of "
    f"the {len(rows) - 1} layers. Each has the shape **[batch, sequence, hidden] = [{B}, {S}, {card.hidden_size}]**."
)
st.table(
    pd.DataFrame(
        [
            {
                "hidden_states[i]": i,
                "what": r.name,
                "shape": str(list(r.shape)),
                "mean vector length": round(r.mean_norm, 2),
            }
            for i, r in enumerate(rows)
        ]
    ).set_index("hidden_states[i]")
)

sentence = ui.sentence_picker(model_settings.Settings, encoding)
path = info.trajectory(run, encoding, sentence)
if len(path.tokens) > 64:
    st.caption(f"The charts show the first 64 of {len(path.tokens)} tokens.")
shown = slice(0, 64)
tokens = path.tokens[shown]
ui.chart(
    figures.layer_lines(
        path.norms[:, shown], tokens, "Length of each token's vector through the layers", "vector norm"
    ),
    key="model.norms",
)
ui.chart(
    figures.matrix_heatmap(
        path.change[:, shown],
        [f"layer {i}" for i in range(1, path.change.shape[0] + 1)],
        [figures.label(t, token) for t, token in enumerate(tokens)],
        "How much each layer turns each token's vector (cosine similarity with the layer before)",
        "token",
        "layer",
        diverging=False,
        value_name="cosine",
    ),
    key="model.change",
)
st.caption("1 means the layer kept the vector's direction; lower values mean the layer changed it more.")
st.download_button(
    "Download the vector lengths (CSV)",
    lambda: exports.trajectory_csv(path),
    file_name="hidden-state-norms.csv",
    mime="text/csv",
    key="model.csv",
)

st.header("What each head class returns for this batch")
st.table(
    pd.DataFrame(
        [
            {
                "head class": h.head_class,
                "output": h.output,
                "shape": str(list(h.shape)),
                "axes": h.axes,
                "this checkpoint": "✔ loaded" if h.loaded else "",
            }
            for h in info.head_shapes(loaded, encoding)
        ]
    ).set_index("head class")
)
st.caption(
    "The same body with a different head: a classifier reads one vector per sentence, language-model "
    "heads score every vocabulary token at every position."
    + (
        " This classifier's labels: " + ", ".join(str(v) for v in loaded.config.id2label.values()) + "."
        if loaded.head_class == "AutoModelForSequenceClassification"
        else ""
    )
)

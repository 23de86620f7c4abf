"""Attention: heatmaps per layer and head, bertviz views offline, and attention step by step."""

import numpy as np
import streamlit as st

from explorer import exports, figures, ui
from explorer import model_info as info
from explorer.attention import attention_steps, attention_view, head_entropy
from explorer.bertviz_html import bertviz_html, plan_view
from explorer.errors import ExplorerError
from explorer.views import attention as attention_settings

st.title("Attention")
st.markdown(
    "In every layer, each token (a **query**) looks at the other tokens (the **keys**) and takes a "
    "weighted mix of their values. Each row of an attention matrix holds one query's weights; they sum to 1."
)

data = ui.page_data(hidden_states=True, attentions=True)
selection, loaded, encoding, run = data.selection, data.loaded, data.encoding, data.run

L, _, H, S, _ = run.attentions.shape
causal = loaded.is_decoder
sentence = ui.sentence_picker(attention_settings.Settings, encoding)
controls = st.columns([2, 2, 3])
layer = controls[0].selectbox("Layer", range(L), key="att.layer")
head = controls[1].selectbox("Head", range(H), key="att.head")
aggregate = controls[2].radio(
    "Show", ["head", "head average", "layer average"], horizontal=True, key="att.aggregate"
)
toggles = st.columns(3)
hide_special = toggles[0].toggle("Hide special tokens", key="att.hide_special")
show_padding = toggles[1].toggle("Show padding positions", value=True, key="att.show_padding")

if causal:
    st.info(
        "This is a decoder: each token may only look at itself and the tokens before it. The grey upper "
        "triangle is the **causal mask**: those weights are exactly 0."
    )
if not encoding.attention_mask[sentence].all():
    st.caption("Grey columns are padding positions: the attention mask gives them a weight of exactly 0.")

view = attention_view(
    run,
    encoding,
    sentence=sentence,
    layer=layer,
    head=head,
    aggregate=aggregate,
    hide_special=hide_special,
    show_padding=show_padding,
    causal=causal,
)
if view.matrix.size == 0:
    st.info("No tokens left to show: turn 'Hide special tokens' off.")
else:
    figure = figures.attention_heatmap(view.matrix, view.positions, view.tokens, view.title)
    ui.chart(figure, key="att.heatmap", filename=f"attention-layer{layer}-head{head}")
    downloads = st.columns(2)
    downloads[0].download_button(
        "Download this matrix (CSV)",
        lambda: exports.attention_csv(view),
        file_name="attention.csv",
        mime="text/csv",
        key="att.csv",
    )
    downloads[1].download_button(
        "Download this matrix (JSON)",
        lambda: exports.attention_json(view),
        file_name="attention.json",
        mime="application/json",
        key="att.json",
    )
    st.caption("The camera icon above the chart saves it (PNG or SVG: see Display in the sidebar).")

st.header("All layers and heads at a glance")
ui.chart(
    figures.entropy_grid(head_entropy(run, encoding, sentence), "Attention entropy per head (low = focused)"),
    key="att.entropy",
)
st.caption(
    "Entropy of each head's attention rows, averaged over the real tokens: a head with low entropy puts its "
    "weight on a few tokens (the previous token, [SEP], the same word…) and is often worth a look."
)

st.header("bertviz")
real = encoding.attention_mask[sentence].astype(bool)
real_tokens = [t for t, keep in zip(encoding.tokens[sentence], real, strict=True) if keep]
kind = st.radio("View", ["head view", "model view", "off"], horizontal=True, key="att.bertviz")
if kind != "off":
    view_kind = "head" if kind == "head view" else "model"
    T = len(real_tokens)
    start = 0
    plan = plan_view(view_kind, L, H, T, layer=layer)
    if plan.stop - plan.start < T:
        width = plan.stop - plan.start
        start = st.slider("Window start (token)", 0, T - width, 0, key="att.window")
        plan = plan_view(view_kind, L, H, T, layer=layer, start=start)
    if plan.note:
        st.info(plan.note)
    attentions = run.attentions[:, sentence][:, :, real][..., real]  # [L, H, T, T]
    try:
        page = bertviz_html(view_kind, attentions, real_tokens, plan, layer=layer)
    except ExplorerError as problem:
        ui.show_error(problem)
    else:
        height = 120 + 24 * (plan.stop - plan.start) if view_kind == "head" else 80 + 100 * len(plan.layers)
        st.iframe(page.html, height=min(height, 2400))
        st.caption(
            (
                "Head view: lines connect each token to the tokens it attends to; click a head's colour to "
                "show or hide it, hover a token to focus it."
                if view_kind == "head"
                else "Model view: one small head view per layer (rows) and head (columns); click one to enlarge it."
            )
            + f" Drawn offline, {page.payload_bytes / 1024:,.0f} KB of attention data."
        )

st.header("Scaled dot-product attention, step by step")
try:
    steps = attention_steps(loaded, run, encoding, layer=layer, head=head, sentence=sentence)
except ExplorerError as problem:
    ui.show_error(problem)
    ui.stop()
WINDOW = 48
shown = slice(0, min(S, WINDOW))
labels = [figures.label(p, t) for p, t in enumerate(steps.tokens)][shown]
dims = [str(i) for i in range(steps.head_dim)]
if S > WINDOW:
    st.caption(f"Computed on all {S} positions; the matrices below show the first {WINDOW}.")
st.markdown(
    f"Layer {layer}, head {head}, sentence {sentence}. The input is **{steps.input_note}**, shape "
    f"[{S}, {steps.hidden_size}]."
)
kv_note = (
    f" (grouped-query attention: query head {head} shares key/value head {steps.key_value_head} with "
    f"{steps.heads // steps.key_value_heads - 1} other heads)"
    if steps.key_value_heads != steps.heads
    else ""
)
st.markdown(
    f"**1. Project** the input with this head's learned weights into queries Q, keys K and values V, each "
    f"[{S}, {steps.head_dim}]{kv_note}."
    + (" Q and K are then **rotated by position** (rotary embeddings)." if steps.rotary else "")
)
columns = st.columns(3)
for column, (name, matrix) in zip(columns, (("Q", steps.q), ("K", steps.k), ("V", steps.v)), strict=True):
    ui.chart(
        figures.matrix_heatmap(matrix[shown], labels, dims, name, "dimension", "token"),
        key=f"att.step.{name}",
        where=column,
    )
st.markdown(f"**2. Scores** Q·Kᵀ: how well each query matches each key, [{S}, {S}].")
ui.chart(
    figures.matrix_heatmap(steps.scores[shown, shown], labels, labels, "Q·Kᵀ", "key", "query"),
    key="att.step.scores",
)
st.markdown(
    f"**3. Scale** by 1/√d = 1/√{steps.head_dim} = {steps.scale:.4f}, so the scores do not grow with the "
    "head size, and **4. mask**: positions a query may not see (padding"
    + (", and every later token in a decoder" if causal else "")
    + ") get −∞."
)
ui.chart(
    figures.matrix_heatmap(
        steps.masked[shown, shown], labels, labels, "Q·Kᵀ / √d, masked (grey = −∞)", "key", "query"
    ),
    key="att.step.masked",
)
st.markdown("**5. Softmax** each row: the weights are positive and sum to 1.")
ui.chart(
    figures.attention_heatmap(
        np.where(steps.allowed, steps.weights, np.nan)[shown, shown],
        list(range(S))[shown],
        steps.tokens[shown],
        "softmax(Q·Kᵀ / √d + mask)",
    ),
    key="att.step.weights",
)
difference = steps.max_abs_difference
verdict = "the same" if difference < 1e-5 else "different"
(st.success if difference < 1e-5 else st.warning)(
    f"Compared with the attention the model itself returned for layer {layer}, head {head}: maximum absolute "
    f"difference **{difference:.2e}** — {verdict}."
)
st.markdown(f"**6. Mix the values**: weights × V gives this head's output, [{S}, {steps.head_dim}].")
ui.chart(
    figures.matrix_heatmap(steps.output[shown], labels, dims, "weights · V", "dimension", "token"),
    key="att.step.output",
)
st.markdown(
    f"**Multi-head.** The layer runs all {steps.heads} heads side by side: the projections are split into "
    f"{steps.heads} slices of {steps.head_dim} dimensions ([{S}, {steps.hidden_size}] → [{steps.heads}, {S}, "
    f"{steps.head_dim}]), each head attends on its own, and their outputs are concatenated back to "
    f"[{S}, {steps.heads} × {steps.head_dim} = {steps.heads * steps.head_dim}] before an output projection."
)

st.header("Where position comes from")
position = info.position_info(loaded)
st.markdown(f"**{position.kind}.** {position.explanation}")
if position.similarity is not None:
    P = position.similarity.shape[0]
    ui.chart(
        figures.matrix_heatmap(
            position.similarity,
            [str(i) for i in range(P)],
            [str(i) for i in range(P)],
            "Cosine similarity of the position vectors",
            "position",
            "position",
            value_name="cosine",
        ),
        key="att.position",
    )
elif position.angles is not None:
    P, F = position.angles.shape
    ui.chart(
        figures.matrix_heatmap(
            np.cos(position.angles),
            [str(i) for i in range(P)],
            [str(f) for f in range(F)],
            "cos(position × frequency) of the rotary embedding",
            "frequency (fast → slow)",
            "position",
            value_name="cos",
        ),
        key="att.position",
    )

"""Generation: next-token probabilities, generation step by step, the causal mask and the logit
lens for causal language models; fill-mask and the masking recipe for masked language models."""

import streamlit as st

from explorer import ui
from explorer.errors import ExplorerError
from explorer.pipeline import checkpoints
from explorer.ui import generation as draw
from explorer.views import generation
from explorer.views.generation import Settings as S

st.title("Generation")
ui.note(generation.PAGE_INTRO)
data = ui.page_data(run=False)
loaded, ref = data.loaded, data.selection.ref
intro = generation.intro(loaded, data.sentences)

if not intro.causal:
    ui.note(intro.not_causal)
    st.button(intro.use_decoder, on_click=ui.use_checkpoint, args=(checkpoints.SMOLLM2,), key="gen.use_smol")
else:
    ui.note(intro.seq2seq)
    ui.note(intro.prompt_caption)
    chat = ui.widget(S, "chat", disabled=not intro.chat_available, help=intro.chat_help)
    chat_slot = st.container()
    st.header("The next token")
    controls = st.columns(3)
    for column, name in zip(controls, ("temperature", "top_k", "top_p"), strict=True):
        ui.widget(S, name, where=column)
    mode_column, seed_column = st.columns([2, 1])  # one row: the chart stays above the fold
    mode = ui.widget(S, "mode", where=mode_column)
    ui.widget(S, "seed", where=seed_column, disabled=mode == generation.GREEDY)
    next_token_slot = st.container()  # drawn after the buttons below, for the text including new tokens

    st.header("Generate, one token at a time")
    steps = st.session_state.setdefault(f"gen.steps.{ref}.{chat}.{intro.prompt}", [])
    buttons = st.columns([1, 2, 1])
    count = ui.widget(S, "count", where=buttons[1])
    settings = ui.settings(S)
    draw.step_buttons(loaded, intro.prompt, steps, count, settings, buttons)
    try:
        with st.spinner("Scoring the vocabulary…"):
            view = generation.build(loaded, intro.prompt, settings, steps).decoder
    except ExplorerError as problem:
        with chat_slot:
            ui.show_error(problem)
        ui.stop()
    draw.draw_decoder(view, chat_slot, next_token_slot)
    why_encoding, why_position = generation.attribution_input(loaded, view)
    ui.attribution_section(
        S, loaded, why_encoding, "next token", position=why_position, heading="Why this next token?"
    )
    if view.causal_mask:  # decoder-only models (an encoder-decoder's attention: the Attention page)
        draw.causal_mask_section(loaded, ref, view)
    draw.draw_lens(view)

draw.fill_mask_section(loaded, ref, intro, data.sentences)

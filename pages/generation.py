"""Generation: next-token probabilities, generation step by step, the causal mask and the logit
lens for causal language models; fill-mask and the masking recipe for masked language models."""

import streamlit as st

from explorer import ui
from explorer.errors import ExplorerError
from explorer.pipeline import checkpoints
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
    mode = ui.widget(S, "mode")
    ui.widget(S, "seed", disabled=mode == generation.GREEDY)
    next_token_slot = st.container()  # drawn after the buttons below, for the text including new tokens

    st.header("Generate, one token at a time")
    steps = st.session_state.setdefault(f"gen.steps.{ref}.{chat}.{intro.prompt}", [])
    buttons = st.columns([1, 2, 1])
    count = ui.widget(S, "count", where=buttons[1])
    settings = ui.settings(S)
    try:
        if buttons[0].button("Next token", type="primary", key="gen.next"):
            steps += generation.more_steps(loaded, intro.prompt, settings, steps, 1)
        if buttons[1].button(f"Generate {count}", key="gen.many"):
            with st.spinner(f"Generating {count} tokens…"):
                steps += generation.more_steps(loaded, intro.prompt, settings, steps, count)
    except ExplorerError as problem:
        ui.show_error(problem)
    if buttons[2].button("Reset", key="gen.reset"):
        steps.clear()
    try:
        with st.spinner("Scoring the vocabulary…"):
            view = generation.build(loaded, intro.prompt, settings, steps).decoder
    except ExplorerError as problem:
        with chat_slot:
            ui.show_error(problem)
        ui.stop()
    ui.note(view.chat_intro, chat_slot)
    if view.chat_code is not None:
        chat_slot.code(view.chat_code, language=None, wrap_lines=True)
    with next_token_slot:
        ui.chart(view.candidates_figure, key="gen.bars")
        ui.download(view.candidates_csv)
        ui.notes([view.candidates_sentence, view.quantized])
    st.markdown("**Text so far** (the prompt, then ⟦what the model wrote⟧):")
    st.code(view.text_so_far, language=None, wrap_lines=True)
    if view.steps_table is not None:
        ui.table(view.steps_table)
        ui.notes([view.steps_note, view.quantized])  # the step table's probabilities, too
    why_encoding, why_position = generation.attribution_input(loaded, view)
    ui.attribution_section(
        S, loaded, why_encoding, "next token", position=why_position, heading="Why this next token?"
    )

    if view.causal_mask:  # decoder-only models (an encoder-decoder's attention: the Attention page)
        st.header("The causal mask")
        try:
            decoder_sentences = ui.read_sentences(view.causal_text)
            encoding, run = ui.pipeline(ref, decoder_sentences, attentions=True)
            encoder_encoding, encoder_run = ui.pipeline(
                checkpoints.MINILM, decoder_sentences, attentions=True
            )
        except ExplorerError as problem:
            ui.show_error(problem)
            ui.stop()
        mask = generation.build_causal_mask(loaded, encoding, run, encoder_encoding, encoder_run)
        for column, (key, figure, caption) in zip(st.columns(2), mask.panels, strict=True):
            ui.chart(figure, key=key, where=column)
            ui.note(caption, column)

    st.header("Logit lens")
    ui.note(view.lens_intro)
    if view.lens_figure is not None:
        ui.chart(view.lens_figure, key="gen.lens")
    ui.notes([view.lens_note, view.quantized])

st.header("Masked language models: fill the blank")
mlm_run = fallback = None
try:
    if intro.fill_mask:
        mlm_encoding, mlm_run = ui.pipeline(ref, data.sentences)
    if intro.recipe_needs_minilm:
        fallback = ui.tokenizer(checkpoints.MINILM)
except ExplorerError as problem:
    ui.show_error(problem)
    ui.stop()
fill_mask = generation.build_fill_mask(loaded, mlm_run)
ui.notes(fill_mask.notes)
if fill_mask.predictions:
    blank_encoding, blank_position = generation.fill_mask_input(mlm_encoding, fill_mask.predictions[0])
    ui.attribution_section(
        S, loaded, blank_encoding, "masked word", position=blank_position, heading="Why this word?"
    )
st.subheader("The masking recipe used to train them")
mask_seed = ui.widget(S, "mask_seed")
recipe = generation.build_recipe(loaded, intro.prompt, mask_seed, fallback)
ui.note(recipe.sentence)
if recipe.table is not None:
    ui.table(recipe.table)
ui.note(recipe.caption)

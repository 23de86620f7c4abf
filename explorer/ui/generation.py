"""Drawing helpers of the Generation page (pages/generation.py): the next token and the steps
generated, the causal mask, and fill-mask with the masking recipe, each from its frozen View."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from explorer.errors import ExplorerError
from explorer.pipeline import checkpoints
from explorer.ui.attribution import attribution_section
from explorer.ui.cache import pipeline, tokenizer
from explorer.ui.routing import show_error, stop
from explorer.ui.state import read_sentences
from explorer.ui.widgets import chart, download, note, notes, table, widget
from explorer.views import generation
from explorer.views.generation import Settings as S


def step_buttons(
    loaded: Any, prompt: str, steps: list, count: int, settings: Any, buttons: Sequence[Any]
) -> None:
    """Next token, Generate n, Reset: each adds to (or clears) ``steps``, the session's generated steps."""
    try:
        if buttons[0].button("Next token", type="primary", key="gen.next"):
            steps += generation.more_steps(loaded, prompt, settings, steps, 1)
        if buttons[1].button(f"Generate {count}", key="gen.many"):
            with st.spinner(f"Generating {count} tokens…"):
                steps += generation.more_steps(loaded, prompt, settings, steps, count)
    except ExplorerError as problem:
        show_error(problem)
    if buttons[2].button("Reset", key="gen.reset"):
        steps.clear()


def draw_decoder(view: Any, chat_slot: Any, next_token_slot: Any) -> None:
    """The chat template (if any), the next token's candidates, the text so far and the step table."""
    if view.chat_code is not None:  # folded: the next token's chart stays above the fold
        with chat_slot.expander("The templated prompt the model reads"):
            note(view.chat_intro)
            st.code(view.chat_code, language=None, wrap_lines=True)
    with next_token_slot:
        chart(view.candidates_figure, key="gen.bars")
        download(view.candidates_csv)
        notes([view.candidates_sentence, view.quantized])
    st.markdown("**Text so far** (the prompt, then ⟦what the model wrote⟧):")
    st.code(view.text_so_far, language=None, wrap_lines=True)
    if view.steps_table is not None:
        table(view.steps_table)
        notes([view.steps_note, view.quantized])  # the step table's probabilities, too


def causal_mask_section(loaded: Any, ref: str, view: Any) -> None:
    """The causal mask: this decoder's attention beside MiniLM's (an encoder's) on the same text,
    run only when its toggle is on."""
    st.header("The causal mask")
    note(generation.CAUSAL_OFFER)
    if not widget(S, "compare"):
        return
    try:
        decoder_sentences = read_sentences(view.causal_text)
        encoding, run = pipeline(ref, decoder_sentences, attentions=True)
        encoder_encoding, encoder_run = pipeline(checkpoints.MINILM, decoder_sentences, attentions=True)
    except ExplorerError as problem:
        show_error(problem)
        stop()
    mask = generation.build_causal_mask(loaded, encoding, run, encoder_encoding, encoder_run)
    for column, (key, figure, caption) in zip(st.columns(2), mask.panels, strict=True):
        chart(figure, key=key, where=column)
        note(caption, column)


def draw_lens(view: Any) -> None:
    """The logit lens, computed only when its toggle is on (a decoder-only model)."""
    st.header("Logit lens")
    note(view.lens_intro)
    if view.causal_mask:  # decoder-only: the lens is available
        widget(S, "lens")
    if view.lens_figure is not None:
        chart(view.lens_figure, key="gen.lens_chart")
    notes([view.lens_note, view.quantized])


def fill_mask_section(loaded: Any, ref: str, intro: Any, sentences: Any) -> None:
    """Masked language models: the blank filled (and why), then the masking recipe used to train them."""
    st.header("Masked language models: fill the blank")
    mlm_encoding = mlm_run = fallback = None
    try:
        if intro.fill_mask:
            mlm_encoding, mlm_run = pipeline(ref, sentences)
        if intro.recipe_needs_minilm:
            fallback = tokenizer(checkpoints.MINILM)
    except ExplorerError as problem:
        show_error(problem)
        stop()
    fill_mask = generation.build_fill_mask(loaded, mlm_run)
    notes(fill_mask.notes)
    if fill_mask.predictions and mlm_encoding is not None:  # predictions come from the fill-mask run
        blank_encoding, blank_position = generation.fill_mask_input(mlm_encoding, fill_mask.predictions[0])
        attribution_section(
            S, loaded, blank_encoding, "masked word", position=blank_position, heading="Why this word?"
        )
    st.subheader("The masking recipe used to train them")
    mask_seed = widget(S, "mask_seed")
    recipe = generation.build_recipe(loaded, intro.prompt, mask_seed, fallback)
    note(recipe.sentence)
    if recipe.table is not None:
        table(recipe.table)
    note(recipe.caption)

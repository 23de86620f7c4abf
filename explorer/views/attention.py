"""Attention: heatmaps per layer and head, bertviz views offline, and attention step by step.

``choices(run)`` gives the layer and head selectors their options; ``build(...)`` makes the View:
every figure, HTML page and sentence the page shows, computed from the loaded checkpoint, its
encoding and its run. No Streamlit here.

Numbering, as on every page (the course's): hidden_states[0] is the embeddings, then layer 1 … L;
layer l turns hidden_states[l - 1] into hidden_states[l] and its attention is run.attentions[l - 1].
``Settings.layer`` (and a link's ``?layer=``) is that 1-based number. Heads count from 0, as the
tensors and bertviz number them.

Encoder-decoders (T5, BART): ``Settings.part`` chooses encoder self-attention (run.attentions),
decoder causal self-attention (run.decoder_attentions) or cross-attention (run.cross_attentions:
decoder tokens as queries, encoder tokens as keys); layers are numbered 1 … L within each stack.
bertviz draws its encoder-decoder views (Encoder, Decoder, Cross). Step by step is a Note for them.

Shapes: L layers, B sentences, H heads, S positions, T real tokens of a sentence, d = size per head,
D = hidden size."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from explorer.drawing import exports, figures
from explorer.drawing.bertviz_html import (
    MODEL_VIEW_TOKENS,
    THRESHOLD,
    EncoderDecoderPart,
    Plan,
    bertviz_html,
    encoder_decoder_html,
    plan_encoder_decoder,
    plan_view,
)
from explorer.errors import ExplorerError
from explorer.explain import model_info as info
from explorer.explain.attention import (
    PARTS,
    AttentionSteps,
    AttentionView,
    CrossSteps,
    PartView,
    attention_steps,
    attention_view,
    cross_attention_steps,
    decoder_real,
    head_entropy,
    is_encoder_decoder_run,
    part_csv,
    part_entropy,
    part_json,
    part_view,
    part_weights,
)
from explorer.pipeline.encoding import Encoding
from explorer.pipeline.loading import LoadedCheckpoint
from explorer.pipeline.postprocess import SAME_PROBABILITIES
from explorer.pipeline.run import ModelRun
from explorer.views.common import Download, Note
from explorer.views.settings import setting
from explorer.words import count

AGGREGATES = ("head", "head average", "layer average")
BERTVIZ = ("head view", "model view", "off")
STEP_WINDOW = 48  # the step-by-step matrices show at most this many positions
MAX_IFRAME_HEIGHT = 3300  # a 128-token head view (120 + 24 × 128 pixels) without a scroll bar


@dataclass(frozen=True, kw_only=True)
class Settings:
    PREFIX: ClassVar[str] = "att"

    sentence: int = setting("int", "Sentence", 0, high=64)
    # Encoder-decoders only (T5, BART): which attention the heatmap, grid and bertviz show first.
    part: str = setting("choice", "Attention", PARTS[0], choices=PARTS, widget="radio")
    layer: int = setting("int", "Layer", 1, low=1, high=1000)  # 1 … L: attentions[layer - 1]
    head: int = setting("int", "Head", 0, high=1000)
    aggregate: str = setting("choice", "Show", "head", choices=AGGREGATES, widget="radio", url="show")
    hide_special: bool = setting("bool", "Hide special tokens", False, widget="toggle")
    show_padding: bool = setting("bool", "Show padding positions", True, widget="toggle", url="padding")
    # Step by step is computed only once opened; a link that opened it opens it again (?steps=true).
    steps: bool = setting("bool", "Show attention step by step", False, widget="toggle", url="steps")
    bertviz: str = setting("choice", "View", "head view", choices=BERTVIZ, widget="radio")
    # The same for the position section (its two large heatmaps cost the browser more than the rest
    # of the page on every rerun, and do not depend on the text).
    position: bool = setting("bool", "Show where position comes from", False, widget="toggle", url="position")
    window: int = setting("int", "Window start (token)", 0, widget="slider", linked=False)


# --- Before build: the selectors' options ------------------------------------------------------


@dataclass(frozen=True)
class Choices:
    """What the layer and head selectors offer: layers 1 … L (layer l's attention is
    attentions[l - 1]), heads 0 … H - 1. For an encoder-decoder, ``parts`` lists the three
    attentions and the layers are those of the chosen part's stack (encoder or decoder)."""

    layers: tuple[int, ...]
    heads: tuple[int, ...]
    parts: tuple[str, ...] = ()  # empty unless the run is an encoder-decoder's


def is_encoder_decoder(run: ModelRun) -> bool:
    """Whether the run is an encoder-decoder's (its decoder and cross-attentions are there)."""
    return is_encoder_decoder_run(run)


def choices(run: ModelRun, part: str | None = None) -> Choices:
    if not is_encoder_decoder_run(run):
        L, _, H, _, _ = run.attentions.shape  # [L, B, H, S, S]
        return Choices(tuple(range(1, L + 1)), tuple(range(H)))
    part = part if part in PARTS else PARTS[0]
    L, _, H, _, _ = part_weights(run, part).shape  # [L, B, H, queries, keys]
    return Choices(tuple(range(1, L + 1)), tuple(range(H)), PARTS)


# --- The View ------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Heatmap:
    """The chosen head's (or average's) [T, T] matrix, drawn and downloadable."""

    matrix: AttentionView | PartView  # an encoder-decoder's part: queries and keys may differ
    figure: Any | None  # plotly Figure; None when no position is left to show
    empty: Note | None  # says why nothing is drawn
    filename: str  # for the chart's image download
    downloads: tuple[Download, ...]  # this matrix as CSV and JSON


@dataclass(frozen=True, kw_only=True)
class Bertviz:
    """bertviz's head or model view for the chosen sentence, drawn offline."""

    kind: str  # "head view", "model view" or "off"
    windowed: bool  # the page draws the window slider (too many tokens to draw at once)
    window_low: int  # the window slider's range: first token of the window
    window_high: int
    window_start: int  # the start actually used (the setting, clamped to the range)
    note: Note | None  # what the plan left out
    error: Note | None  # a missing asset: shown instead of the view
    html: str | None  # the self-contained page for an iframe
    height: int  # the iframe's height in pixels
    caption: Note | None  # under the view: how to read it, the threshold, the weights drawn
    follows_layer: bool = False  # it draws the chosen layer only: redraw it when the layer changes
    kept: int = 0  # weights sent and drawn (at or above THRESHOLD)
    total: int = 0  # weights of the layers, heads and tokens shown

    @property
    def notes(self) -> tuple[Note, ...]:
        return tuple(n for n in (self.note, self.error) if n is not None)


@dataclass(frozen=True, kw_only=True)
class Steps:
    """Scaled dot-product attention for one head, step by step, from the model's own weights."""

    steps: (
        AttentionSteps | CrossSteps
    )  # the numbers (all positions); CrossSteps: an encoder-decoder's cross-attention
    window_note: Note | None  # the figures show the first STEP_WINDOW positions only
    intro: Note
    project: Note
    projections: tuple[tuple[str, Any], ...]  # ("Q", figure), ("K", figure), ("V", figure)
    scores_text: Note
    scores_figure: Any
    scale_text: Note
    masked_figure: Any
    softmax_text: Note
    weights_figure: Any
    agreement: Note  # success when the recomputation equals the model's weights within SAME_PROBABILITIES
    same: bool
    mix_text: Note
    output_figure: Any
    multi_head: Note

    @property
    def intro_notes(self) -> tuple[Note, ...]:
        return tuple(n for n in (self.window_note, self.intro, self.project) if n is not None)


@dataclass(frozen=True, kw_only=True)
class Position:
    """How this model encodes position, beside the original transformer's sinusoids."""

    text: Note  # what this model does (kind and explanation)
    figure: Any | None  # this model's own: learned cosine similarity or rotary cos(position × frequency)
    uses: Note  # what this family uses, read from the model
    sinusoidal_text: Note
    sinusoidal_figure: Any  # PE[pos, dimension] of the original transformer

    @property
    def notes(self) -> tuple[Note, ...]:
        return (self.uses, self.text)


@dataclass(frozen=True, kw_only=True)
class Overview:
    """What depends on neither the layer nor the head: drawn once per run of the page."""

    layers: int  # L
    heads: int  # H
    positions: int  # S
    numbering: Note  # how layers and heads are numbered
    causal: Note | None  # a decoder's causal mask
    padding: Note | None  # this sentence has padding positions
    entropy: np.ndarray  # [L, H] mean entropy (bits) of each head's rows
    entropy_figure: Any
    entropy_caption: Note
    # None until asked for (Settings.position), or when this architecture's position scheme is not
    # explained: see position_note
    position: Position | None
    position_note: Note | None = None
    part: str | None = None  # encoder-decoders: the attention shown (Settings.part); None otherwise
    part_note: Note | None = None  # what rows and columns are for that part

    @property
    def heading(self) -> str | None:
        """The heatmap section's heading for an encoder-decoder (which attention, which stack)."""
        if self.part is None:
            return None
        stack = "encoder" if self.part == "encoder self-attention" else "decoder"
        return f"{self.part[0].upper()}{self.part[1:]} ({stack} layers 1 … {self.layers})"

    @property
    def mask_notes(self) -> tuple[Note, ...]:
        return tuple(n for n in (self.part_note, self.causal, self.padding) if n is not None)


@dataclass(frozen=True)
class Head:
    """What depends on the layer and head: the page redraws only this when they change."""

    settings: Settings  # as used (clamped)
    heatmap: Heatmap
    steps: Steps | None  # None until asked for (Settings.steps), or when not supported: see steps_note
    steps_note: Note | None


@dataclass(frozen=True, kw_only=True)
class View(Overview):
    """The whole page: ``Overview`` + ``Head`` + ``Bertviz``."""

    settings: Settings | None = None  # as used (sentence, window clamped to what exists)
    heatmap: Heatmap | None = None
    bertviz: Bertviz | None = None
    steps: Steps | None = None  # None until asked for, or when not supported: see steps_note
    steps_note: Note | None = None


# --- Pieces --------------------------------------------------------------------------------------


def _heatmap(run: ModelRun, encoding: Encoding, settings: Settings, causal: bool) -> Heatmap:
    matrix = attention_view(
        run,
        encoding,
        sentence=settings.sentence,
        layer=settings.layer - 1,  # layer l is attentions[l - 1]
        head=settings.head,
        aggregate=settings.aggregate,
        hide_special=settings.hide_special,
        show_padding=settings.show_padding,
        causal=causal,
    )  # .matrix: [T, T]
    empty = matrix.matrix.size == 0
    return Heatmap(
        matrix=matrix,
        figure=None
        if empty
        else figures.attention_heatmap(matrix.matrix, matrix.positions, matrix.tokens, matrix.title),
        empty=Note("info", "No tokens left to show: turn 'Hide special tokens' off.") if empty else None,
        filename=f"attention-layer{settings.layer}-head{settings.head}",
        downloads=(
            Download(
                label="Download this matrix (CSV)",
                data=functools.partial(exports.attention_csv, matrix),
                file_name="attention.csv",
                mime="text/csv",
                key="att.csv",
            ),
            Download(
                label="Download this matrix (JSON)",
                data=functools.partial(exports.attention_json, matrix),
                file_name="attention.json",
                mime="application/json",
                key="att.json",
            ),
        ),
    )


def _entropy_caption(loaded: LoadedCheckpoint) -> Note:
    """Which tokens focused heads often look at, naming only tokens this tokenizer has."""
    sep = getattr(loaded.tokenizer, "sep_token", None)
    if sep:
        examples = f"the previous token, `{sep}`, the same word…"
    elif loaded.is_decoder:
        examples = "the previous token, the first token, the same word…"
    else:
        examples = "the previous token, the same word…"
    return Note(
        "caption",
        "Entropy of each head's attention rows, averaged over the real tokens: a head with low entropy "
        f"puts its weight on a few tokens ({examples}) and is often worth a look.",
    )


OFF = Bertviz(
    kind="off",
    windowed=False,
    window_low=0,
    window_high=0,
    window_start=0,
    note=None,
    error=None,
    html=None,
    height=0,
    caption=None,
)


def _faint(plan: Plan) -> str:
    """The caption's sentence on the lines left out, with this view's numbers."""
    return (
        f" Lines for weights below {THRESHOLD} are left out (under {THRESHOLD:.0%} opaque even with one "
        f"head shown: too faint to see): {plan.kept:,} of {plan.total:,} weights drawn."
    )


def _model_view_too_long(tokens: int, layers: int, heads: int) -> Note:
    return Note(
        "info",
        f"The model view draws all {layers} layers × {heads} heads at once; it is offered for inputs of up "
        f"to {MODEL_VIEW_TOKENS} tokens, and this one has {tokens}. The head view draws every token, one "
        "layer at a time.",
    )


def bertviz_view(run: ModelRun, encoding: Encoding, settings: Settings) -> Bertviz:
    """bertviz's head or model view of the chosen sentence (``settings`` as ``clamp`` left them)."""
    if is_encoder_decoder_run(run):
        return _encoder_decoder_bertviz(run, encoding, settings)
    kind, sentence, layer = settings.bertviz, settings.sentence, settings.layer
    if kind == "off":
        return OFF
    L, _, H, _, _ = run.attentions.shape  # [L, B, H, S, S]
    real = encoding.attention_mask[sentence].astype(bool)  # [S]
    tokens = [t for t, keep in zip(encoding.tokens[sentence], real, strict=True) if keep]  # [T]
    T = len(tokens)
    view_kind = "head" if kind == "head view" else "model"
    if view_kind == "model" and T > MODEL_VIEW_TOKENS:
        return dataclasses.replace(OFF, kind=kind, note=_model_view_too_long(T, L, H))
    attentions = run.attentions[:, sentence][:, :, real][..., real]  # [L, H, T, T]
    # bertviz labels its layer menu and rows with the layer numbers it is given (1 … L, as every
    # page numbers them); index i of the attentions is layer i + 1.
    plan = plan_view(view_kind, attentions, layer=layer, first=1)
    windowed = plan.stop - plan.start < T
    high = T - (plan.stop - plan.start)
    start = min(max(settings.window, 0), high) if windowed else 0
    if windowed and start != plan.start:
        plan = plan_view(view_kind, attentions, layer=layer, first=1, start=start)
    note = Note("info", plan.note) if plan.note else None
    try:
        page = bertviz_html(view_kind, attentions, tokens, plan, layer=layer)
    except ExplorerError as problem:
        return Bertviz(
            kind=kind,
            windowed=windowed,
            window_low=0,
            window_high=high,
            window_start=start,
            note=note,
            error=Note("error", str(problem)),
            html=None,
            height=0,
            caption=None,
        )
    height = 120 + 24 * (plan.stop - plan.start) if view_kind == "head" else 80 + 100 * len(plan.layers)
    caption = (
        (
            "Head view: lines connect each token to the tokens it attends to; click a head's colour to "
            "show or hide it (the colours are heads 0, 1, … from the left), hover a token to focus it. Its "
            "Layer menu numbers layers 1 … L, as this page does."
            if view_kind == "head"
            else "Model view: one small head view per layer (rows, numbered 1 … L as on this page) and head "
            "(columns, numbered from 0); click one to enlarge it."
        )
        + _faint(plan)
        + f" Drawn offline, {page.payload_bytes / 1024:,.0f} KB of attention data."
    )
    return Bertviz(
        kind=kind,
        windowed=windowed,
        window_low=0,
        window_high=high,
        window_start=start,
        note=note,
        error=None,
        html=page.html,
        height=min(height, MAX_IFRAME_HEIGHT),
        caption=Note("caption", caption),
        follows_layer=view_kind == "head" and len(plan.layers) < L,
        kept=plan.kept,
        total=plan.total,
    )


def multi_head_sentence(steps: AttentionSteps, S: int) -> str:
    """How the heads are split and joined again, with this model's real sizes: H × d need not be
    the hidden size (Qwen3's head_dim), and keys / values may have fewer heads (grouped-query)."""
    H, d, D, KV = steps.heads, steps.head_dim, steps.hidden_size, steps.key_value_heads
    width = steps.query_width  # H × d, the query projection's output width
    projections = "the projections are" if KV == H else "the query projection is"
    if width == D:
        split = f"{projections} split into {H} slices of {d} dimensions ([{S}, {D}] → [{H}, {S}, {d}])"
    else:
        split = (
            f"the query projection maps [{S}, {D}] to [{S}, {width}], split into {H} slices of {d} "
            f"dimensions ([{H}, {S}, {d}]); here {H} × {d} = {width} is not the hidden size {D}: the head "
            f"size {d} is set on its own, not hidden size ÷ heads"
        )
    join = f"[{S}, {H} × {d} = {width}] before an output projection"
    if width != D:
        join += f" back to the hidden size, [{S}, {D}]"
    text = (
        f"**Multi-head.** The layer runs all {H} heads side by side: {split}; each head attends on its own, "
        f"and their outputs are concatenated back to {join}."
    )
    if KV != H:
        text += (
            f" Keys and values have only {KV} heads ([{S}, {D}] → [{S}, {steps.key_value_width}] → "
            f"[{KV}, {S}, {d}]), each shared by {H // KV} query heads (grouped-query attention)."
        )
    return text


def _steps(loaded: LoadedCheckpoint, run: ModelRun, encoding: Encoding, settings: Settings) -> Steps:
    layer, head, sentence = settings.layer, settings.head, settings.sentence  # layer: 1 … L
    steps = attention_steps(loaded, run, encoding, layer=layer - 1, head=head, sentence=sentence)
    S, d = len(steps.tokens), steps.head_dim
    causal = loaded.is_decoder
    shown = slice(0, min(S, STEP_WINDOW))
    labels = [figures.label(p, t) for p, t in enumerate(steps.tokens)][shown]
    dims = [str(i) for i in range(d)]
    kv_note = (
        f" (grouped-query attention: query head {head} shares key/value head {steps.key_value_head} with "
        f"{count(steps.heads // steps.key_value_heads - 1, 'other head')})"
        if steps.key_value_heads != steps.heads
        else ""
    )
    project = (
        f"**1. Project** the input with this head's learned weights into queries Q, keys K and values V, "
        f"each [{S}, {d}]{kv_note}."
        + (" Q and K are each normalised (RMSNorm over the head's dimensions)." if steps.qk_norm else "")
        + (" Q and K are then **rotated by position** (rotary embeddings)." if steps.rotary else "")
    )
    if steps.standard_scale:
        scale = (
            f"**3. Scale** by 1/√d = 1/√{d} = {steps.scale:.4f}, so the scores do not grow with the head size"
        )
        scaled_name = "Q·Kᵀ / √d"
    else:
        scale = (
            f"**3. Scale** by {steps.scale:.4f}, this model's own factor (1/√d would be "
            f"1/√{d} = {1 / np.sqrt(d):.4f})"
        )
        scaled_name = "Q·Kᵀ × scale"
    scale += (
        ", and **4. mask**: positions a query may not see (padding"
        + (", and every later token in a decoder" if causal else "")
        + ") get −∞."
    )
    difference = steps.max_abs_difference
    same = difference < SAME_PROBABILITIES
    compared = (
        f"Compared with the attention the model itself returned for layer {layer}, head {head} "
        f"(`outputs.attentions[{layer - 1}][{sentence}, {head}]`): maximum absolute difference "
        f"**{difference:.2e}**"
    )
    agreement = (
        Note("success", f"{compared} — the same.")
        if same
        else Note(
            "warning",
            f"{compared} — they differ: this step-by-step recomputation does not reproduce the model's "
            f"attention (more than {SAME_PROBABILITIES:.0e} apart).",
        )
    )
    weights = np.where(steps.allowed, steps.weights, np.nan)  # [S, S]
    return Steps(
        steps=steps,
        window_note=Note(
            "caption", f"Computed on all {S} positions; the matrices below show the first {STEP_WINDOW}."
        )
        if S > STEP_WINDOW
        else None,
        intro=Note(
            "markdown",
            f"Layer {layer}, head {head}, sentence {sentence}. The input is **{steps.input_note}**, shape "
            f"[{S}, {steps.hidden_size}].",
        ),
        project=Note("markdown", project),
        projections=tuple(
            (name, figures.matrix_heatmap(matrix[shown], labels, dims, name, "dimension", "token"))
            for name, matrix in (("Q", steps.q), ("K", steps.k), ("V", steps.v))  # [S, d] each
        ),
        scores_text=Note(
            "markdown", f"**2. Scores** Q·Kᵀ: how well each query matches each key, [{S}, {S}]."
        ),
        scores_figure=figures.matrix_heatmap(
            steps.scores[shown, shown], labels, labels, "Q·Kᵀ", "key", "query"
        ),
        scale_text=Note("markdown", scale),
        masked_figure=figures.matrix_heatmap(
            steps.masked[shown, shown], labels, labels, f"{scaled_name}, masked (grey = −∞)", "key", "query"
        ),
        softmax_text=Note("markdown", "**5. Softmax** each row: the weights are positive and sum to 1."),
        weights_figure=figures.attention_heatmap(
            weights[shown, shown],
            list(range(S))[shown],
            steps.tokens[shown],
            f"softmax({scaled_name} + mask)",
        ),
        agreement=agreement,
        same=same,
        mix_text=Note(
            "markdown", f"**6. Mix the values**: weights × V gives this head's output, [{S}, {d}]."
        ),
        output_figure=figures.matrix_heatmap(
            steps.output[shown], labels, dims, "weights · V", "dimension", "token"
        ),
        multi_head=Note("markdown", multi_head_sentence(steps, S)),
    )


def _position(loaded: LoadedCheckpoint) -> Position:
    position = info.position_info(loaded)
    text = Note("markdown", f"**{position.kind}.** {position.explanation}")
    figure = None
    if position.similarity is not None:
        P = position.similarity.shape[0]  # similarity: [P, P]
        rows = position.rows if position.rows is not None else np.arange(P)  # [P] table rows
        names = [str(i) if r == i else f"{i} (row {r})" for i, r in enumerate(rows.tolist())]
        title = "Cosine similarity of the position vectors"
        if position.first_row and P:
            title += f" (rows {int(rows[0])} … {int(rows[-1])})"
        figure = figures.matrix_heatmap(
            position.similarity, names, names, title, "position", "position", value_name="cosine"
        )
    elif position.angles is not None:
        P, F = position.angles.shape  # angles: [P, d / 2]
        figure = figures.matrix_heatmap(
            np.cos(position.angles),  # [P, d / 2]
            [str(i) for i in range(P)],
            [str(f) for f in range(F)],
            "cos(position × frequency) of the rotary embedding",
            "frequency (fast → slow)",
            "position",
            value_name="cos",
        )
    P, d = position.sinusoidal.shape  # [P, d]
    sinusoidal = figures.matrix_heatmap(
        position.sinusoidal,
        [str(i) for i in range(P)],
        [str(j) for j in range(d)],
        f"Sinusoidal encoding of the original transformer (d = {d})",
        "dimension (2i: sin, 2i+1: cos)",
        "position",
        value_name="PE",
    )
    return Position(
        text=text,
        figure=figure,
        uses=Note("markdown", position.uses),
        sinusoidal_text=Note("markdown", position.sinusoidal_text),
        sinusoidal_figure=sinusoidal,
    )


# --- Encoder-decoders (T5, BART): three attentions ------------------------------------------------

_STACK = {
    "encoder self-attention": "encoder",
    "decoder self-attention": "decoder",
    "cross-attention": "decoder",
}
_OUTPUT_NAME = {  # the field of the model's output each part comes from
    "encoder self-attention": "encoder_attentions",
    "decoder self-attention": "decoder_attentions",
    "cross-attention": "cross_attentions",
}
STEPS_ENCODER_DECODER = (
    "Step-by-step attention is shown for an encoder-decoder's **cross-attention** (choose it above); "
    "for its encoder and decoder self-attention it is not available yet. The heatmaps above are the "
    "model's own weights."
)


def _cross_steps(loaded: LoadedCheckpoint, run: ModelRun, encoding: Encoding, settings: Settings) -> Steps:
    layer, head, sentence = settings.layer, settings.head, settings.sentence  # layer: decoder 1 … L
    steps = cross_attention_steps(loaded, run, encoding, layer=layer - 1, head=head, sentence=sentence)
    T, S, d, H, D = (
        len(steps.query_tokens),
        len(steps.key_tokens),
        steps.head_dim,
        steps.heads,
        steps.hidden_size,
    )
    rows, columns = slice(0, min(T, STEP_WINDOW)), slice(0, min(S, STEP_WINDOW))
    query_labels = [figures.label(p, t) for p, t in enumerate(steps.query_tokens)][rows]
    key_labels = [figures.label(p, t) for p, t in enumerate(steps.key_tokens)][columns]
    dims = [str(i) for i in range(d)]
    if steps.standard_scale:
        scale = f"**3. Scale** by 1/√d = 1/√{d} = {steps.scale:.4f}"
        scaled_name = "Q·Kᵀ / √d"
    elif steps.scale == 1.0:
        scale = (
            f"**3. Scale**: this model does not scale its scores (factor 1; 1/√d would be 1/√{d} = "
            f"{1 / np.sqrt(d):.4f}: T5 folds it into its initialisation)"
        )
        scaled_name = "Q·Kᵀ"
    else:
        scale = f"**3. Scale** by {steps.scale:.4f}, this model's own factor"
        scaled_name = "Q·Kᵀ × scale"
    scale += ", and **4. mask**: the encoder's padding keys get −∞. No causal mask: every decoder token may read every input token."
    difference = steps.max_abs_difference
    same = difference < SAME_PROBABILITIES
    compared = (
        f"Compared with the cross-attention the model itself returned for decoder layer {layer}, head {head} "
        f"(`outputs.cross_attentions[{layer - 1}][{sentence}, {head}]`): maximum absolute difference "
        f"**{difference:.2e}**"
    )
    agreement = (
        Note("success", f"{compared} — the same.")
        if same
        else Note("warning", f"{compared} — they differ (more than {SAME_PROBABILITIES:.0e} apart).")
    )
    weights = np.where(steps.allowed, steps.weights, np.nan)  # [T, S]
    window = T > STEP_WINDOW or S > STEP_WINDOW
    return Steps(
        steps=steps,
        window_note=Note(
            "caption",
            f"Computed on all {T} decoder and {S} encoder positions; the matrices below show the first "
            f"{STEP_WINDOW} of each.",
        )
        if window
        else None,
        intro=Note(
            "markdown",
            f"Cross-attention of decoder layer {layer}, head {head}, sentence {sentence}. The queries read "
            f"**{steps.query_note}**, shape [{T}, {D}]; the keys and values read the **encoder's output** "
            f"(`encoder_last_hidden_state`), shape [{S}, {D}].",
        ),
        project=Note(
            "markdown",
            f"**1. Project** with this head's learned weights: queries Q [{T}, {d}] from the decoder, keys K "
            f"and values V [{S}, {d}] from the encoder.",
        ),
        projections=(
            (
                "Q",
                figures.matrix_heatmap(
                    steps.q[rows], query_labels, dims, "Q (decoder)", "dimension", "decoder token"
                ),
            ),
            (
                "K",
                figures.matrix_heatmap(
                    steps.k[columns], key_labels, dims, "K (encoder)", "dimension", "encoder token"
                ),
            ),
            (
                "V",
                figures.matrix_heatmap(
                    steps.v[columns], key_labels, dims, "V (encoder)", "dimension", "encoder token"
                ),
            ),
        ),
        scores_text=Note(
            "markdown",
            f"**2. Scores** Q·Kᵀ: how well each decoder query matches each encoder key, [{T}, {S}].",
        ),
        scores_figure=figures.matrix_heatmap(
            steps.scores[rows, columns],
            query_labels,
            key_labels,
            "Q·Kᵀ",
            "encoder token (key)",
            "decoder token (query)",
        ),
        scale_text=Note("markdown", scale),
        masked_figure=figures.matrix_heatmap(
            steps.masked[rows, columns],
            query_labels,
            key_labels,
            f"{scaled_name}, masked (grey = −∞)",
            "encoder token (key)",
            "decoder token (query)",
        ),
        softmax_text=Note(
            "markdown",
            "**5. Softmax** each row: the weights are positive and sum to 1 over the real encoder tokens.",
        ),
        weights_figure=figures.part_heatmap(
            weights[rows, columns],
            query_labels,
            key_labels,
            f"softmax({scaled_name} + mask)",
            "encoder token (key, attended to)",
            "decoder token (query, attending)",
        ),
        agreement=agreement,
        same=same,
        mix_text=Note(
            "markdown",
            f"**6. Mix the values**: weights × V gives this head's output, [{T}, {d}]: for each decoder "
            "token, a mix of the encoder's values.",
        ),
        output_figure=figures.matrix_heatmap(
            steps.output[rows], query_labels, dims, "weights · V", "dimension", "decoder token"
        ),
        multi_head=Note(
            "markdown",
            f"**Multi-head.** The layer runs all {H} heads side by side: the decoder's [{T}, {D}] becomes "
            f"[{H}, {T}, {d}] queries and the encoder's [{S}, {D}] becomes [{H}, {S}, {d}] keys and values; "
            f"each head attends on its own, and their outputs are concatenated back to "
            f"[{T}, {H} × {d} = {H * d}] before an output projection.",
        ),
    )


def _part_heatmap(run: ModelRun, encoding: Encoding, settings: Settings, specials: frozenset[str]) -> Heatmap:
    part = settings.part
    matrix = part_view(
        run,
        encoding,
        part=part,
        sentence=settings.sentence,
        layer=settings.layer - 1,  # layer l of the part's stack is index l - 1
        head=settings.head,
        aggregate=settings.aggregate,
        hide_special=settings.hide_special,
        show_padding=settings.show_padding,
        special_tokens=specials,
    )  # .matrix: [Tq, Tk]
    empty = matrix.matrix.size == 0
    figure = None
    if not empty:
        rows = [
            figures.label(int(p), t) for p, t in zip(matrix.query_positions, matrix.query_tokens, strict=True)
        ]
        columns = [
            figures.label(int(p), t) for p, t in zip(matrix.key_positions, matrix.key_tokens, strict=True)
        ]
        figure = figures.part_heatmap(
            matrix.matrix,
            rows,
            columns,
            matrix.title,
            f"{matrix.key_side} token (key, attended to)",
            f"{matrix.query_side} token (query, attending)",
        )
    slug = {
        "encoder self-attention": "encoder",
        "decoder self-attention": "decoder",
        "cross-attention": "cross",
    }[part]
    return Heatmap(
        matrix=matrix,
        figure=figure,
        empty=Note("info", "No tokens left to show: turn 'Hide special tokens' off.") if empty else None,
        filename=f"attention-{slug}-layer{settings.layer}-head{settings.head}",
        downloads=(
            Download(
                label="Download this matrix (CSV)",
                data=functools.partial(part_csv, matrix),
                file_name=f"{slug}-attention.csv",
                mime="text/csv",
                key="att.csv",
            ),
            Download(
                label="Download this matrix (JSON)",
                data=functools.partial(part_json, matrix),
                file_name=f"{slug}-attention.json",
                mime="application/json",
                key="att.json",
            ),
        ),
    )


def _part_note(run: ModelRun, part: str, sentence: int) -> Note:
    if part == "encoder self-attention":
        text = (
            "**Encoder self-attention**: rows and columns are the encoder's tokens (the input text). Every "
            "token may look at every real token, before and after it; each row sums to 1 over the real tokens."
        )
    elif part == "decoder self-attention":
        start = run.decoder_tokens[sentence][0] if run.decoder_tokens[sentence] else ""
        text = (
            f"**Decoder self-attention**: rows and columns are the decoder's tokens: `{start}` "
            "(decoder_start_token_id), then the tokens the model generated, each fed back in. Each row sums "
            "to 1 over the row's own token and the tokens before it."
        )
    else:
        text = (
            "**Cross-attention**: rows are the decoder's tokens (queries), columns the encoder's tokens "
            "(keys): each output position reads the input through these weights. Each row sums to 1 over "
            "the real encoder tokens; padding columns get exactly 0. The queries come from the decoder's "
            "hidden states, the keys and values from the encoder's output (`encoder_last_hidden_state`, the "
            "same for every decoder layer). These are the model's returned `outputs.cross_attentions`."
        )
    return Note("markdown", text)


def _part_padding(run: ModelRun, encoding: Encoding, part: str, sentence: int) -> Note | None:
    """Which padding this part's matrix shows (encoder keys; decoder keys, and padded decoder rows)."""
    texts = []
    if part != "decoder self-attention" and not encoding.attention_mask[sentence].all():
        texts.append(
            "Grey columns are the encoder's padding positions: the attention mask gives them a weight of exactly 0."
        )
    if part != "encoder self-attention" and not decoder_real(run, sentence).all():
        texts.append(
            "This sentence's output is shorter than the longest in the batch: the decoder's last positions "
            "are padding (the decoder attention mask hides them as keys"
            + (", grey columns" if part == "decoder self-attention" else "")
            + "); their rows are computed but mean nothing."
        )
    return Note("caption", " ".join(texts)) if texts else None


def _parts_for_bertviz(run: ModelRun, encoding: Encoding, sentence: int) -> tuple[EncoderDecoderPart, ...]:
    real = encoding.attention_mask[sentence].astype(bool)  # [S]
    encoder_tokens = tuple(t for t, keep in zip(encoding.tokens[sentence], real, strict=True) if keep)  # [Te]
    written = decoder_real(run, sentence)  # [T]
    decoder_tokens = tuple(t for t, keep in zip(run.decoder_tokens[sentence], written, strict=True) if keep)
    encoder = run.attentions[:, sentence][:, :, real][..., real]  # [L_enc, H, Te, Te]
    decoder = run.decoder_attentions[:, sentence][:, :, written][..., written]  # [L_dec, H, Td, Td]
    cross = run.cross_attentions[:, sentence][:, :, written][..., real]  # [L_dec, H, Td, Te]
    return (
        EncoderDecoderPart("Encoder", encoder, encoder_tokens, encoder_tokens),
        EncoderDecoderPart("Decoder", decoder, decoder_tokens, decoder_tokens),
        EncoderDecoderPart("Cross", cross, decoder_tokens, encoder_tokens),
    )


def _encoder_decoder_bertviz(run: ModelRun, encoding: Encoding, settings: Settings) -> Bertviz:
    kind, sentence, layer = settings.bertviz, settings.sentence, settings.layer
    if kind == "off":
        return OFF
    view_kind = "head" if kind == "head view" else "model"
    parts = _parts_for_bertviz(run, encoding, sentence)
    longest = max(max(len(p.left), len(p.right)) for p in parts)
    if view_kind == "model" and longest > MODEL_VIEW_TOKENS:
        L = min(p.attentions.shape[0] for p in parts)
        return dataclasses.replace(
            OFF, kind=kind, note=_model_view_too_long(longest, L, parts[0].attentions.shape[1])
        )
    try:
        plan = plan_encoder_decoder(view_kind, parts, layer=layer)
        page = encoder_decoder_html(
            view_kind, parts, plan, layer=layer, shown_part=PARTS.index(settings.part)
        )
    except ExplorerError as problem:
        return Bertviz(
            kind=kind,
            windowed=False,
            window_low=0,
            window_high=0,
            window_start=0,
            note=None,
            error=Note("info", str(problem)),
            html=None,
            height=0,
            caption=None,
        )
    note = Note("info", plan.note) if plan.note else None
    height = 120 + 24 * longest if view_kind == "head" else 80 + 100 * len(plan.layers)
    menu = (
        "Its Attention menu switches between **Encoder** (encoder self-attention), **Decoder** (decoder "
        "self-attention) and **Cross** (decoder tokens on the left, encoder tokens on the right); it opens "
        "on the attention chosen above."
    )
    caption = (
        "Head view: lines connect each token to the tokens it attends to; click a head's colour to show or "
        "hide it (the colours are heads 0, 1, … from the left). Its Layer menu numbers layers 1 … L of each "
        "stack, as this page does. "
        if view_kind == "head"
        else "Model view: one small head view per layer (rows, numbered 1 … L of each stack as on this page) "
        "and head (columns, numbered from 0); click one to enlarge it. "
    ) + f"{menu}{_faint(plan)} Drawn offline, {page.payload_bytes / 1024:,.0f} KB of attention data."
    all_layers = min(p.attentions.shape[0] for p in parts)
    return Bertviz(
        kind=kind,
        windowed=False,
        window_low=0,
        window_high=0,
        window_start=0,
        note=note,
        error=None,
        html=page.html,
        height=min(height, MAX_IFRAME_HEIGHT),
        caption=Note("caption", caption),
        follows_layer=view_kind == "head" and len(plan.layers) < all_layers,
        kept=plan.kept,
        total=plan.total,
    )


def _safe_position(loaded: LoadedCheckpoint) -> tuple[Position | None, Note | None]:
    try:
        return _position(loaded), None
    except Exception:  # an architecture model_info does not describe: a sentence, not a traceback
        kind = getattr(loaded.config, "model_type", "this")
        return None, Note(
            "info",
            f"How '{kind}' models encode position is not explained on this page yet: its encoder and "
            "decoder are shown above as the model computes them.",
        )


def _encoder_decoder_overview(
    loaded: LoadedCheckpoint, encoding: Encoding, run: ModelRun, settings: Settings
) -> Overview:
    part, sentence = settings.part, settings.sentence
    L, _, H, Q, _ = part_weights(run, part).shape  # [L, B, H, queries, keys]
    L_enc, L_dec = run.attentions.shape[0], run.decoder_attentions.shape[0]
    entropy = part_entropy(run, encoding, part, sentence)  # [L, H]
    position, position_note = _safe_position(loaded) if settings.position else (None, None)
    return Overview(
        layers=L,
        heads=H,
        positions=Q,
        numbering=Note(
            "caption",
            f"An encoder-decoder has two stacks, each numbered from 1: encoder layers 1 … {L_enc} "
            f"(encoder self-attention `outputs.encoder_attentions[l-1]`) and decoder layers 1 … {L_dec} "
            f"(decoder self-attention `outputs.decoder_attentions[l-1]`, cross-attention "
            f"`outputs.cross_attentions[l-1]`). In each stack `hidden_states[0]` is the embeddings and layer l "
            f"turns `hidden_states[l-1]` into `hidden_states[l]`. Heads are numbered from 0 (0 … {H - 1}), as "
            "in the tensors and in bertviz.",
        ),
        causal=Note(
            "info",
            "The decoder is causal: each decoder token may only look at itself and the decoder tokens before "
            "it. The grey upper triangle is the **causal mask**: those weights are exactly 0.",
        )
        if part == "decoder self-attention"
        else None,
        padding=_part_padding(run, encoding, part, sentence),
        entropy=entropy,
        entropy_figure=figures.layer_head_grid(
            entropy, f"{part[0].upper()}{part[1:]}: entropy per {_STACK[part]} layer and head (low = focused)"
        ),
        entropy_caption=_entropy_caption(loaded),
        position=position,
        position_note=position_note,
        part=part,
        part_note=_part_note(run, part, sentence),
    )


def _encoder_decoder_head(
    loaded: LoadedCheckpoint, encoding: Encoding, run: ModelRun, settings: Settings
) -> Head:
    specials = frozenset(getattr(loaded.tokenizer, "all_special_tokens", ()) or ())
    heatmap = _part_heatmap(run, encoding, settings, specials)
    steps, steps_note = None, None
    if settings.steps:
        steps_note = Note("info", STEPS_ENCODER_DECODER)
        if settings.part == "cross-attention" and getattr(run, "decoder_hidden_states", None) is not None:
            try:
                steps, steps_note = _cross_steps(loaded, run, encoding, settings), None
            except ExplorerError as problem:
                steps, steps_note = None, Note("info", str(problem))
    return Head(settings, heatmap, steps, steps_note)


# --- Build ---------------------------------------------------------------------------------------


def clamp(run: ModelRun, settings: Settings) -> Settings:
    """``settings`` with out-of-range values falling back as the widgets' do (the View's numbers
    use these). The bertviz window is clamped by ``bertviz_view`` (it depends on its plan)."""
    if is_encoder_decoder_run(run):
        part = settings.part if settings.part in PARTS else PARTS[0]
        L, B, H, _, _ = part_weights(run, part).shape  # [L, B, H, queries, keys]
        extra = {"part": part, "window": 0}
    else:
        L, B, H, _, _ = run.attentions.shape  # [L, B, H, S, S]
        extra = {}
    return dataclasses.replace(
        settings,
        sentence=min(max(settings.sentence, 0), B - 1),
        layer=settings.layer if 1 <= settings.layer <= L else 1,
        head=settings.head if 0 <= settings.head < H else 0,
        **extra,
    )


def _check(run: ModelRun) -> None:
    if run.attentions is None or run.hidden_states is None:
        raise ValueError("the Attention view needs a run with hidden states and attentions")


def overview(loaded: LoadedCheckpoint, encoding: Encoding, run: ModelRun, settings: Settings) -> Overview:
    """What depends on neither the layer nor the head (the sentence and, for an encoder-decoder,
    the part do count)."""
    _check(run)
    settings = clamp(run, settings)
    if is_encoder_decoder_run(run):
        return _encoder_decoder_overview(loaded, encoding, run, settings)
    L, _, H, S, _ = run.attentions.shape  # [L, B, H, S, S]
    sentence = settings.sentence
    entropy = head_entropy(run, encoding, sentence)  # [L, H]
    return Overview(
        layers=L,
        heads=H,
        positions=S,
        numbering=Note(
            "caption",
            f"Layers are numbered as on every page: `hidden_states[0]` is the embeddings, and layer l "
            f"(1 … {L}) turns `hidden_states[l-1]` into `hidden_states[l]`; its attention weights are "
            f"`outputs.attentions[l-1]`. Heads are numbered from 0 (0 … {H - 1}), as in the tensors and "
            "in bertviz.",
        ),
        causal=Note(
            "info",
            "This is a decoder: each token may only look at itself and the tokens before it. The grey upper "
            "triangle is the **causal mask**: those weights are exactly 0.",
        )
        if loaded.is_decoder
        else None,
        padding=None
        if encoding.attention_mask[sentence].all()
        else Note(
            "caption",
            "Grey columns are padding positions: the attention mask gives them a weight of exactly 0.",
        ),
        entropy=entropy,
        entropy_figure=figures.layer_head_grid(entropy, "Attention entropy per head (low = focused)"),
        entropy_caption=_entropy_caption(loaded),
        position=_position(loaded) if settings.position else None,
    )


def head(loaded: LoadedCheckpoint, encoding: Encoding, run: ModelRun, settings: Settings) -> Head:
    """What depends on the layer and head: the heatmap, and step by step once asked for."""
    _check(run)
    settings = clamp(run, settings)
    if is_encoder_decoder_run(run):
        return _encoder_decoder_head(loaded, encoding, run, settings)
    heatmap = _heatmap(run, encoding, settings, loaded.is_decoder)
    steps, steps_note = None, None
    if settings.steps:
        try:
            steps = _steps(loaded, run, encoding, settings)
        except ExplorerError as problem:
            steps_note = Note("info", str(problem))
    return Head(settings, heatmap, steps, steps_note)


def build(loaded: LoadedCheckpoint, encoding: Encoding, run: ModelRun, settings: Settings) -> View:
    """Everything the Attention page shows for ``settings`` (a run with hidden states and attentions):
    ``overview``, ``head`` and ``bertviz_view`` together (the page draws them as separate parts)."""
    _check(run)
    settings = clamp(run, settings)
    bertviz = bertviz_view(run, encoding, settings)
    settings = dataclasses.replace(settings, window=bertviz.window_start)
    parts = overview(loaded, encoding, run, settings)
    one = head(loaded, encoding, run, settings)
    return View(
        settings=settings,
        heatmap=one.heatmap,
        bertviz=bertviz,
        steps=one.steps,
        steps_note=one.steps_note,
        **{f.name: getattr(parts, f.name) for f in dataclasses.fields(Overview)},
    )

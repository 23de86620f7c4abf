"""Attention: heatmaps per layer and head, bertviz views offline, and attention step by step.

``choices(run, encoding)`` gives the layer and head selectors their options; ``build(...)`` makes
the View: every figure, HTML page and sentence the page shows, computed from the loaded checkpoint,
its encoding and its run. No Streamlit here.

Numbering, as on every page (the course's): hidden_states[0] is the embeddings, then layer 1 … L;
layer l turns hidden_states[l - 1] into hidden_states[l] and its attention is run.attentions[l - 1].
``Settings.layer`` (and a link's ``?layer=``) is that 1-based number. Heads count from 0, as the
tensors and bertviz number them.

Every model's attention is a tuple of parts (explain.attention.attention_parts): an encoder or a
decoder has one, its self-attention. An encoder-decoder (T5, BART) has three, and ``Settings.part``
chooses one: encoder self-attention, decoder causal self-attention or cross-attention (decoder
tokens as queries, encoder tokens as keys); layers are numbered 1 … L within each stack. bertviz
draws them all (Encoder, Decoder, Cross). Step by step covers the parts the app can recompute.

Shapes: L layers, B sentences, H heads, S positions, Q queries, K keys, T real tokens of a
sentence, d = size per head, D = hidden size."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from explorer.drawing import exports, figures
from explorer.drawing.bertviz_html import (
    MODEL_VIEW_TOKENS,
    BertvizPart,
    ViewKind,
    bertviz_html,
    plan_view,
)
from explorer.errors import ExplorerError
from explorer.explain import model_info as info
from explorer.explain.attention import (
    PARTS,
    AttentionPart,
    AttentionSteps,
    AttentionView,
    attention_parts,
    attention_steps,
    attention_view,
    chosen_part,
    entropy,
    real_weights,
)
from explorer.pipeline.encoding import Encoding
from explorer.pipeline.loading import LoadedCheckpoint
from explorer.pipeline.postprocess import SAME_PROBABILITIES
from explorer.pipeline.run import ModelRun
from explorer.views import attention_sentences as say
from explorer.views.common import Download, Note, csv_and_json
from explorer.views.settings import setting

AGGREGATES = ("head", "head average", "layer average")
BERTVIZ = ("head view", "model view", "off")
STEP_WINDOW = say.STEP_WINDOW  # the step-by-step matrices show at most this many positions
INTRO = say.INTRO  # the page's first sentences
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


def is_encoder_decoder(run: ModelRun, encoding: Encoding) -> bool:
    """Whether the run has several attention parts (an encoder-decoder's three)."""
    return len(attention_parts(run, encoding)) > 1


def choices(run: ModelRun, encoding: Encoding, part: str | None = None) -> Choices:
    parts = attention_parts(run, encoding)
    chosen = chosen_part(parts, part)
    names = tuple(p.name for p in parts) if len(parts) > 1 else ()
    return Choices(tuple(range(1, chosen.layers + 1)), tuple(range(chosen.heads)), names)


# --- The View ------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Heatmap:
    """The chosen head's (or average's) [Tq, Tk] matrix, drawn and downloadable."""

    matrix: AttentionView  # an encoder-decoder's cross-attention: queries and keys differ
    figure: Any | None  # plotly Figure; None when no position is left to show
    empty: Note | None  # says why nothing is drawn
    filename: str  # for the chart's image download
    downloads: tuple[Download, ...]  # this matrix as CSV and JSON


@dataclass(frozen=True, kw_only=True)
class Bertviz:
    """bertviz's head or model view for the chosen sentence, drawn offline."""

    kind: str  # "head view", "model view" or "off"
    windowed: bool = False  # the page draws the window slider (too many tokens to draw at once)
    window_low: int = 0  # the window slider's range: first token of the window
    window_high: int = 0
    window_start: int = 0  # the start actually used (the setting, clamped to the range)
    note: Note | None = None  # what the plan left out
    error: Note | None = None  # a missing asset, or an input too long: shown instead of the view
    html: str | None = None  # the self-contained page for an iframe
    height: int = 0  # the iframe's height in pixels
    caption: Note | None = None  # under the view: how to read it, the threshold, the weights drawn
    follows_layer: bool = False  # it draws the chosen layer only: redraw it when the layer changes
    kept: int = 0  # weights sent and drawn (at or above THRESHOLD)
    total: int = 0  # weights of the layers, heads and tokens shown

    @property
    def notes(self) -> tuple[Note, ...]:
        return tuple(n for n in (self.note, self.error) if n is not None)


@dataclass(frozen=True, kw_only=True)
class Steps:
    """Scaled dot-product attention for one head, step by step, from the model's own weights."""

    steps: AttentionSteps  # the numbers (all positions)
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

    @property
    def walk(self) -> tuple[tuple[Note, Any | None, str], ...]:
        """Steps 2 … 6 in the page's order: (sentence, figure or None, the chart's key)."""
        return (
            (self.scores_text, self.scores_figure, "att.step.scores"),
            (self.scale_text, self.masked_figure, "att.step.masked"),
            (self.softmax_text, self.weights_figure, "att.step.weights"),
            (self.agreement, None, ""),
            (self.mix_text, self.output_figure, "att.step.output"),
            (self.multi_head, None, ""),
        )


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


@dataclass(frozen=True, kw_only=True)
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


def _parts(run: ModelRun, encoding: Encoding, loaded: LoadedCheckpoint) -> tuple[AttentionPart, ...]:
    specials = frozenset(getattr(loaded.tokenizer, "all_special_tokens", ()) or ())
    return attention_parts(run, encoding, causal=loaded.is_decoder, special_tokens=specials)


# --- The heatmap ---------------------------------------------------------------------------------

_SLUG = {"encoder self-attention": "encoder", "decoder self-attention": "decoder", "cross-attention": "cross"}


def _axis(side: str | None, role: str, note: str = "") -> str:
    """An axis title: 'key (attended to)' for one stack, 'encoder token (key, attended to)'."""
    if side is None:
        return f"{role} ({note})" if note else role
    return f"{side} token ({role}, {note})" if note else f"{side} token ({role})"


def _heatmap(
    part: AttentionPart, settings: Settings, show: Callable[[Sequence[str]], tuple[str, ...]]
) -> Heatmap:
    matrix = attention_view(
        part,
        sentence=settings.sentence,
        layer=settings.layer - 1,  # layer l (of the part's stack) is index l - 1
        head=settings.head,
        aggregate=settings.aggregate,
        hide_special=settings.hide_special,
        show_padding=settings.show_padding,
    )  # .matrix: [Tq, Tk]
    empty = matrix.matrix.size == 0
    figure = None
    if not empty:
        rows = [
            figures.label(int(p), t)
            for p, t in zip(matrix.query_positions, show(matrix.query_tokens), strict=True)
        ]
        columns = [
            figures.label(int(p), t)
            for p, t in zip(matrix.key_positions, show(matrix.key_tokens), strict=True)
        ]
        figure = figures.part_heatmap(
            matrix.matrix,
            rows,
            columns,
            matrix.title,
            _axis(part.key_side, "key", "attended to"),
            _axis(part.query_side, "query", "attending"),
        )
    slug = _SLUG.get(part.name)
    name = f"{slug}-attention" if slug else "attention"
    return Heatmap(
        matrix=matrix,
        figure=figure,
        empty=Note("info", "No tokens left to show: turn 'Hide special tokens' off.") if empty else None,
        filename=f"attention-{slug + '-' if slug else ''}layer{settings.layer}-head{settings.head}",
        downloads=csv_and_json(
            "this matrix",
            stem=name,
            key="att",
            csv_data=functools.partial(exports.attention_csv, matrix),
            json_data=functools.partial(exports.attention_json, matrix),
        ),
    )


# --- bertviz -------------------------------------------------------------------------------------

OFF = Bertviz(kind="off")
_BERTVIZ_NAMES = {
    "encoder self-attention": "Encoder",
    "decoder self-attention": "Decoder",
    "cross-attention": "Cross",
}


def _bertviz_part(part: AttentionPart, sentence: int, encoding: Encoding) -> BertvizPart:
    """One part for bertviz: the sentence's real tokens only (queries and keys), as shown."""
    rows, columns = part.query_real[sentence], part.key_real[sentence]  # [Q], [K] bool
    return BertvizPart(
        name=_BERTVIZ_NAMES.get(part.name),  # None for a model with one part: no Attention menu
        attentions=real_weights(part, sentence),  # [L, H, Tq, Tk], a view when it can be
        left=encoding.show([t for t, keep in zip(part.query_tokens[sentence], rows, strict=True) if keep]),
        right=encoding.show([t for t, keep in zip(part.key_tokens[sentence], columns, strict=True) if keep]),
    )


def bertviz_view(run: ModelRun, encoding: Encoding, settings: Settings) -> Bertviz:
    """bertviz's head or model view of the chosen sentence (``settings`` as ``clamp`` left them)."""
    kind, layer = settings.bertviz, settings.layer
    if kind == "off":
        return OFF
    every = attention_parts(run, encoding)
    parts = tuple(_bertviz_part(p, settings.sentence, encoding) for p in every)
    view_kind: ViewKind = "head" if kind == "head view" else "model"
    T = max(max(len(p.left), len(p.right)) for p in parts)  # the longest sequence shown
    L = min(p.attentions.shape[0] for p in parts)  # bertviz shows one layer list for all parts
    if view_kind == "model" and T > MODEL_VIEW_TOKENS:
        return dataclasses.replace(
            OFF,
            kind=kind,
            note=say.model_view_too_long(T, L, parts[0].attentions.shape[1], MODEL_VIEW_TOKENS),
        )
    try:  # bertviz labels its layer menu and rows with the numbers it is given: 1 … L, as every page
        plan = plan_view(view_kind, parts, layer=layer, first=1)
    except ExplorerError as problem:  # an encoder-decoder input too long for any view
        return dataclasses.replace(OFF, kind=kind, error=Note("info", str(problem)))
    windowed = plan.stop - plan.start < T
    high = T - (plan.stop - plan.start)
    start = min(max(settings.window, 0), high) if windowed else 0
    if windowed and start != plan.start:
        plan = plan_view(view_kind, parts, layer=layer, first=1, start=start)
    shown = Bertviz(kind=kind, windowed=windowed, window_high=high, window_start=start)
    shown = dataclasses.replace(shown, note=Note("info", plan.note) if plan.note else None)
    try:
        chosen = next((i for i, p in enumerate(every) if p.name == settings.part), 0)
        page = bertviz_html(view_kind, parts, plan, layer=layer, shown_part=chosen)
    except ExplorerError as problem:
        return dataclasses.replace(shown, error=Note("error", str(problem)))
    height = 120 + 24 * (plan.stop - plan.start) if view_kind == "head" else 80 + 100 * len(plan.layers)
    reading = say.READING[view_kind, len(parts) > 1]
    drawn = f" Drawn offline, {page.payload_bytes / 1024:,.0f} KB of attention data."
    return dataclasses.replace(
        shown,
        html=page.html,
        height=min(height, MAX_IFRAME_HEIGHT),
        caption=Note("caption", reading + say.faint(plan) + drawn),
        follows_layer=view_kind == "head" and len(plan.layers) < L,
        kept=plan.kept,
        total=plan.total,
    )


# --- Step by step --------------------------------------------------------------------------------


def _token_axis(side: str | None) -> str:
    return f"{side} token" if side else "token"


def _step_figures(
    steps: AttentionSteps,
    part: AttentionPart,
    scaled_name: str,
    show: Callable[[Sequence[str]], tuple[str, ...]],
) -> dict[str, Any]:
    """Step by step's figures (Steps' fields), of the first STEP_WINDOW queries and keys."""
    Q, K = len(steps.query_tokens), len(steps.key_tokens)
    rows, columns = slice(0, min(Q, STEP_WINDOW)), slice(0, min(K, STEP_WINDOW))
    queries = [figures.label(p, t) for p, t in enumerate(show(steps.query_tokens))][rows]
    keys = [figures.label(p, t) for p, t in enumerate(show(steps.key_tokens))][columns]
    dims = [str(i) for i in range(steps.head_dim)]
    key_axis, query_axis = _axis(part.key_side, "key"), _axis(part.query_side, "query")

    def projection(name: str, matrix: np.ndarray, labels: list[str], side: str | None) -> Any:  # [N, d]
        title = f"{name} ({side})" if side else name
        return figures.matrix_heatmap(matrix, labels, dims, title, "dimension", _token_axis(side))

    def scores(matrix: np.ndarray, title: str) -> Any:  # [Q, K]
        return figures.matrix_heatmap(matrix[rows, columns], queries, keys, title, key_axis, query_axis)

    weights = np.where(steps.allowed, steps.weights, np.nan)[rows, columns]  # [Q, K] shown
    return {
        "projections": (
            ("Q", projection("Q", steps.q[rows], queries, part.query_side)),
            ("K", projection("K", steps.k[columns], keys, part.key_side)),
            ("V", projection("V", steps.v[columns], keys, part.key_side)),
        ),
        "scores_figure": scores(steps.scores, "Q·Kᵀ"),
        "masked_figure": scores(steps.masked, f"{scaled_name}, masked (grey = −∞)"),
        "weights_figure": figures.part_heatmap(
            weights,
            queries,
            keys,
            f"softmax({scaled_name} + mask)",
            _axis(part.key_side, "key", "attended to"),
            _axis(part.query_side, "query", "attending"),
        ),
        "output_figure": figures.matrix_heatmap(
            steps.output[rows], queries, dims, "weights · V", "dimension", _token_axis(part.query_side)
        ),
    }


def _steps(
    loaded: LoadedCheckpoint, run: ModelRun, encoding: Encoding, settings: Settings, part: AttentionPart
) -> Steps:
    layer, head, sentence = settings.layer, settings.head, settings.sentence  # layer: 1 … L
    steps = attention_steps(
        loaded, run, encoding, layer=layer - 1, head=head, sentence=sentence, part=part.name
    )
    said = (
        say.cross_sentences(steps)
        if part.name == "cross-attention"
        else say.self_sentences(steps, part.causal)
    )
    return Steps(
        steps=steps,
        window_note=Note("caption", said.window) if said.window else None,
        intro=Note("markdown", said.intro),
        project=Note("markdown", said.project),
        scores_text=Note("markdown", said.scores),
        scale_text=Note("markdown", said.scale),
        softmax_text=Note("markdown", said.softmax),
        agreement=said.agreement,
        same=steps.max_abs_difference < SAME_PROBABILITIES,
        mix_text=Note("markdown", said.mix),
        multi_head=Note("markdown", said.multi_head),
        **_step_figures(steps, part, said.scaled_name, encoding.show),
    )


# --- Where position comes from -------------------------------------------------------------------


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
    table = position.sinusoidal  # [P, d]
    if table is None:
        raise ValueError("position_info gave no sinusoidal table")
    P, d = table.shape
    sinusoidal = figures.matrix_heatmap(
        table,
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


def _position_of(
    loaded: LoadedCheckpoint, settings: Settings, several: bool
) -> tuple[Position | None, Note | None]:
    """Only once asked for (Settings.position); for an encoder-decoder, a note when not explained."""
    if not settings.position:
        return None, None
    return _safe_position(loaded) if several else (_position(loaded), None)


# --- Build ---------------------------------------------------------------------------------------


def clamp(run: ModelRun, encoding: Encoding, settings: Settings) -> Settings:
    """``settings`` with out-of-range values falling back as the widgets' do (the View's numbers
    use these). The bertviz window is clamped by ``bertviz_view`` (it depends on its plan)."""
    parts = attention_parts(run, encoding)
    part = chosen_part(parts, settings.part)
    L, B, H, _, _ = part.weights.shape  # [L, B, H, Q, K]
    settings = dataclasses.replace(
        settings,
        sentence=min(max(settings.sentence, 0), B - 1),
        layer=settings.layer if 1 <= settings.layer <= L else 1,
        head=settings.head if 0 <= settings.head < H else 0,
    )
    if len(parts) > 1:  # an encoder-decoder: the part as used; bertviz has no token window for it
        settings = dataclasses.replace(settings, part=part.name, window=0)
    return settings


def _check(run: ModelRun) -> None:
    if run.attentions is None or run.hidden_states is None:
        raise ValueError("the Attention view needs a run with hidden states and attentions")


def overview(loaded: LoadedCheckpoint, encoding: Encoding, run: ModelRun, settings: Settings) -> Overview:
    """What depends on neither the layer nor the head (the sentence and, for an encoder-decoder,
    the part do count)."""
    _check(run)
    settings = clamp(run, encoding, settings)
    parts = _parts(run, encoding, loaded)
    part, sentence, several = chosen_part(parts, settings.part), settings.sentence, len(parts) > 1
    bits = entropy(part, sentence)  # [L, H]
    position, position_note = _position_of(loaded, settings, several)
    return Overview(
        layers=part.layers,
        heads=part.heads,
        positions=int(part.weights.shape[3]),  # Q
        numbering=say.numbering(parts),
        causal=say.causal(part),
        padding=say.padding(part, sentence),
        entropy=bits,
        entropy_figure=figures.layer_head_grid(bits, say.entropy_title(part)),
        entropy_caption=say.entropy_caption(loaded),
        position=position,
        position_note=position_note,
        part=part.name if several else None,
        part_note=say.part_note(part, sentence) if several else None,
    )


def head(loaded: LoadedCheckpoint, encoding: Encoding, run: ModelRun, settings: Settings) -> Head:
    """What depends on the layer and head: the heatmap, and step by step once asked for."""
    _check(run)
    settings = clamp(run, encoding, settings)
    part = chosen_part(_parts(run, encoding, loaded), settings.part)
    steps, steps_note = None, None
    recomputed = part.query_side is None or (
        part.name == "cross-attention" and run.decoder_hidden_states is not None
    )  # the parts step by step covers
    if settings.steps and not recomputed:
        steps_note = Note("info", say.STEPS_ENCODER_DECODER)
    elif settings.steps:
        try:
            steps = _steps(loaded, run, encoding, settings, part)
        except ExplorerError as problem:
            steps_note = Note("info", str(problem))
    return Head(
        settings=settings, heatmap=_heatmap(part, settings, encoding.show), steps=steps, steps_note=steps_note
    )


def build(loaded: LoadedCheckpoint, encoding: Encoding, run: ModelRun, settings: Settings) -> View:
    """Everything the Attention page shows for ``settings`` (a run with hidden states and attentions):
    ``overview``, ``head`` and ``bertviz_view`` together (the page draws them as separate parts)."""
    _check(run)
    settings = clamp(run, encoding, settings)
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

"""A layer, step by step: the input embeddings (token + segment + position, then the norm) and one
whole transformer layer recomputed from the model's own weights, each tensor with its shape, ending
in the layer's output and its difference from the model's own hidden state.

``layer_options(run)`` gives the layer selector its options (1…L, as the course numbers layers);
``build(...)`` makes the View. The numbers come from explorer.explain.layer; no Streamlit here."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from explorer.drawing import figures
from explorer.drawing.flow import WidthRow, width_strip_html
from explorer.errors import ExplorerError
from explorer.explain.attention import attention_mask_2d
from explorer.explain.layer import SAME_HIDDEN_STATE, Step, Walk, embedding_steps, layer_steps
from explorer.pipeline.encoding import Encoding
from explorer.pipeline.loading import LoadedCheckpoint
from explorer.pipeline.run import ModelRun
from explorer.views.common import Note, Table, table
from explorer.views.settings import setting

WINDOW_POSITIONS = 48  # the heatmaps show at most this many positions…
WINDOW_DIMENSIONS = 64  # …and this many dimensions of each vector
FIGURE_HEIGHT = 360


@dataclass(frozen=True)
class Settings:
    PREFIX: ClassVar[str] = "layer"

    sentence: int = setting("int", "Sentence", 0, high=64)
    # Layers are numbered as the course does: hidden_states[0] is the embeddings, layer l (1…L)
    # turns hidden_states[l - 1] into hidden_states[l].
    layer: int = setting("int", "Layer", 1, low=1, high=1000)
    # The one step drawn as a heatmap: "<section>.<step key>", e.g. "layer.activation" (the
    # feed-forward's wide tensor) or "embeddings.token"; the tables list every step.
    step: str = setting(
        "str",
        "Step to draw",
        "layer.input",
        widget="selectbox",
        help="One heatmap at a time: the tables above list every step and its shape.",
    )


def layer_options(run: ModelRun) -> tuple[int, ...]:
    """1…L: the layers the selector offers."""
    if run.hidden_states is None:
        raise ValueError("the layer selector needs a run with hidden states")
    return tuple(range(1, run.hidden_states.shape[0]))  # hidden_states: [L + 1, B, S, D]


def layer_label(layer: int) -> str:
    return f"layer {layer}"


@dataclass(frozen=True)
class StepView:
    step: Step  # the operation and its tensor
    text: Note  # "**3. Queries.** … Shape **[12, 4 × 16 = 64]** (position × heads × head size)."
    figure: Any | None  # a heatmap of the tensor's first positions and dimensions: the chosen step's only
    value: str = ""  # its value in Settings.step, e.g. "layer.queries"


@dataclass(frozen=True, kw_only=True)
class Section:
    """The embeddings, or one layer: its steps and how the result compares with the model's."""

    walk: Walk  # the numbers
    intro: Note
    facts: tuple[Note, ...]  # what this architecture does differently
    overview: Table  # one row per step: what it is and the tensor's shape
    widths_html: str  # each step's width per position, drawn to scale, the heatmap's part marked
    steps: tuple[StepView, ...]
    agreement: Note  # success within SAME_HIDDEN_STATE of the model's hidden state, warning otherwise
    same: bool

    @property
    def notes(self) -> tuple[Note, ...]:
        return (self.intro, *self.facts)


@dataclass(frozen=True, kw_only=True)
class View:
    settings: Settings  # as used (sentence and layer fall back to what exists)
    layers: tuple[int, ...]  # 1…L
    embeddings: Section | None  # None when this architecture is not covered: see `unsupported`
    layer: Section | None
    unsupported: Note | None
    chosen: StepView | None = None  # the step drawn (settings.step), with its heatmap
    window: Note | None = None  # what part of the chosen step's tensor the heatmap draws
    step_labels: tuple[tuple[str, str], ...] = ()  # (value, label) of every step, in page order

    @property
    def step_options(self) -> tuple[str, ...]:
        return tuple(value for value, _ in self.step_labels)

    def step_label(self, value: str) -> str:
        return dict(self.step_labels).get(value, value)


def _axes(step: Step) -> str:
    return " × ".join(step.axes)


def _figure(step: Step, tokens: tuple[str, ...], allowed: np.ndarray) -> Any:
    """A heatmap of the step's tensor: first WINDOW_POSITIONS positions, first WINDOW_DIMENSIONS
    dimensions; of head 0 for per-head tensors."""
    tensor = step.tensor
    rows = slice(0, WINDOW_POSITIONS)
    labels = [figures.label(p, t) for p, t in enumerate(tokens)][rows]
    if step.key == "weights":  # [H, S, S]
        weights = np.where(allowed, tensor[0], np.nan)[rows, rows]  # [T, T]
        figure = figures.attention_heatmap(
            weights,
            list(range(len(tokens)))[rows],
            tokens[rows],
            f"{step.title}, head 0 of {tensor.shape[0]}",
        )
    else:
        matrix = tensor[0] if tensor.ndim == 3 else tensor  # [S, X]
        title = f"{step.title} {step.shape_text}" + (
            f", head 0 of {tensor.shape[0]}" if tensor.ndim == 3 else ""
        )
        columns = min(matrix.shape[1], WINDOW_DIMENSIONS)
        figure = figures.matrix_heatmap(
            matrix[rows, :columns],
            labels,
            [str(i) for i in range(columns)],
            title,
            "dimension",
            "token",
        )
    figure.update_layout(height=FIGURE_HEIGHT)
    return figure


def per_position(step: Step) -> int:
    """How many numbers the step holds per position: X of [S, X]; H × d of [H, S, d]; H × S of the
    weights [H, S, S] (the position axis is the one of length S that is not a head axis)."""
    positions = step.tensor.shape[1] if step.tensor.ndim == 3 else step.tensor.shape[0]
    return int(step.tensor.size // positions)


def drawn_columns(step: Step, S: int) -> int:
    """How many of the step's per-position numbers its heatmap draws (head 0's first columns)."""
    if step.key == "weights":  # [H, S, S]: head 0's weights over the first keys
        return min(S, WINDOW_POSITIONS)
    return min(step.tensor.shape[-1], WINDOW_DIMENSIONS)


def _widths(walk: Walk) -> str:
    S = len(walk.tokens)
    return width_strip_html(
        [
            WidthRow(f"{number}. {step.title}", step.shape_text, per_position(step), drawn_columns(step, S))
            for number, step in enumerate(walk.steps, start=1)
        ]
    )


def _agreement(walk: Walk, what: str) -> Note:
    S = len(walk.tokens)
    compared = int(walk.compared.sum())
    where = (
        f"at all {S} positions, padding included"
        if compared == S and what == "embeddings"
        else f"at the {compared} real tokens" + (" (padding positions excluded)" if compared < S else "")
    )
    text = (
        f"Compared with **{walk.reference_name}**, the model's own {what}, {where}: largest absolute "
        f"difference **{walk.max_abs_difference:.2e}**"
    )
    if walk.same:
        return Note("success", f"{text} — the same (within {SAME_HIDDEN_STATE:.0e}).")
    return Note(
        "warning",
        f"{text} — more than {SAME_HIDDEN_STATE:.0e}: this recomputation does not reproduce the model.",
    )


def _section(walk: Walk, intro: str, what: str, name: str) -> Section:
    steps = []
    for number, step in enumerate(walk.steps, start=1):
        text = f"**{number}. {step.title}.** {step.operation} Shape **{step.shape_text}** ({_axes(step)})."
        steps.append(StepView(step, Note("markdown", text), None, f"{name}.{step.key}"))
    return Section(
        walk=walk,
        intro=Note("markdown", intro),
        facts=tuple(Note("markdown", fact) for fact in walk.facts),
        overview=table(
            [
                {"step": number, "operation": step.title, "shape": step.shape_text, "axes": _axes(step)}
                for number, step in enumerate(walk.steps, start=1)
            ],
            index="step",
        ),
        widths_html=_widths(walk),
        steps=tuple(steps),
        agreement=_agreement(walk, what),
        same=walk.same,
    )


def _window(step: Step, S: int) -> Note:
    """What the chosen step's heatmap draws of its tensor, said with the whole width."""
    width, drawn = per_position(step), drawn_columns(step, S)
    rows = min(S, WINDOW_POSITIONS)
    positions = f"all {S} positions" if rows == S else f"the first {rows} of {S} positions"
    head = f" (head 0 of {step.tensor.shape[0]})" if step.tensor.ndim == 3 else ""
    share = f"all {drawn}" if drawn == width else f"the first {drawn} of {width:,} ({drawn / width:.0%})"
    return Note(
        "caption",
        f"The heatmap draws {positions} and {share} numbers per position{head}; the strips below show the "
        f"whole width of every step to scale (the darker part is what a heatmap draws).",
    )


def _embeddings_intro(walk: Walk) -> str:
    """What the embeddings are made of, read from the walk's steps (the architecture table decided them)."""
    keys = {step.key for step in walk.steps}
    added = [part for part in ("token", "segment", "position") if part in keys]
    after = [
        what
        for key, what in (("norm", "a LayerNorm"), ("projection", "a projection to the hidden size"))
        if key in keys
    ]
    if len(added) == 1:
        parts = f"the {added[0]} embeddings alone"
    else:
        parts = " + ".join(added) + " embeddings, summed"
        parts += "".join(f", {what}" for what in after[:-1]) + (f", then {after[-1]}" if after else "")
    return (
        f"Before the first layer, each token ID becomes a vector: here, {parts}. "
        f"Sentence {walk.sentence}, {len(walk.tokens)} positions."
    )


def _layer_intro(layer: int, layers: int) -> str:
    before = (
        "hidden_states[0], the embeddings"
        if layer == 1
        else f"hidden_states[{layer - 1}], layer {layer - 1}'s output"
    )
    return (
        f"Layer {layer} of {layers} turns {before}, into hidden_states[{layer}]. Attention lets each position "
        "gather information from the others; the feed-forward network then transforms each position on its own. "
        "Every step below calls one of the model's own modules on the step before."
    )


def build(loaded: LoadedCheckpoint, encoding: Encoding, run: ModelRun, settings: Settings) -> View:
    """Everything the page shows for ``settings`` (a run that kept its hidden states)."""
    if run.hidden_states is None:
        raise ValueError("the layer view needs a run with hidden states")
    layers = layer_options(run)
    B = encoding.shape[0]
    settings = dataclasses.replace(  # out-of-range values fall back as the widgets' do
        settings,
        sentence=settings.sentence if 0 <= settings.sentence < B else 0,
        layer=settings.layer if settings.layer in layers else 1,
    )
    sentence, layer = settings.sentence, settings.layer
    try:
        embeddings = embedding_steps(loaded, run, encoding, sentence=sentence)
        walk = layer_steps(loaded, run, encoding, layer=layer, sentence=sentence)
    except ExplorerError as problem:
        return View(
            settings=settings,
            layers=layers,
            embeddings=None,
            layer=None,
            unsupported=Note("info", str(problem)),
        )
    sections = (
        _section(embeddings, _embeddings_intro(embeddings), "embeddings", "embeddings"),
        _section(walk, _layer_intro(layer, len(layers)), f"output of layer {layer}", "layer"),
    )
    shown = [one for section in sections for one in section.steps]
    chosen = next((one for one in shown if one.value == settings.step), None)
    if chosen is None:  # a step this architecture does not have (a link, another model): the default
        default = Settings.step
        chosen = next((one for one in shown if one.value == default), shown[0])
        settings = dataclasses.replace(settings, step=chosen.value)
    allowed = attention_mask_2d(encoding, sentence, causal=loaded.is_decoder)  # [S, S]
    figure = _figure(chosen.step, walk.shown, allowed)
    return View(
        settings=settings,
        layers=layers,
        embeddings=sections[0],
        layer=sections[1],
        unsupported=None,
        chosen=dataclasses.replace(chosen, figure=figure),
        window=_window(chosen.step, len(walk.tokens)),
        step_labels=_step_labels(sections),
    )


def _step_labels(sections: tuple[Section, Section]) -> tuple[tuple[str, str], ...]:
    """(value, "Layer · 9. Feed-forward: widen [12, 1536]") for every step: what the picker lists."""
    return tuple(
        (one.value, f"{name} · {number}. {one.step.title} {one.step.shape_text}")
        for name, section in zip(("Embeddings", "Layer"), sections, strict=True)
        for number, one in enumerate(section.steps, start=1)
    )

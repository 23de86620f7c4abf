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
    figure: Any | None  # a heatmap of the tensor's first positions and dimensions


@dataclass(frozen=True, kw_only=True)
class Section:
    """The embeddings, or one layer: its steps and how the result compares with the model's."""

    walk: Walk  # the numbers
    intro: Note
    facts: tuple[Note, ...]  # what this architecture does differently
    overview: Table  # one row per step: what it is and the tensor's shape
    window: Note | None  # the heatmaps show only the first positions / dimensions
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


def _section(walk: Walk, intro: str, what: str, allowed: np.ndarray) -> Section:
    S = len(walk.tokens)
    steps = []
    for number, step in enumerate(walk.steps, start=1):
        text = f"**{number}. {step.title}.** {step.operation} Shape **{step.shape_text}** ({_axes(step)})."
        steps.append(StepView(step, Note("markdown", text), _figure(step, walk.shown, allowed)))
    widest = max(step.tensor.shape[-1] for step in walk.steps)
    window = None
    if S > WINDOW_POSITIONS or widest > WINDOW_DIMENSIONS:
        window = Note(
            "caption",
            f"Every step is computed on all {S} positions and every dimension; the heatmaps show at most the "
            f"first {WINDOW_POSITIONS} positions and {WINDOW_DIMENSIONS} dimensions.",
        )
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
    agreement = (
        Note("success", f"{text} — the same (within {SAME_HIDDEN_STATE:.0e}).")
        if walk.same
        else Note(
            "warning",
            f"{text} — more than {SAME_HIDDEN_STATE:.0e}: this recomputation does not reproduce the model.",
        )
    )
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
        window=window,
        steps=tuple(steps),
        agreement=agreement,
        same=walk.same,
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
    allowed = attention_mask_2d(encoding, sentence, causal=loaded.is_decoder)  # [S, S]
    return View(
        settings=settings,
        layers=layers,
        embeddings=_section(embeddings, _embeddings_intro(embeddings), "embeddings", allowed),
        layer=_section(walk, _layer_intro(layer, len(layers)), f"output of layer {layer}", allowed),
        unsupported=None,
    )

"""Inside the model: the config, hidden states layer by layer, and what each head class returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import plotly.graph_objects as go

from explorer import exports, figures
from explorer import model_info as info
from explorer.encoding import Encoding
from explorer.loading import HEAD_DESCRIPTIONS, LoadedCheckpoint
from explorer.run import ModelRun
from explorer.settings import setting
from explorer.views.common import Note, Table, table

SHOWN_TOKENS = 64  # the trajectory charts draw at most this many tokens


@dataclass(frozen=True)
class Settings:
    PREFIX: ClassVar[str] = "model"

    sentence: int = setting("int", "Sentence", 0, high=64)


@dataclass(frozen=True)
class ConfigPart:
    card: info.ConfigCard  # every number of the table, read from the config and the weights
    table: Table  # one row per (label, value) of the card
    sentence: Note  # what the numbers mean, true for this config


@dataclass(frozen=True)
class HiddenPart:
    count: int  # L + 1 tensors
    shape: tuple[int, int, int]  # [B, S, D] of each tensor, as the run returned it
    sentence: Note
    table: Table  # one row per hidden_states[i]: what it is, its shape, mean vector length


@dataclass(frozen=True)
class TrajectoryPart:
    sentence: int  # the sentence of the batch shown
    tokens: int  # T, real tokens of that sentence
    shown: int  # min(T, SHOWN_TOKENS): tokens drawn
    limit_note: Note | None  # says that only the first tokens are drawn
    norms_figure: go.Figure  # [L + 1, shown] vector lengths
    change_figure: go.Figure  # [L, shown] cosine with the layer before
    caption: Note
    csv: str  # every real token's vector lengths, all T of them


@dataclass(frozen=True)
class HeadsPart:
    shapes: tuple[info.HeadShape, ...]
    table: Table
    caption: Note


@dataclass(frozen=True)
class View:
    config: ConfigPart
    hidden: HiddenPart | None  # None when the run kept no hidden states (see `missing`)
    trajectory: TrajectoryPart | None
    heads: HeadsPart
    missing: Note | None = None


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _final_norm(model: Any) -> str | None:
    """The name of the final normalisation a decoder applies to its last hidden state (GPT-2's
    ln_f, Llama's norm); transformers returns the last hidden state after it."""
    for name in ("ln_f", "norm", "final_layer_norm"):
        if getattr(model.base_model, name, None) is not None:
            return name
    return None


def _config_sentence(card: info.ConfigCard) -> str:
    """What the card's numbers mean; every equation in it holds for this config."""
    head, model = card.head_class, card.model_class
    article = "an" if model[:1].lower() in "aeiou" else "a"
    first = f"`{head}` loaded {article} `{model}`: {HEAD_DESCRIPTIONS.get(head, 'a model')}."
    if card.layers == 1:
        lead = "Its one layer has"
    elif card.layers:
        lead = f"Each of the {card.layers} layers has"
    else:
        lead = "Each layer has"
    width = card.attention_width or (card.heads * card.head_dim if card.heads and card.head_dim else None)
    notes = []
    if card.heads and card.head_dim:
        heads = f"{card.heads} attention heads of size {card.head_dim}"
        if card.hidden_size and width == card.hidden_size:
            heads += f" ({card.heads} × {card.head_dim} = {width} = the hidden size)"
        elif card.hidden_size and width:
            notes.append(
                f"The queries are projected from the hidden size {card.hidden_size} to "
                f"{card.heads} × {card.head_dim} = {width}, and the heads' outputs back to {card.hidden_size}."
            )
    else:
        heads = "attention heads"
    if card.heads and card.key_value_heads and card.key_value_heads != card.heads:
        text = f"Keys and values have only {card.key_value_heads} heads"
        if card.heads % card.key_value_heads == 0:
            text += (
                f", each shared by {card.heads // card.key_value_heads} query heads (grouped-query attention)"
            )
        notes.append(text + ".")
    if card.intermediate_size and card.hidden_size:
        verb = "widens" if card.intermediate_size > card.hidden_size else "turns"
        ff = (
            f"a feed-forward network that {verb} each vector to {card.intermediate_size} values "
            f"and back to {card.hidden_size}"
        )
    else:
        ff = "a feed-forward network"
    if card.weight_groups is not None and card.layers and card.weight_groups < card.layers:
        notes.append(f"The {card.layers} layers share {_count(card.weight_groups, 'set')} of weights.")
    return first + "\n\n" + " ".join([f"{lead} {heads}, then {ff}.", *notes])


def _config_part(loaded: LoadedCheckpoint) -> ConfigPart:
    card = info.config_card(loaded)
    rows = table([{"": label, "value": value} for label, value in card.rows()], index="")
    return ConfigPart(card, rows, Note("markdown", _config_sentence(card)))


def _hidden_part(
    loaded: LoadedCheckpoint, card: info.ConfigCard, run: ModelRun, encoding: Encoding
) -> HiddenPart:
    hidden = run.hidden_states  # [L + 1, B, S, D]
    rows = info.hidden_state_rows(run, encoding)
    layers = len(rows) - 1
    B, S, D = (int(n) for n in hidden.shape[1:])
    norm = _final_norm(loaded.model)
    names = [r.name for r in rows]
    if card.embedding_size is not None:
        names[0] = f"embeddings (projected from {card.embedding_size} to {D})"
    if norm is not None and layers > 0:
        names[-1] = f"layer {layers}, after the final norm ({norm})"
    text = (
        f"`output_hidden_states=True` returns {len(rows)} tensors: the embeddings, then the output of each of "
        f"the {_count(layers, 'layer')}"
        + (f" (the last one after the model's final normalisation, `{norm}`)" if norm is not None else "")
        + f". Each has the shape **[batch, sequence, hidden] = [{B}, {S}, {D}]**."
    )
    view_table = table(
        [
            {
                "hidden_states[i]": i,
                "what": name,
                "shape": str([int(n) for n in r.shape]),
                "mean vector length": round(r.mean_norm, 2),
            }
            for i, (name, r) in enumerate(zip(names, rows, strict=True))
        ],
        index="hidden_states[i]",
    )
    return HiddenPart(len(rows), (B, S, D), Note("markdown", text), view_table)


def _trajectory_part(run: ModelRun, encoding: Encoding, sentence: int) -> TrajectoryPart:
    path = info.trajectory(run, encoding, sentence)  # norms [L + 1, T], change [L, T]
    T = len(path.tokens)
    shown = min(T, SHOWN_TOKENS)
    tokens = path.tokens[:shown]
    norms = path.norms[:, :shown]  # [L + 1, shown]
    change = path.change[:, :shown]  # [L, shown]
    return TrajectoryPart(
        sentence=sentence,
        tokens=T,
        shown=shown,
        limit_note=(
            Note("caption", f"The charts show the first {SHOWN_TOKENS} of {T} tokens.")
            if T > SHOWN_TOKENS
            else None
        ),
        norms_figure=figures.layer_lines(
            norms, tokens, "Length of each token's vector through the layers", "vector norm"
        ),
        change_figure=figures.matrix_heatmap(
            change,
            [f"layer {i}" for i in range(1, change.shape[0] + 1)],
            [figures.label(t, token) for t, token in enumerate(tokens)],
            "How much each layer turns each token's vector (cosine similarity with the layer before)",
            "token",
            "layer",
            diverging=False,
            value_name="cosine",
        ),
        caption=Note(
            "caption",
            "1 means the layer kept the vector's direction; lower values mean the layer changed it more.",
        ),
        csv=exports.trajectory_csv(path),
    )


def _heads_part(loaded: LoadedCheckpoint, encoding: Encoding) -> HeadsPart:
    shapes = info.head_shapes(loaded, encoding)
    rows = table(
        [
            {
                "head class": h.head_class,
                "output": h.output,
                "shape": str([("?" if n is None else int(n)) for n in h.shape]),
                "axes": h.axes,
                "this checkpoint": "✔ loaded" if h.loaded else "",
            }
            for h in shapes
        ],
        index="head class",
    )
    text = (
        "The same body with a different head: a classifier reads one vector per sentence, language-model "
        "heads score every vocabulary token at every position."
    )
    if loaded.head_class == "AutoModelForSequenceClassification":
        labels = getattr(loaded.config, "id2label", None) or {}
        text += " This classifier's labels: " + ", ".join(str(v) for v in labels.values()) + "."
    return HeadsPart(shapes, rows, Note("caption", text))


def build(loaded: LoadedCheckpoint, encoding: Encoding, run: ModelRun, settings: Settings) -> View:
    """Everything the model page shows, from the loaded checkpoint and one run that kept its
    hidden states (``run_model(..., hidden_states=True)``)."""
    config = _config_part(loaded)
    heads = _heads_part(loaded, encoding)
    if run.hidden_states is None:
        missing = Note("info", "This run kept no hidden states, so the layer-by-layer view is not shown.")
        return View(config, None, None, heads, missing)
    B = encoding.shape[0]
    sentence = settings.sentence if 0 <= settings.sentence < B else 0
    return View(
        config,
        _hidden_part(loaded, config.card, run, encoding),
        _trajectory_part(run, encoding, sentence),
        heads,
    )

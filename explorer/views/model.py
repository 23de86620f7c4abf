"""Inside the model: the config, hidden states layer by layer, what each head class returns, the
attention mask's effect, and the architecture against the checkpoint (other sizes, random weights)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import plotly.graph_objects as go

from explorer.drawing import exports, figures
from explorer.errors import InputError
from explorer.explain import compare
from explorer.explain import model_info as info
from explorer.pipeline import tasks
from explorer.pipeline.encoding import Encoding
from explorer.pipeline.loading import HEAD_DESCRIPTIONS, LoadedCheckpoint, encoder_decoder_note
from explorer.pipeline.run import ModelRun
from explorer.views.common import Note, Table, table
from explorer.views.settings import setting
from explorer.words import count

SHOWN_TOKENS = 64  # the trajectory charts draw at most this many tokens
# Up to this many tokens the vector lengths are a line per token; above, a heatmap (a legend of 64
# lines is unreadable, and 64 traces are slow for the browser to draw).
LINES_AT_MOST = 12
# Above this size the offer to build a copy with random weights also says what memory it needs
# (SmolLM2: 135M parameters, about 2 s and 540 MB).
RANDOM_AUTO_PARAMETERS = 50_000_000
SHOWN_NUMBERS = 4
ENCODER_ONLY = (
    "The hidden states, the charts and the attention mask's effect on this page are the **encoder's** "
    "(the part that reads the text, `encoder_hidden_states`); the decoder's layers and what it generates "
    "are on the home page (Pipeline) and the Generation page."
)  # the mask table shows this many numbers of a vector


@dataclass(frozen=True)
class Settings:
    PREFIX: ClassVar[str] = "model"

    sentence: int = setting("int", "Sentence", 0, high=64)
    # Two sections that cost extra forward passes are computed only when opened (a shared link
    # that opened them opens them again).
    mask: bool = setting(
        "bool",
        "Run the comparison (3 more forward passes)",
        False,
        widget="toggle",
        url="mask",
        help="The first sentence alone, padded with its attention mask, and padded without it.",
    )
    random: bool = setting(
        "bool",
        "Build the copy with random weights and compare",
        False,
        widget="toggle",
        url="random",
        help="The same config with random weights (seeded), run on the same two sentences as the checkpoint.",
    )


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


@dataclass(frozen=True, kw_only=True)
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


@dataclass(frozen=True, kw_only=True)
class MaskPart:
    """The attention mask's effect; only ``offer`` (not computed) or ``missing`` (cannot be) when
    there is no effect to show."""

    effect: compare.MaskEffect | None = None  # None when the sentence cannot be padded (see `missing`)
    intro: Note | None = None  # the three runs
    table: Table | None = None  # one row per run: the mask it got, its numbers, its largest difference
    with_mask: Note | None = None  # (b) against (a), from the numbers
    without_mask: Note | None = None  # (c) against (a), from the numbers
    missing: Note | None = None
    offer: Note | None = None  # not computed: the section is closed (Settings.mask), and what opening it does


@dataclass(frozen=True, kw_only=True)
class ArchitecturePart:
    checkpoint: compare.ConfigSizes  # this checkpoint's config
    defaults: compare.ConfigSizes | None  # type(config)(): None if the class needs arguments
    defaults_name: str  # e.g. "BertConfig() defaults (the size of bert-base)"
    table: Table  # one row per size, one column per config
    sentence: Note


@dataclass(frozen=True)
class RandomPart:
    comparison: compare.RandomComparison | None = None  # None until built (see `offer`)
    table: Table | None = None
    sentence: Note | None = None
    offer: Note | None = None  # not built (Settings.random is off): what building it costs


@dataclass(frozen=True, kw_only=True)
class View:
    config: ConfigPart
    hidden: HiddenPart | None  # None when the run kept no hidden states (see `missing`)
    trajectory: TrajectoryPart | None
    heads: HeadsPart
    missing: Note | None = None
    mask: MaskPart | None = None
    architecture: ArchitecturePart | None = None
    random: RandomPart | None = None
    # An encoder-decoder: the hidden states, charts and mask effect here are the encoder's.
    encoder_only: Note | None = None


def _final_norm(model: Any) -> str | None:
    """The name of the final normalisation a decoder applies to its last hidden state (GPT-2's
    ln_f, Llama's norm); transformers returns the last hidden state after it."""
    if getattr(model.config, "is_encoder_decoder", False):  # the hidden states shown are the encoder's
        encoder = model.get_encoder()
        for name in ("final_layer_norm", "layer_norm"):  # T5's, mBART's; BART's encoder has none
            if getattr(encoder, name, None) is not None:
                return f"encoder.{name}"
        return None
    for name in ("ln_f", "norm", "final_layer_norm"):
        if getattr(model.base_model, name, None) is not None:
            return name
    return None


def _config_sentence(card: info.ConfigCard, head_description: str | None = None) -> str:
    """What the card's numbers mean; every equation in it holds for this config. ``head_description``
    says what the head does (the checkpoint's task: an NLI classifier reads sentence pairs)."""
    head, model = card.head_class, card.model_class
    article = "an" if model[:1].lower() in "aeiou" else "a"
    description = head_description or HEAD_DESCRIPTIONS.get(head, "a model")
    first = f"`{head}` loaded {article} `{model}`: {description}."
    notes: list[str] = []
    heads = _heads_clause(card, notes)
    if card.heads and card.key_value_heads and card.key_value_heads != card.heads:
        text = f"Keys and values have only {card.key_value_heads} heads"
        if card.heads % card.key_value_heads == 0:
            text += (
                f", each shared by {card.heads // card.key_value_heads} query heads (grouped-query attention)"
            )
        notes.append(text + ".")
    if card.weight_groups is not None and card.layers and card.weight_groups < card.layers:
        notes.append(f"The {card.layers} layers share {count(card.weight_groups, 'set')} of weights.")
    return (
        first
        + "\n\n"
        + " ".join(
            [f"{_layers_lead(card)} {heads}, then {_feed_forward(card)}.", *notes, *_seq2seq_notes(card)]
        )
    )


def _layers_lead(card: info.ConfigCard) -> str:
    """How the sentence about the layers starts: "Each of the 6 layers has", …"""
    if card.is_encoder_decoder:
        return f"Each of the {card.layers or '?'} encoder layers and {card.decoder_layers or '?'} decoder layers has"
    if card.layers == 1:
        return "Its one layer has"
    if card.layers:
        return f"Each of the {card.layers} layers has"
    return "Each layer has"


def _seq2seq_notes(card: info.ConfigCard) -> list[str]:
    """An encoder-decoder's cross-attention and (T5) relative position buckets; nothing for others."""
    if not card.is_encoder_decoder:
        return []
    notes = [
        "Each decoder layer also has a cross-attention block: the decoder's tokens (queries) attend to "
        "the encoder's output (keys and values)."
    ]
    if card.relative_buckets is not None:
        beyond = (
            f", distances beyond {card.relative_max_distance} share the last"
            if card.relative_max_distance
            else ""
        )
        notes.append(
            f"Positions: no position vectors; each attention score gets a learned bias per relative "
            f"position bucket ({card.relative_buckets} buckets{beyond})."
        )
    return notes


def _heads_clause(card: info.ConfigCard, notes: list[str]) -> str:
    """ "12 attention heads of size 64 (12 × 64 = 768 = the hidden size)"; appends to ``notes`` the
    projection when the heads' width is not the hidden size."""
    if not (card.heads and card.head_dim):
        return "attention heads"
    width = card.attention_width or card.heads * card.head_dim
    heads = f"{card.heads} attention heads of size {card.head_dim}"
    if card.hidden_size and width == card.hidden_size:
        heads += f" ({card.heads} × {card.head_dim} = {width} = the hidden size)"
    elif card.hidden_size and width:
        notes.append(
            f"The queries are projected from the hidden size {card.hidden_size} to "
            f"{card.heads} × {card.head_dim} = {width}, and the heads' outputs back to {card.hidden_size}."
        )
    return heads


def _feed_forward(card: info.ConfigCard) -> str:
    if card.intermediate_size and card.hidden_size:
        verb = "widens" if card.intermediate_size > card.hidden_size else "turns"
        return (
            f"a feed-forward network that {verb} each vector to {card.intermediate_size} values "
            f"and back to {card.hidden_size}"
        )
    return "a feed-forward network"


def _config_part(loaded: LoadedCheckpoint) -> ConfigPart:
    card = info.config_card(loaded)
    rows = table([{"": label, "value": value} for label, value in card.rows()], index="")
    return ConfigPart(card, rows, Note("markdown", _config_sentence(card, loaded.task.head_description)))


def _hidden_part(
    loaded: LoadedCheckpoint, card: info.ConfigCard, hidden: np.ndarray, run: ModelRun, encoding: Encoding
) -> HiddenPart:
    """``hidden``: the run's hidden states, [L + 1, B, S, D]."""
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
        f"the {count(layers, 'layer')}"
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


def _norms_figure(norms: np.ndarray, tokens: Sequence[str]):
    """norms: [L + 1, T] each token's vector length after the embeddings and each layer."""
    title = "Length of each token's vector through the layers"
    if len(tokens) <= LINES_AT_MOST:
        return figures.layer_lines(norms, tokens, title, "vector norm")
    return figures.matrix_heatmap(
        norms,  # [L + 1, T]
        ["embeddings", *(f"layer {i}" for i in range(1, norms.shape[0]))],
        [figures.label(t, token) for t, token in enumerate(tokens)],
        title,
        "token",
        "layer",
        diverging=False,
        value_name="vector norm",
    )


def _trajectory_part(run: ModelRun, encoding: Encoding, sentence: int) -> TrajectoryPart:
    path = info.trajectory(run, encoding, sentence)  # norms [L + 1, T], change [L, T]
    T = len(path.tokens)
    shown = min(T, SHOWN_TOKENS)
    tokens = encoding.show(path.tokens[:shown])  # as the screen shows them (token_display)
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
        norms_figure=_norms_figure(norms, tokens),
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


def _heads_part(loaded: LoadedCheckpoint, encoding: Encoding, run: ModelRun | None = None) -> HeadsPart:
    decoder = run.decoder_input_ids if run is not None else None  # [B, T] encoder-decoders only
    shapes = info.head_shapes(
        loaded, encoding, decoder_length=int(decoder.shape[1]) if decoder is not None else 1
    )
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
        index=["head class", "output"],
    )
    return HeadsPart(shapes, rows, Note("caption", _heads_caption(loaded)))


def _heads_caption(loaded: LoadedCheckpoint) -> str:
    """The course's point (one body, many heads) and which head this checkpoint has, with its labels."""
    text = (
        "The same body with a different head: a sequence classifier reads one vector per sentence, a token "
        "classifier scores every label at every token, a question-answering head scores every token as the "
        "answer's start and as its end, a multiple-choice head gives one score per choice, and language-model "
        "heads score every vocabulary token at every position."
    )
    if loaded.head_class == tasks.BASE:
        return (
            text
            + f" This checkpoint (`{loaded.model_class}`) has no head: its output is `last_hidden_state`."
        )
    text += f" This checkpoint's head (`{loaded.model_class}`): {loaded.task.head_description}."
    if loaded.head_class in (tasks.SEQUENCE_CLASSIFICATION, tasks.TOKEN_CLASSIFICATION):
        labels = getattr(loaded.config, "id2label", None) or {}
        kind = "classifier" if loaded.head_class == tasks.SEQUENCE_CLASSIFICATION else "token classifier"
        text += f" This {kind}'s labels: " + ", ".join(str(v) for v in labels.values()) + "."
    return text


# --- The attention mask's effect -------------------------------------------------------------


def _mask_text(mask: np.ndarray) -> str:
    """[1, 1, 1, 0, 0] for a short mask; runs ([1 × 7, 0 × 25]) for a long one."""
    values = [int(v) for v in mask]
    if len(values) <= 20:
        return str(values)
    runs, start = [], 0
    for i in range(1, len(values) + 1):
        if i == len(values) or values[i] != values[start]:
            runs.append(f"{values[start]} × {i - start}")
            start = i
    return "[" + ", ".join(runs) + "]"


def _numbers(vector: np.ndarray) -> str:
    shown = ", ".join(f"{float(v):.4f}" for v in vector[:SHOWN_NUMBERS])
    return f"[{shown}{', …' if vector.size > SHOWN_NUMBERS else ''}]"


def _difference(value: float) -> str:
    return "0" if value == 0.0 else f"{value:.1e}"


MASK_OFFER = (
    "The course's argument for the attention mask, with this checkpoint's numbers: the first sentence run "
    "alone, padded in a batch with its attention mask, and padded with a mask of ones (three more forward "
    "passes). Turn on the comparison to run it."
)


def _mask_part(
    loaded: LoadedCheckpoint,
    sentences: tuple[str, ...],
    padding_side: str | None,
    shown: bool = True,
    effect_of: Callable[[], compare.MaskEffect] | None = None,
) -> MaskPart:
    if not shown:
        return MaskPart(offer=Note("caption", MASK_OFFER))
    try:
        effect = effect_of() if effect_of else compare.mask_effect(loaded, sentences, padding_side)
    except InputError as problem:
        return MaskPart(missing=Note("info", str(problem)))
    return MaskPart(
        effect=effect,
        intro=Note("markdown", _mask_intro(loaded, effect)),
        table=table([_mask_row(effect, case) for case in effect.cases], index="run"),
        with_mask=_with_mask(effect),
        without_mask=_without_mask(loaded, effect),
    )


def _mask_row(effect: compare.MaskEffect, case: compare.MaskCase) -> dict[str, Any]:
    """One run of the comparison: the mask it got, its numbers, its largest difference from (a)."""
    row: dict[str, Any] = {
        "run": case.name,
        "tokens the model reads": case.encoding.shape[1],
        "attention mask (this sentence)": _mask_text(case.mask),
    }
    if effect.output == "logits":
        labels = effect.labels or ()  # a classifier's
        for label, logit in zip(labels, case.values, strict=True):
            row[f"logit {label}"] = f"{float(logit):.5f}"
        if len(labels) > 1:
            row["highest logit"] = labels[int(np.argmax(case.values))]
        row["largest difference from (a): logits"] = _difference(case.difference)
        row["… last hidden state"] = _difference(case.hidden_difference)
        return row
    T, D = len(effect.tokens), case.values.shape[1]
    row[f"last token's vector (first {SHOWN_NUMBERS} of {D})"] = _numbers(case.values[-1])
    row[f"largest difference from (a), all {T} × {D} numbers"] = _difference(case.difference)
    return row


def _mask_intro(loaded: LoadedCheckpoint, effect: compare.MaskEffect) -> str:
    """The three runs, in the course's words, with this sentence's numbers."""
    b = effect.cases[1]
    T, S = len(effect.tokens), b.encoding.shape[1]
    pad = b.encoding.pad_token
    what = "its logits" if effect.output == "logits" else f"the last hidden state of its {T} tokens"
    other = (
        "a fixed longer sentence (the text box has no longer line to batch it with)"
        if effect.other_is_fixed
        else "the other line of the text box, which is longer"
    )
    intro = (
        "The course's argument for the attention mask (*Handling multiple sequences*): the same sentence, "
        f"“{effect.sentence}”, run three ways, and {what} compared. "
        f"(a) alone: {T} tokens. (b) in a batch with {other}, padded with {effect.padding} × `{pad}` on the "
        f"{effect.padding_side} to {S} tokens, with its attention mask. (c) the same padded batch with an "
        "attention mask of all ones, so that attention reads the padding too."
    )
    if loaded.is_decoder and effect.padding_side == "left":
        intro += (
            " A decoder is padded on the left, so that the next token still follows the last real token; "
            "its position ids count from the first real token."
        )
    if loaded.tokenizer.pad_token is None:
        intro += f" This tokenizer has no pad token of its own: the app pads with `{pad}` (id {b.encoding.pad_token_id})."
    return intro


def _scale(effect: compare.MaskEffect) -> str:
    return (
        f"(its {'logits' if effect.output == 'logits' else 'numbers'} are up to {effect.scale:.3g} in size)"
    )


def _with_mask(effect: compare.MaskEffect) -> Note:
    """(b) against (a): the same numbers (up to float32 rounding), or not and why."""
    b = effect.cases[1]
    kept = " The padding still gets vectors of its own, but no real token's attention reads them."
    if b.difference <= compare.SAME:
        return Note(
            "success",
            f"(b) with the mask: largest difference from (a) **{_difference(b.difference)}**, within "
            f"{compare.SAME:.0e}: the same numbers." + kept,
        )
    if b.difference <= compare.SAME * effect.scale:
        return Note(
            "success",
            f"(b) with the mask: largest difference from (a) **{b.difference:.1e}**, "
            f"{b.difference / effect.scale:.0e} of the largest value ({effect.scale:.2g}), within "
            f"{compare.SAME:.0e} of it: the same numbers up to float32 rounding." + kept,
        )
    text = f"(b) with the mask: largest difference from (a) **{b.difference:.2g}** {_scale(effect)}: not the same."
    if effect.output == "logits" and effect.padding_side == "left":
        text += (
            " Padding on the left moves the sentence's first token: a classifier that reads the vector at "
            "position 0 (BERT's pooler) then reads a pad token."
        )
    return Note("warning", text)


def _without_mask(loaded: LoadedCheckpoint, effect: compare.MaskEffect) -> Note:
    """(c) against (a): what reading the padding changed (a warning), or why it changed nothing."""
    a, _, c = effect.cases
    classifier = effect.output == "logits"
    if c.hidden_difference > compare.DIFFERENT:
        text = (
            f"(c) without the mask: largest difference from (a) **{c.difference:.2g}** {_scale(effect)}"
            + (f"; the last hidden state differs by up to {c.hidden_difference:.2g}" if classifier else "")
            + f". The real tokens' attention also reads the {effect.padding} padding token(s)."
        )
        labels = effect.labels or ()
        if classifier and len(labels) > 1:
            before, after = (labels[int(np.argmax(case.values))] for case in (a, c))
            if before != after:
                text += f" The label with the highest logit changes from {before} to {after}."
        return Note("warning", text)
    text = f"(c) without the mask: largest difference from (a) only {_difference(c.hidden_difference)}."
    if loaded.is_decoder and effect.padding_side == "right":
        text += (
            " With padding on the right, a decoder's causal attention never reads the padding, which "
            "comes after every real token."
        )
    return Note("info", text)


# --- Architecture versus checkpoint --------------------------------------------------------------


def _architecture_part(loaded: LoadedCheckpoint) -> ArchitecturePart:
    config = loaded.config
    config_class = type(config).__name__
    mine = compare.config_sizes(config, loaded.head_class)
    default = compare.default_config(config)
    theirs = compare.config_sizes(default, loaded.head_class) if default is not None else None
    known = compare.known_size(default) if default is not None else None
    name = f"{config_class}() defaults" + (f" (the size of {known})" if known else "")
    mine_name = "this checkpoint's config"

    def show(value: int | None) -> str:
        return "—" if value is None else f"{value:,}"

    fields = [
        ("layers", "layers"),
        ("hidden size", "hidden_size"),
        ("attention heads", "heads"),
        ("key/value heads", "key_value_heads"),
        ("feed-forward size", "intermediate_size"),
        ("vocabulary size", "vocab_size"),
        ("position embeddings (max_position_embeddings)", "position_embeddings"),
        ("parameters", "parameters"),
    ]
    rows = [{"": "class built", mine_name: loaded.model_class, name: loaded.model_class if theirs else "—"}]
    for label, field in fields:
        values = [getattr(sizes, field) if sizes is not None else None for sizes in (mine, theirs)]
        if all(v is None for v in values):
            continue
        if field == "key_value_heads" and values == [mine.heads, theirs.heads if theirs else None]:
            continue  # the same as the attention heads: no grouped-query attention
        rows.append({"": label, mine_name: show(values[0]), name: show(values[1])})
    text = (
        f"The architecture is code: `{loaded.model_class}`. A config fills in its sizes, and only then the "
        "checkpoint's weights fill in the numbers. "
    )
    if theirs is None:
        text += f"`{config_class}()` needs arguments, so there are no class defaults to compare with."
    else:
        ratio = theirs.parameters / mine.parameters if mine.parameters else float("nan")
        text += (
            f"The same class with `{config_class}()`'s defaults has **{theirs.parameters:,}** parameters; with "
            f"this checkpoint's config it has **{mine.parameters:,}**"
            + (
                f" ({ratio:.1f} × as many with the defaults)."
                if ratio > 1.05
                else f" ({1 / ratio:.1f} × as many with this config)."
                if ratio < 1 / 1.05
                else "."
            )
            + " The parameters are counted by building both on PyTorch's meta device: shapes, no numbers."
        )
    return ArchitecturePart(
        checkpoint=mine,
        defaults=theirs,
        defaults_name=name,
        table=table(rows, index=""),
        sentence=Note("markdown", text),
    )


def _random_offer(loaded: LoadedCheckpoint) -> Note:
    """What building the random copy costs, for this checkpoint's size."""
    millions = loaded.num_parameters / 1e6
    size = f"{millions:.0f} M" if millions >= 1 else f"{loaded.num_parameters:,}"
    text = (
        f"`from_config` builds a copy of this {size}-parameter model with random weights (seeded), and both "
        "read the same two sentences (two more forward passes). It is built only on request."
    )
    if loaded.num_parameters > RANDOM_AUTO_PARAMETERS:
        text += f" The copy needs about {loaded.num_parameters * 4 / 1e6:,.0f} MB more memory."
    return Note("info", text)


RANDOM_NAMES = ("pretrained weights", f"random weights (from_config, seed {compare.RANDOM_SEED})")


def _random_part(
    loaded: LoadedCheckpoint,
    sentences: tuple[str, ...],
    build: bool,
    make: Callable[[], Any] | None,
    compared: Callable[[], compare.RandomComparison] | None = None,
) -> RandomPart:
    if not build:
        return RandomPart(offer=_random_offer(loaded))
    if compared is not None:
        result = compared()
    else:
        result = compare.random_vs_pretrained(loaded, sentences, model=make() if make else None)
    index: str | list[str] = ["weights", "sentence"]
    if result.kind == "similarity":
        rows, index = _similarity_rows(result), "weights"
        what = "the cosine similarity of the two sentences' mean-pooled vectors"
    elif result.kind == "labels":
        rows, what = _label_rows(result), "the labels"
    else:
        rows, what = _next_token_rows(result), "the next token's top 3"
    text = (
        f"`{loaded.head_class}.from_config(config)` builds the same `{loaded.model_class}` from the same config, "
        f"with random weights: `{result.weight_name}` differs from the checkpoint's by up to "
        f"{result.weight_difference:.3g}. Both read the same text; the table shows {what}."
    )
    if result.other_is_fixed:
        text += " The second sentence is a fixed one: the text box has one line."
    return RandomPart(comparison=result, table=table(rows, index=index), sentence=Note("markdown", text))


def _similarity_rows(result: compare.RandomComparison) -> list[dict[str, Any]]:
    return [
        {"weights": name, "cosine similarity of the two sentences' mean-pooled vectors": f"{value:.4f}"}
        for name, value in zip(RANDOM_NAMES, result.similarity or (), strict=True)
    ]


def _label_rows(result: compare.RandomComparison) -> list[dict[str, Any]]:
    """One row per (weights, sentence): each label's logit (and score), and the predicted label."""
    texts = [str(t) for t in result.encoding.sentences]
    rows = []
    for name, results in zip(RANDOM_NAMES, result.classifications or (), strict=True):
        for item in results:
            row = {"weights": name, "sentence": texts[item.sentence]}
            for label, logit, score in zip(item.labels, item.logits, item.scores, strict=True):
                row[f"logit {label}"] = f"{float(logit):.4f}"
                if item.function != "none":
                    row[f"{item.score_name} {label}"] = f"{float(score):.4f}"
            if len(item.labels) > 1:
                row["label"] = item.predicted
            rows.append(row)
    return rows


def _next_token_rows(result: compare.RandomComparison) -> list[dict[str, Any]]:
    texts = [str(t) for t in result.encoding.sentences]
    return [
        {
            "weights": name,
            "sentence": texts[item.sentence],
            "top 3 next tokens (probability)": ", ".join(
                f"{token} {p:.3f}"
                for token, p in zip(result.encoding.show(item.labels), item.scores, strict=True)
            ),
        }
        for name, predictions in zip(RANDOM_NAMES, result.next_tokens or (), strict=True)
        for item in predictions
    ]


def build(
    loaded: LoadedCheckpoint,
    encoding: Encoding,
    run: ModelRun,
    settings: Settings,
    *,
    random_weights: bool | None = None,
    random_model: Callable[[], Any] | None = None,
    padding_side: str | None = None,
    mask_effect: Callable[[], compare.MaskEffect] | None = None,
    random_comparison: Callable[[], compare.RandomComparison] | None = None,
) -> View:
    """Everything the model page shows, from the loaded checkpoint and one run that kept its
    hidden states (``run_model(..., hidden_states=True)``).

    The two sections that cost extra forward passes are computed only when their setting is on
    (``settings.mask``, ``settings.random``; ``random_weights`` overrides the latter). Each can come
    from a cache: ``mask_effect()`` gives ``compare.mask_effect(loaded, encoding.sentences,
    padding_side)``, ``random_comparison()`` gives ``compare.random_vs_pretrained(loaded,
    encoding.sentences)``; without them they are computed here (``random_model()`` gives the copy
    with random weights, e.g. a cached one). ``padding_side`` overrides the mask comparison's
    (decoders: left, others: the tokenizer's)."""
    config = _config_part(loaded)
    build_random = settings.random if random_weights is None else random_weights
    hidden = trajectory = missing = None
    if run.hidden_states is None:
        missing = Note("info", "This run kept no hidden states, so the layer-by-layer view is not shown.")
    else:
        sentence = settings.sentence if 0 <= settings.sentence < encoding.shape[0] else 0
        hidden = _hidden_part(loaded, config.card, run.hidden_states, run, encoding)
        trajectory = _trajectory_part(run, encoding, sentence)
    return View(
        config=config,
        hidden=hidden,
        trajectory=trajectory,
        heads=_heads_part(loaded, encoding, run),
        missing=missing,
        mask=_mask_part(loaded, encoding.sentences, padding_side, settings.mask, mask_effect),
        architecture=_architecture_part(loaded),
        random=_random_part(loaded, encoding.sentences, build_random, random_model, random_comparison),
        encoder_only=(
            Note("info", encoder_decoder_note(loaded, ENCODER_ONLY)) if loaded.is_encoder_decoder else None
        ),
    )

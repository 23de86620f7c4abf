"""The model, described: a config card, how it encodes position, the hidden states layer by layer,
and the output shape of each head class for the current batch. Pure functions of a loaded
checkpoint and a ModelRun; no streamlit."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from explorer.pipeline import tasks
from explorer.pipeline.architecture import (
    HEAD_FIELDS,
    HIDDEN_FIELDS,
    LAYER_FIELDS,
    Position,
    block_names,
    config_field,
    position_kind,
    position_table,
    rotary_embedding,
)
from explorer.pipeline.encoding import Encoding
from explorer.pipeline.loading import LoadedCheckpoint
from explorer.pipeline.run import ModelRun

# Where the first layer's weights are, by module name (the end of it): the table's names across
# families, and those of a few families outside it. The query projection's output width is heads x
# head size ...
_QUERY_PROJECTIONS = (*block_names("query"), "attn.q_proj")  # + GPT-J, GPT-Neo
_FUSED_QKV = block_names("fused")  # GPT-2: queries, keys and values in one [hidden, 3 x hidden] Conv1D
_KEY_PROJECTIONS = (*block_names("key"), "attn.k_proj")
# ... and the feed-forward network's first projection's is the intermediate size.
_FEED_FORWARD = (*block_names("up"), "mlp.fc_in")  # + GPT-J (OPT's fc1 is BART's)


def _out_features(module: Any) -> int | None:
    """Output width of a Linear (``out_features``) or of GPT-2's Conv1D (``nf``)."""
    for name in ("out_features", "nf"):
        value = getattr(module, name, None)
        if isinstance(value, int):
            return value
    return None


def _first_width(model: Any, suffixes: tuple[str, ...]) -> int | None:
    """The output width of the first module (in the model's order, so the first layer's) whose
    name ends with one of ``suffixes`` and that has one."""
    for name, module in model.named_modules():
        if any(name == s or name.endswith("." + s) for s in suffixes):
            width = _out_features(module)
            if width:
                return width
    return None


@dataclass(frozen=True)
class WeightSizes:
    """Sizes read from the first layer's weights (None where the architecture is not known here)."""

    query_width: int | None  # output width of the query projection: heads x head size
    key_width: int | None  # output width of the key projection: key/value heads x head size
    feed_forward: int | None  # output width of the feed-forward network's first projection


def weight_sizes(model: Any) -> WeightSizes:
    query_width = _first_width(model, _QUERY_PROJECTIONS)
    key_width = _first_width(model, _KEY_PROJECTIONS)
    if query_width is None:
        fused = _first_width(model, _FUSED_QKV)  # [hidden] -> [3 x hidden]
        query_width = key_width = fused // 3 if fused is not None else None
    return WeightSizes(query_width, key_width, _first_width(model, _FEED_FORWARD))


@dataclass(frozen=True, kw_only=True)
class ConfigCard:
    """What the checkpoint's config (and its first layer's weights) say, in the course's words."""

    model_class: str  # e.g. "BertModel"
    head_class: str  # the Auto class that loaded it
    model_type: str  # config.model_type, e.g. "bert"
    layers: int | None
    heads: int | None
    key_value_heads: int | None  # fewer than heads for grouped-query attention
    hidden_size: int | None
    head_dim: int | None
    intermediate_size: int | None  # the feed-forward width, read from the weights when possible
    vocab_size: int | None
    max_positions: int | None  # positions a sentence can use (RoBERTa: the table minus its offset)
    parameters: int
    is_decoder: bool
    position_encoding: str
    attention_width: int | None = None  # heads x head_dim: the query projection's output width
    position_table: int | None = None  # rows of the position table when it is not max_positions
    position_offset: int = 0  # RoBERTa: the first position id is padding_idx + 1
    embedding_size: int | None = None  # ALBERT: embeddings narrower than the hidden size
    weight_groups: int | None = None  # ALBERT: sets of weights the layers share
    is_encoder_decoder: bool = False  # T5, BART: an encoder and a decoder
    decoder_layers: int | None = None  # encoder-decoders: the decoder's layers (`layers` = the encoder's)
    relative_buckets: int | None = None  # T5: relative_attention_num_buckets
    relative_max_distance: int | None = None  # T5: relative_attention_max_distance

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) pairs for a table; unknown values shown as '—'."""

        def show(value: Any) -> str:
            return "—" if value is None else (f"{value:,}" if isinstance(value, int) else str(value))

        rows = [
            ("model class", self.model_class),
            ("loaded with", self.head_class),
            ("model type", self.model_type),
            ("kind", self.kind),
        ]
        if self.is_encoder_decoder:
            rows += [("encoder layers", show(self.layers)), ("decoder layers", show(self.decoder_layers))]
        else:
            rows.append(("layers", show(self.layers)))
        if self.weight_groups is not None and self.layers and self.weight_groups < self.layers:
            rows.append(("sets of layer weights (shared by the layers)", show(self.weight_groups)))
        rows.append(("attention heads", show(self.heads)))
        if self.key_value_heads and self.key_value_heads != self.heads:
            rows.append(("key/value heads (grouped-query attention)", show(self.key_value_heads)))
        rows += [
            ("hidden size", show(self.hidden_size)),
            ("size per head", show(self.head_dim)),
        ]
        if self.attention_width is not None and self.attention_width != self.hidden_size:
            rows.append(("attention width (heads × size per head)", show(self.attention_width)))
        if self.embedding_size is not None and self.embedding_size != self.hidden_size:
            rows.append(("embedding size (projected to the hidden size)", show(self.embedding_size)))
        rows += [
            ("feed-forward (intermediate) size", show(self.intermediate_size)),
            ("vocabulary size", show(self.vocab_size)),
            ("max positions", show(self.max_positions)),
        ]
        if self.position_table is not None and self.position_table != self.max_positions:
            rows.append(
                (
                    "position embeddings",
                    f"{self.position_table:,} (positions start at {self.position_offset})",
                )
            )
        if self.relative_buckets is not None:
            rows.append(("relative position buckets", show(self.relative_buckets)))
            if self.relative_max_distance is not None:
                rows.append(
                    (
                        "relative max distance (farther share the last bucket)",
                        show(self.relative_max_distance),
                    )
                )
        rows += [
            ("position encoding", self.position_encoding),
            ("parameters", f"{self.parameters:,} ({self.parameters / 1e6:.1f} M)"),
        ]
        return rows

    @property
    def kind(self) -> str:
        if self.is_encoder_decoder:
            return (
                "encoder-decoder (an encoder sees the whole text; a decoder writes the output, attending "
                "to what it wrote and, through cross-attention, to the encoder)"
            )
        return "decoder (causal attention)" if self.is_decoder else "encoder (sees the whole text)"


def _position_offset(model: Any) -> int:
    """RoBERTa-style embeddings number positions from padding_idx + 1 (so a table of 514 rows
    holds 512 positions); BART's learned positions from its ``offset`` (2); other models from 0."""
    offset = getattr(position_table(model), "offset", None)  # BART's learned positions
    if isinstance(offset, int):
        return offset
    embeddings = getattr(model.base_model, "embeddings", None)
    padding = getattr(embeddings, "padding_idx", None)
    if isinstance(padding, int) and hasattr(embeddings, "create_position_ids_from_input_ids"):
        return padding + 1
    return 0


def config_card(loaded: LoadedCheckpoint) -> ConfigCard:
    config = loaded.config
    sizes = weight_sizes(loaded.model)
    heads = config_field(config, *HEAD_FIELDS)
    hidden = config_field(config, *HIDDEN_FIELDS)
    key_value_heads = config_field(config, "num_key_value_heads")
    if sizes.query_width and heads and sizes.query_width % heads == 0:
        head_dim = sizes.query_width // heads
    else:
        head_dim = config_field(config, "head_dim", "d_kv") or (
            hidden // heads if hidden and heads and hidden % heads == 0 else None
        )
    if key_value_heads is None and sizes.key_width and head_dim and sizes.key_width != sizes.query_width:
        key_value_heads = sizes.key_width // head_dim
    # The feed-forward width: from the weights; else the config (GPT-2's n_inner=None means 4 x hidden).
    intermediate = sizes.feed_forward or config_field(
        config, "intermediate_size", "n_inner", "hidden_dim", "d_ff"
    )
    if intermediate is None and hasattr(config, "n_inner") and hidden:
        intermediate = 4 * hidden
    table = config_field(config, "max_position_embeddings", "n_positions")
    offset = _position_offset(loaded.model)
    embedding_size = config_field(config, "embedding_size")
    groups = config_field(config, "num_hidden_groups")
    return ConfigCard(
        model_class=loaded.model_class,
        head_class=loaded.head_class,
        model_type=str(getattr(config, "model_type", "?")),
        layers=config_field(config, *LAYER_FIELDS),
        heads=heads,
        key_value_heads=key_value_heads,
        hidden_size=hidden,
        head_dim=head_dim,
        intermediate_size=intermediate,
        vocab_size=config_field(config, "vocab_size"),
        # RoBERTa's config counts the offset rows; BART's counts positions only (its table adds them).
        max_positions=None if table is None else table if loaded.is_encoder_decoder else table - offset,
        parameters=loaded.num_parameters,
        is_decoder=loaded.is_decoder,
        position_encoding=position_info(loaded, positions=2).kind,
        attention_width=sizes.query_width or (heads * head_dim if heads and head_dim else None),
        position_table=(table + offset if loaded.is_encoder_decoder else table) if offset and table else None,
        position_offset=offset,
        embedding_size=embedding_size if embedding_size != hidden else None,
        weight_groups=groups,
        is_encoder_decoder=loaded.is_encoder_decoder,
        decoder_layers=config_field(config, "decoder_layers", "num_decoder_layers")
        if loaded.is_encoder_decoder
        else None,
        relative_buckets=config_field(config, "relative_attention_num_buckets"),
        relative_max_distance=config_field(config, "relative_attention_max_distance"),
    )


# --- Position ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PositionInfo:
    """How the model knows where each token is, and the original transformer's sinusoids beside it."""

    kind: str  # "learned absolute embeddings", "sinusoidal (fixed table)", "rotary (RoPE)",
    # "relative position biases" or "not described"
    explanation: str
    similarity: np.ndarray | None = (
        None  # [P, P] cosine similarity of the position vectors the first P tokens use
    )
    angles: np.ndarray | None = None  # [P, d_head / 2] rotary angle (radians) per position and frequency
    frequencies: np.ndarray | None = None  # [d_head / 2] rotary inverse frequencies
    rows: np.ndarray | None = None  # [P] table rows the first P tokens use (RoBERTa: padding_idx + 1 on)
    first_row: int = 0  # the row of position 0: padding_idx + 1 for RoBERTa-style models, else 0
    table_rows: int | None = None  # rows of the learned table
    uses: str = ""  # one sentence: what this family uses, read from the model
    sinusoidal: np.ndarray | None = None  # [P, d] the original transformer's encoding, d = hidden size
    sinusoidal_text: str = ""  # the formula, with this d


# What each kind of position encoding is called on the page, and what "this model uses".
KIND_NAMES: dict[Position, tuple[str, str]] = {
    "learned": ("learned absolute embeddings", "learned absolute position embeddings"),
    "sinusoidal": (
        "sinusoidal (fixed table)",
        "a fixed sinusoidal position table, as the original transformer did",
    ),
    "rotary": ("rotary (RoPE)", "rotary position embeddings (RoPE)"),
    "relative": ("relative position biases", "relative position biases"),
    "none": ("not described", ""),
}


def _position_table(model: Any) -> np.ndarray | None:
    """[rows, width] the position table the architecture table places, or None."""
    table = position_table(model)
    return None if table is None else table.weight.detach().float().numpy()


def sinusoids(P: int, d: int) -> np.ndarray:
    """[P, d] the original transformer's encoding: PE[pos, 2i] = sin(pos / 10000^(2i/d)),
    PE[pos, 2i+1] = cos(pos / 10000^(2i/d))."""
    pos = np.arange(P, dtype=np.float64)[:, None]  # [P, 1]
    pairs = np.arange(0, d, 2, dtype=np.float64)[None, :]  # [1, ceil(d / 2)]: 2i
    angle = pos / np.power(10000.0, pairs / d)  # [P, ceil(d / 2)]
    encoding = np.zeros((P, d))  # [P, d]
    encoding[:, 0::2] = np.sin(angle)
    encoding[:, 1::2] = np.cos(angle[:, : d // 2])
    return encoding


def position_info(loaded: LoadedCheckpoint, positions: int = 64) -> PositionInfo:
    """Learned absolute embeddings (BERT, GPT-2; RoBERTa from padding_idx + 1), a fixed sinusoidal
    table (DistilBERT with sinusoidal_pos_embds), rotary embeddings (Llama family) or relative
    biases (T5), as explorer.pipeline.architecture's table says; and the original transformer's
    sinusoidal encoding for comparison."""
    model = loaded.model
    d = config_field(loaded.config, *HIDDEN_FIELDS) or 64
    table = _position_table(model)  # [N, width]
    offset = _position_offset(model)
    P = max(0, min(positions, table.shape[0] - offset)) if table is not None else positions
    described = _described(loaded, position_kind(model), table, offset, P)
    return dataclasses.replace(described, sinusoidal=sinusoids(P, d), sinusoidal_text=_sinusoidal_text(d))


def _described(
    loaded: LoadedCheckpoint, kind: Position, table: np.ndarray | None, offset: int, P: int
) -> PositionInfo:
    """The model's own position encoding, for its first P positions."""
    model, config = loaded.model, loaded.config
    name = type(model).__name__
    if kind in ("learned", "sinusoidal") and table is not None:
        return _table_info(loaded, table, offset, P, kind == "sinusoidal", uses=_uses(name, kind))
    inv_freq = getattr(rotary_embedding(model), "inv_freq", None)
    if kind == "rotary" and inv_freq is not None:
        frequencies = inv_freq.detach().float().numpy()  # [d_head / 2]
        angles = np.arange(P)[:, None] * frequencies[None, :]  # [P, d_head / 2]
        text = _rotary_text(frequencies.size, _rope_theta(config))
        return PositionInfo(
            kind=KIND_NAMES["rotary"][0],
            explanation=text,
            angles=angles,
            frequencies=frequencies,
            uses=_uses(name, kind),
        )
    if kind == "relative":
        buckets = config_field(config, "relative_attention_num_buckets")
        text = _relative_text(buckets, getattr(config, "relative_attention_max_distance", None))
        return PositionInfo(kind=KIND_NAMES["relative"][0], explanation=text, uses=_uses(name, kind))
    return PositionInfo(
        kind=KIND_NAMES["none"][0],
        explanation="This architecture's position encoding is not described here.",
        uses=f"**This model ({name})**: its position encoding is not described here. {FAMILIES_TEXT}",
    )


def _table_info(
    loaded: LoadedCheckpoint, table: np.ndarray, offset: int, P: int, fixed: bool, *, uses: str
) -> PositionInfo:
    """A learned (or fixed sinusoidal) table [N, width]: the similarity of the rows the first P
    tokens use, rows offset … offset + P - 1."""
    rows = offset + np.arange(P)  # [P]
    used = table[rows]  # [P, width]
    unit = used / np.linalg.norm(used, axis=1, keepdims=True).clip(min=1e-12)
    N, width = table.shape
    what = (
        f"A fixed sinusoidal table of {N:,} position vectors of size {width} (not trained)"
        if fixed
        else f"A learned table of {N:,} position vectors of size {width}"
    )
    text = f"{what} is added to the token embeddings before the first layer"
    if offset and loaded.is_encoder_decoder:  # BART: a fixed offset, padding not skipped
        text += _fixed_offset_text(offset, N, P)
    elif offset:
        padding = offset - 1
        text += _padding_offset_text(offset, N, P, zero=bool(np.allclose(table[padding], 0.0)))
    else:
        text += _from_zero_text(P)
    kind = KIND_NAMES["sinusoidal" if fixed else "learned"][0]
    return PositionInfo(
        kind=kind,
        explanation=text,
        similarity=unit @ unit.T,
        rows=rows,
        first_row=offset,
        table_rows=N,
        uses=uses,
    )  # similarity: [P, P]


def _rope_theta(config: Any) -> Any:
    return config_field(config, "rope_theta") or (getattr(config, "rope_parameters", None) or {}).get(
        "rope_theta"
    )


# --- What the position section says (the functions above give the numbers) ---------------------

FAMILIES_TEXT = (
    "For comparison: BERT, RoBERTa, DistilBERT, ALBERT and GPT-2 learn a table of position vectors; "
    "Llama, Qwen and Mistral rotate queries and keys (rotary); T5 adds a learned bias per relative "
    "distance to the attention scores; the original transformer added the fixed sinusoids shown here."
)


def _uses(name: str, kind: Position) -> str:
    return f"**This model ({name}) uses {KIND_NAMES[kind][1]}.** {FAMILIES_TEXT}"


def _sinusoidal_text(d: int) -> str:
    return (
        "**The original transformer's sinusoidal encoding** (Vaswani et al., 2017), with d = "
        f"{d} (this model's hidden size): PE[pos, 2i] = sin(pos / 10000^(2i/d)) and PE[pos, 2i+1] = "
        "cos(pos / 10000^(2i/d)). Nothing is learned: each pair of dimensions is a sine and a cosine of "
        "its own wavelength (from 2π to 10000 · 2π positions), added to the token embeddings."
    )


def _fixed_offset_text(offset: int, N: int, P: int) -> str:
    return (
        f". This model's table starts {offset} rows in (BART's `offset` = {offset}): position i "
        f"(i = 0, 1, …, counted from the start of the row, padding included) adds **row {offset} + i**, "
        f"so {N - offset:,} tokens fit; the encoder and the decoder each have their own table"
        + (f". The heatmap compares the encoder's rows {offset} … {offset + P - 1}." if P else ".")
    )


def _padding_offset_text(offset: int, N: int, P: int, *, zero: bool) -> str:
    padding = offset - 1
    unused = (
        ""
        if padding == 0
        else (" Row 0 is never used." if padding == 1 else f" Rows 0 … {padding - 1} are never used.")
    )
    return (
        f". This model numbers positions from padding_idx + 1 = {offset}: the i-th real token of a "
        f"sentence (i = 0, 1, …) adds **row {offset} + i**, so {N - offset:,} tokens fit. Row "
        f"{padding} (padding_idx) is the padding row: padding positions use it"
        + (" (its vector is all zeros)." if zero else ".")
        + unused
        + (
            f" The heatmap compares the rows the first {P} tokens use (rows {offset} … {offset + P - 1})."
            if P
            else ""
        )
    )


def _from_zero_text(P: int) -> str:
    return (
        ": the i-th token of a sentence (i = 0, 1, …, padding on the left not counted) adds row i. "
        f"The heatmap compares the vectors of the first {P} positions (in a trained model, "
        "neighbouring positions usually have similar vectors)."
    )


def _rotary_text(frequencies: int, theta: Any) -> str:
    base = f" (base θ = {theta:,g})" if isinstance(theta, int | float) else ""
    return (
        "No position vectors are added. Instead, inside every attention layer each query and key is "
        f"rotated, pair of dimensions by pair, by an angle of position × frequency ({frequencies} "
        f"frequencies{base}, fast to slow). The dot product of a rotated query and key then depends on "
        "how far apart the two tokens are. The heatmap shows cos(angle) for each position and frequency: "
        "the same kind of waves as the sinusoids, but turning Q and K instead of being added."
    )


def _relative_text(buckets: Any, max_distance: Any) -> str:
    detail = ""
    if buckets is not None:
        detail = f" bucketed into {buckets} buckets" + (
            f" (distances beyond {max_distance} share the last ones)" if max_distance else ""
        )
    return (
        "No position vectors are added and nothing is rotated: the attention scores get a learned "
        f"term that depends only on how far apart the query and the key are{detail}."
    )


# --- Hidden states ----------------------------------------------------------------------------


@dataclass(frozen=True)
class HiddenStateRow:
    name: str  # "embeddings" or "layer 3"
    shape: tuple[int, int, int]  # [batch, sequence, hidden]
    mean_norm: float  # mean vector norm over real tokens


def _hidden_states(run: ModelRun) -> np.ndarray:
    if run.hidden_states is None:
        raise ValueError("this needs a run with hidden states")
    return run.hidden_states  # [L + 1, B, S, D]


def hidden_state_rows(run: ModelRun, encoding: Encoding) -> tuple[HiddenStateRow, ...]:
    hidden = _hidden_states(run)  # [L + 1, B, S, D]
    real = encoding.attention_mask.astype(bool)  # [B, S]
    norms = np.linalg.norm(hidden, axis=-1)  # [L + 1, B, S]
    return tuple(
        HiddenStateRow(
            "embeddings" if i == 0 else f"layer {i}", tuple(hidden.shape[1:]), float(norms[i][real].mean())
        )
        for i in range(hidden.shape[0])
    )


@dataclass(frozen=True)
class Trajectory:
    """How each real token's vector changes through the layers, for one sentence."""

    tokens: tuple[str, ...]  # [T] real tokens of the sentence
    norms: np.ndarray  # [L + 1, T] vector length after the embeddings and each layer
    change: np.ndarray  # [L, T] cosine similarity between consecutive layers (1 = unchanged direction)


def trajectory(run: ModelRun, encoding: Encoding, sentence: int) -> Trajectory:
    real = encoding.attention_mask[sentence].astype(bool)  # [S]
    vectors = _hidden_states(run)[:, sentence][:, real]  # [L + 1, T, D]
    norms = np.linalg.norm(vectors, axis=-1)  # [L + 1, T]
    unit = vectors / norms[..., None].clip(min=1e-12)
    change = (unit[1:] * unit[:-1]).sum(-1)  # [L, T]
    tokens = tuple(t for t, keep in zip(encoding.tokens[sentence], real, strict=True) if keep)
    return Trajectory(tokens, norms, change)


@dataclass(frozen=True, kw_only=True)
class HeadShape:
    head_class: str
    output: str
    shape: tuple[int | None, ...]  # None where the config gives no size
    axes: str
    loaded: bool  # the head class this checkpoint was loaded with


def head_shapes(
    loaded: LoadedCheckpoint, encoding: Encoding, decoder_length: int = 1
) -> tuple[HeadShape, ...]:
    """What each head class the course names returns for this batch (from the config's sizes);
    ``loaded`` marks the rows of the head this checkpoint has (a question-answering head has two
    outputs, so two rows). Encoder-decoders add their seq2seq head, whose logits have one row per
    decoder token (``decoder_length`` of them)."""
    B, S = encoding.shape
    card = config_card(loaded)
    labels = int(loaded.config.num_labels)  # what a classification head on this config returns

    def shape(head: str, output: str, dims: tuple[int | None, ...], axes: str) -> HeadShape:
        return HeadShape(
            head_class=head, output=output, shape=dims, axes=axes, loaded=loaded.head_class == head
        )

    return (
        shape(tasks.BASE, "last_hidden_state", (B, S, card.hidden_size), "[batch, sequence, hidden]"),
        shape(tasks.SEQUENCE_CLASSIFICATION, "logits", (B, labels), "[batch, labels]"),
        shape(tasks.TOKEN_CLASSIFICATION, "logits", (B, S, labels), "[batch, sequence, labels]"),
        shape(
            tasks.QUESTION_ANSWERING,
            "start_logits",
            (B, S),
            "[batch, sequence]: a score per token for the answer starting there",
        ),
        shape(
            tasks.QUESTION_ANSWERING,
            "end_logits",
            (B, S),
            "[batch, sequence]: a score per token for the answer ending there",
        ),
        # The head reads [batch, choices, sequence]; here each sentence is its one choice.
        shape(
            tasks.MULTIPLE_CHOICE,
            "logits",
            (B, 1),
            "[batch, choices]: each sentence read as its only choice (the input is [batch, choices, sequence])",
        ),
        shape(tasks.MASKED_LM, "logits", (B, S, card.vocab_size), "[batch, sequence, vocab]"),
        shape(tasks.CAUSAL_LM, "logits", (B, S, card.vocab_size), "[batch, sequence, vocab]"),
    ) + (
        (
            HeadShape(
                head_class=tasks.SEQ2SEQ_LM,
                output="logits",
                shape=(B, decoder_length, card.vocab_size),
                axes="[batch, decoder sequence, vocab]: one row per decoder token",
                loaded=True,
            ),
        )
        if loaded.is_encoder_decoder
        else ()
    )

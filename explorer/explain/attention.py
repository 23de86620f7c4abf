"""Attention, explained: the matrices the views draw, which heads are interesting, and scaled
dot-product attention recomputed step by step from the model's own weights.

One record for every case, as bertviz has ({name, attn, left_text, right_text}): a model yields a
tuple of ``AttentionPart``s (``attention_parts``). An encoder or a decoder has one part, its
self-attention; an encoder-decoder (T5, BART) has three: encoder self-attention, decoder
(causal) self-attention and cross-attention (decoder tokens as queries, encoder tokens as keys).
Everything below (``attention_view``, ``entropy``, ``attention_steps``) takes a part.

Numbering (the course's, on every page): hidden_states[0] is the embeddings; layer l (1 … L) turns
hidden_states[l - 1] into hidden_states[l], and its attention weights are attentions[l - 1]. The
functions here take ``layer`` as that array **index** (0 … L - 1, so layer number ``layer + 1``),
and every title or sentence they write uses the layer's number. Heads are numbered from 0, as the
tensors and bertviz index them.

Shapes: L layers, B sentences, H heads, S positions, Q queries, K keys, T shown positions,
d = size per head, D = hidden size."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from explorer.errors import ExplorerError
from explorer.pipeline.architecture import (
    Family,
    family_for,
    layer_module,
    module_at,
    rotary_embedding,
    supported,
)
from explorer.pipeline.encoding import Encoding
from explorer.pipeline.loading import LoadedCheckpoint
from explorer.pipeline.run import ModelRun, position_ids

Aggregate = Literal["head", "head average", "layer average"]
Part = Literal["self-attention", "encoder self-attention", "decoder self-attention", "cross-attention"]
SELF: Part = "self-attention"  # the one part of an encoder or a decoder
PARTS: tuple[Part, ...] = ("encoder self-attention", "decoder self-attention", "cross-attention")  # T5, BART


def _array(value: np.ndarray | None, what: str) -> np.ndarray:
    if value is None:
        raise ValueError(f"this run has no {what}: run the model with attentions and hidden states")
    return value


# --- The parts ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AttentionPart:
    """One attention of a model for a batch: weights, the tokens on each axis, and what is masked.
    Queries and keys are the same sequence except in cross-attention."""

    name: Part
    weights: np.ndarray  # [L, B, H, Q, K] float32: query rows, key columns; rows sum to 1
    query_tokens: tuple[tuple[str, ...], ...]  # [B][Q], padding included
    key_tokens: tuple[tuple[str, ...], ...]  # [B][K]
    query_real: np.ndarray  # [B, Q] bool: a token, not padding
    key_real: np.ndarray  # [B, K] bool
    query_special: np.ndarray  # [B, Q] bool: a special token ([CLS], </s>, …)
    key_special: np.ndarray  # [B, K] bool
    causal: bool  # a query never sees a later key (a decoder's self-attention)
    query_side: str | None = None  # "encoder" or "decoder" in an encoder-decoder; None for one stack
    key_side: str | None = None

    @property
    def layers(self) -> int:
        return int(self.weights.shape[0])

    @property
    def heads(self) -> int:
        return int(self.weights.shape[2])

    def allowed(self, sentence: int) -> np.ndarray:
        """[Q, K] bool: may query i see key j? Padding keys never; later keys not when causal."""
        return _allowed(self.key_real[sentence], self.weights.shape[3], self.causal)


def _allowed(keys: np.ndarray, queries: int, causal: bool) -> np.ndarray:
    """[Q, K] bool from the real keys [K]: every query sees them; with ``causal``, not the later ones."""
    allowed = np.repeat(keys.astype(bool)[None, :], queries, axis=0)  # [Q, K]
    if causal:
        allowed &= np.tril(np.ones(allowed.shape, dtype=bool))
    return allowed


def attention_mask_2d(encoding: Encoding, sentence: int, causal: bool) -> np.ndarray:
    """[S, S] bool: may query i attend to key j? Padding keys never; future keys not in a decoder."""
    return _allowed(encoding.attention_mask[sentence], encoding.shape[1], causal)


@dataclass(frozen=True)
class _Sequence:
    """One sequence attention reads, for the batch: the encoder's tokens or the decoder's."""

    tokens: tuple[tuple[str, ...], ...]  # [B][N], padding included
    real: np.ndarray  # [B, N] bool
    special: np.ndarray  # [B, N] bool
    side: str | None  # "encoder" / "decoder" in an encoder-decoder; None for one stack


def _part(
    name: Part, weights: np.ndarray, causal: bool, queries: _Sequence, keys: _Sequence
) -> AttentionPart:
    return AttentionPart(
        name=name,
        weights=weights,
        query_tokens=queries.tokens,
        key_tokens=keys.tokens,
        query_real=queries.real,
        key_real=keys.real,
        query_special=queries.special,
        key_special=keys.special,
        causal=causal,
        query_side=queries.side,
        key_side=keys.side,
    )


def attention_parts(
    run: ModelRun, encoding: Encoding, *, causal: bool = False, special_tokens: frozenset[str] = frozenset()
) -> tuple[AttentionPart, ...]:
    """The run's attentions: one part (self-attention, ``causal`` for a decoder) or, for an
    encoder-decoder's run, three (PARTS). ``special_tokens`` marks the decoder's special tokens
    (the encoder's come from the encoding)."""
    tokens = tuple(tuple(row) for row in encoding.tokens)  # [B][S]
    real = encoding.attention_mask.astype(bool)  # [B, S]
    special = encoding.special_tokens_mask.astype(bool)  # [B, S]
    weights = _array(run.attentions, "attentions")  # [L, B, H, S, S] (an encoder-decoder's: the encoder's)
    if run.cross_attentions is None:
        one = _Sequence(tokens, real, special, None)
        return (_part(SELF, weights, causal, one, one),)
    encoder = _Sequence(tokens, real, special, "encoder")
    written = tuple(tuple(row) for row in run.decoder_tokens or ())  # [B][T]
    T = np.asarray(run.decoder_input_ids).shape[1]
    mask = run.decoder_attention_mask  # [B, T] or None
    decoder_real = np.ones((len(written), T), bool) if mask is None else np.asarray(mask).astype(bool)
    decoder_special = np.array([[t in special_tokens for t in row] for row in written], bool).reshape(-1, T)
    decoder = _Sequence(written, decoder_real, decoder_special, "decoder")
    return (
        _part(PARTS[0], weights, False, encoder, encoder),  # [L_enc, B, H, S, S]
        _part(
            PARTS[1], _array(run.decoder_attentions, "decoder attentions"), True, decoder, decoder
        ),  # [L_dec, B, H, T, T]
        _part(PARTS[2], run.cross_attentions, False, decoder, encoder),  # [L_dec, B, H, T, S]
    )


def chosen_part(parts: tuple[AttentionPart, ...], name: str | None) -> AttentionPart:
    """The part called ``name``, else the first (an encoder or decoder's only part)."""
    return next((p for p in parts if p.name == name), parts[0])


# --- One matrix, and how focused each head is --------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AttentionView:
    """One [query, key] matrix to draw, with what each axis position is."""

    part: Part
    matrix: np.ndarray  # [Tq, Tk] float32; NaN where masked (padding keys, future tokens)
    query_positions: np.ndarray  # [Tq] positions shown as rows
    query_tokens: tuple[str, ...]  # [Tq]
    key_positions: np.ndarray  # [Tk] positions shown as columns
    key_tokens: tuple[str, ...]  # [Tk]
    title: str
    query_side: str | None = None  # "encoder" / "decoder" in an encoder-decoder
    key_side: str | None = None


def _select(
    weights: np.ndarray, sentence: int, layer: int, head: int, aggregate: str
) -> tuple[np.ndarray, str]:
    """One head, the average of a layer's heads, or of every layer and head, from [L, B, H, Q, K]
    weights: ([Q, K] matrix, what it is, e.g. "layer 2, head 0"). ``layer`` is 0-based; the text
    names layer ``layer + 1``."""
    if aggregate == "head":
        return weights[layer, sentence, head], f"layer {layer + 1}, head {head}"  # [Q, K]
    if aggregate == "head average":
        return weights[layer, sentence].mean(
            axis=0
        ), f"layer {layer + 1}, average of {weights.shape[2]} heads"
    matrix = weights[:, sentence].mean(axis=(0, 1))  # [Q, K]
    return matrix, f"average of all {weights.shape[0]} layers and {weights.shape[2]} heads"


def _title(part: AttentionPart, chosen: str, aggregate: str) -> str:
    """'Layer 2, head 0' for a model with one stack; 'Decoder layer 2, head 0: cross-attention'."""
    if part.query_side is None:
        return chosen[0].upper() + chosen[1:]
    what = "cross-attention" if part.name == "cross-attention" else "self-attention"
    return f"{part.query_side.capitalize()}{':' if aggregate == 'layer average' else ''} {chosen}: {what}"


def _shown(real: np.ndarray, special: np.ndarray, hide_special: bool, show_padding: bool) -> np.ndarray:
    """[T] the positions of one axis left to show."""
    keep = np.ones(real.shape[0], dtype=bool)  # [S]
    if not show_padding:
        keep &= real
    if hide_special:
        keep &= ~special
    return np.flatnonzero(keep)


def attention_view(
    part: AttentionPart,
    *,
    sentence: int,
    layer: int,
    head: int,
    aggregate: str = "head",
    hide_special: bool = False,
    show_padding: bool = True,
) -> AttentionView:
    """One head (or the average over heads / layers) of one part, for one sentence. ``layer``
    indexes the part's weights (0-based); the title names layer ``layer + 1`` (of its stack)."""
    matrix, chosen = _select(part.weights, sentence, layer, head, aggregate)  # [Q, K]
    matrix = np.where(part.allowed(sentence), matrix, np.nan).astype(np.float32)  # [Q, K]
    rows = _shown(part.query_real[sentence], part.query_special[sentence], hide_special, show_padding)
    columns = _shown(part.key_real[sentence], part.key_special[sentence], hide_special, show_padding)
    return AttentionView(
        part=part.name,
        matrix=matrix[np.ix_(rows, columns)],  # [Tq, Tk]
        query_positions=rows,
        query_tokens=tuple(part.query_tokens[sentence][p] for p in rows),
        key_positions=columns,
        key_tokens=tuple(part.key_tokens[sentence][p] for p in columns),
        title=_title(part, chosen, aggregate),
        query_side=part.query_side,
        key_side=part.key_side,
    )


def positions(mask: np.ndarray) -> slice | np.ndarray:
    """An index for the True positions of ``mask`` [S]: a slice when they are one run (padding on
    one side: every real batch), so indexing a big weight array gives a view, not a copy."""
    where = np.flatnonzero(mask)
    if where.size and where[-1] - where[0] + 1 == where.size:
        return slice(int(where[0]), int(where[-1]) + 1)
    return where


def real_weights(part: AttentionPart, sentence: int, layers: slice = slice(None)) -> np.ndarray:
    """[L, H, Tq, Tk] the sentence's weights over its real queries and keys (padding left out): a
    view of ``part.weights`` when the real tokens are one run, as they are with padding on a side."""
    rows, columns = positions(part.query_real[sentence]), positions(part.key_real[sentence])
    return part.weights[layers, sentence][:, :, rows][..., columns]


def entropy(part: AttentionPart, sentence: int) -> np.ndarray:
    """[L, H] mean entropy (bits) of each head's attention rows over the real tokens (padding of
    queries and keys left out): low = the head focuses on few tokens (often interesting), high =
    it spreads attention evenly. One layer at a time: a long text's weights are hundreds of MB,
    and each temporary of them all at once was as big."""
    bits = np.empty((part.weights.shape[0], part.weights.shape[2]))  # [L, H]
    for layer in range(bits.shape[0]):
        rows = real_weights(part, sentence, slice(layer, layer + 1))[0]  # [H, Tq, Tk]
        logs = np.log2(np.clip(rows, 1e-12, 1.0))  # [H, Tq, Tk]
        logs *= rows
        bits[layer] = -logs.sum(-1, dtype=np.float64).mean(-1)  # [H]
    return bits


# --- Scaled dot-product attention, step by step ------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AttentionSteps:
    """softmax(Q Kᵀ × scale + mask) V for one head of one layer of one part, from the model's own
    weights: Q from one hidden state, K and V from another (the same one in self-attention).
    Matrices cover every position, padding included: Q queries, K keys."""

    part: Part
    layer: int  # index into the part's weights (0-based): layer number layer + 1 of its stack
    head: int
    sentence: int
    query_tokens: tuple[str, ...]  # [Q]
    key_tokens: tuple[str, ...]  # [K]
    input_note: str  # what the query projection is applied to
    x: np.ndarray  # [Q, D] the queries' input to the projections
    q: np.ndarray  # [Q, d] this head's queries (rotated, for rotary models)
    k: np.ndarray  # [K, d] keys (of the shared key/value head, with grouped-query attention)
    v: np.ndarray  # [K, d] values
    scores: np.ndarray  # [Q, K] Q Kᵀ
    scale: float  # the model's factor on the scores: 1 / √d for almost every model
    standard_scale: bool  # scale == 1 / √d
    scaled: np.ndarray  # [Q, K] Q Kᵀ × scale
    allowed: np.ndarray  # [Q, K] bool: the mask (padding keys; future keys for decoders)
    masked: np.ndarray  # [Q, K] scaled, with -inf where not allowed
    weights: np.ndarray  # [Q, K] softmax of each row
    output: np.ndarray  # [Q, d] weights @ V: this head's output
    model_weights: np.ndarray  # [Q, K] the attention the model itself returned
    max_abs_difference: float  # between `weights` and `model_weights` over real query rows
    heads: int
    key_value_heads: int
    key_value_head: int  # which K/V head this query head reads
    head_dim: int  # d: read from the projection's output width / heads (not always hidden / heads)
    hidden_size: int  # D
    rotary: bool
    qk_norm: bool  # Q and K normalised per head before the rotation (Qwen3)

    @property
    def number(self) -> int:
        """The layer's number as the pages show it (1 … L)."""
        return self.layer + 1

    @property
    def query_width(self) -> int:
        """Width of the query projection's output, H × d (Qwen3: not the hidden size)."""
        return self.heads * self.head_dim

    @property
    def key_value_width(self) -> int:
        """Width of the key (and value) projection's output, KV × d."""
        return self.key_value_heads * self.head_dim


# The families whose attention the step-by-step head covers: explorer.pipeline.architecture's table.
SUPPORTED = supported("attention")


def _modeling_module(model: Any) -> Any:
    return sys.modules[type(model).__module__]


@dataclass(frozen=True, kw_only=True)
class _Projected:
    """One layer's queries, keys and values for every head, as the model computes them."""

    x: Any  # [B, S, D] what the projections are applied to
    q: Any  # [B, H, S, d]
    k: Any  # [B, KV, S, d]
    v: Any  # [B, KV, S, d]
    input_note: str
    rotary: bool  # Q and K are rotated by position (RoPE)
    qk_norm: bool  # Q and K are normalised per head before rotation (Qwen3: q_norm, k_norm)
    scaling: float | None  # the attention module's own score factor (None: 1/√d)


def input_name(layer: int) -> str:
    """What layer number ``layer + 1`` reads: hidden_states[layer], named as the course does."""
    what = "the embeddings" if layer == 0 else f"the output of layer {layer}"
    return f"hidden_states[{layer}] ({what})"


def _projections(loaded: LoadedCheckpoint, hidden: Any, layer: int, position_ids: Any) -> _Projected:
    """Every head's queries, keys and values of the layer at index ``layer`` (layer number
    layer + 1); ``hidden`` is hidden_states[layer], that layer's input: [B, S, D]. ExplorerError
    (the architecture table's sentence) for a family whose attention is not recomputed."""
    return _project(family_for(loaded, "attention"), loaded, hidden, layer, position_ids)


def _project(
    family: Family, loaded: LoadedCheckpoint, hidden: Any, layer: int, position_ids: Any
) -> _Projected:
    """:func:`_projections` for a family of the table, wherever its modules are."""
    block = layer_module(loaded.model, family, layer)
    table = family.attention
    attention = module_at(block, table.module)
    pre_norm = family.norms.placement == "pre"
    x = module_at(block, family.norms.attention)(hidden) if pre_norm else hidden  # [B, S, D]
    q, k, v = _split_heads(block, family, x, int(module_at(attention, table.heads)))
    norms = tuple(module_at(block, name) for name in table.qk_norm or ())
    qk_norm = len(norms) == 2 and all(norm is not None for norm in norms)
    if qk_norm:  # Qwen3: RMSNorm over each head's d dimensions, before the rotation
        q, k = norms[0](q), norms[1](k)
    rotary = family.positions == "rotary"
    if rotary:
        cos, sin = rotary_embedding(loaded.model)(x, position_ids)
        q, k = _modeling_module(loaded.model).apply_rotary_pos_emb(q, k, cos, sin)
    note = input_name(layer)
    if pre_norm:
        note = f"{family.norms.attention}({note}): normalised ({family.norms.kind}) before attention"
    value = getattr(attention, "scaling", None)
    scaling = float(value) if isinstance(value, int | float) else None
    return _Projected(x=x, q=q, k=k, v=v, input_note=note, rotary=rotary, qk_norm=qk_norm, scaling=scaling)


def _split_heads(block: Any, family: Family, x: Any, H: int) -> tuple[Any, Any, Any]:
    """Q [B, H, S, d], K and V [B, KV, S, d] from x [B, S, D]: the width of each head is the query
    projection's output width / H, and KV the key projection's / that width."""
    table = family.attention
    if table.fused is not None:  # GPT-2: one projection, [B, S, 3 × H × d], split in three
        fused = module_at(block, table.fused)(x)
        q, k, v = fused.split(fused.shape[-1] // 3, dim=2)
    else:
        q, k, v = (module_at(block, name)(x) for name in (table.query, table.key, table.value) if name)
    B, S, width = q.shape
    d = width // H

    def heads_of(t: Any) -> Any:  # [B, S, n * d] -> [B, n, S, d]
        return t.view(B, S, t.shape[-1] // d, d).transpose(1, 2)

    return heads_of(q), heads_of(k), heads_of(v)


@dataclass(frozen=True, kw_only=True)
class _HeadInputs:
    """One head's queries, keys and values (torch tensors) and how the model scales their scores."""

    x: Any  # [Q, D] what the query projection reads
    q: Any  # [Q, d]
    k: Any  # [K, d]
    v: Any  # [K, d]
    note: str
    scale: float
    heads: int
    key_value_heads: int
    key_value_head: int
    rotary: bool = False
    qk_norm: bool = False


def _self_inputs(
    loaded: LoadedCheckpoint, run: ModelRun, encoding: Encoding, layer: int, head: int, sentence: int
) -> _HeadInputs:
    """Self-attention: queries, keys and values all read the layer's input hidden_states[layer]."""
    import torch

    hidden = torch.from_numpy(np.array(_array(run.hidden_states, "hidden states")[layer]))  # [B, S, D]
    projected = _projections(loaded, hidden, layer, position_ids(encoding))
    q, k, v = projected.q, projected.k, projected.v  # [B, H, S, d], [B, KV, S, d], [B, KV, S, d]
    H, KV = q.shape[1], k.shape[1]
    kv_head = head // (H // KV)
    d = q.shape[-1]
    return _HeadInputs(
        x=projected.x[sentence],  # [S, D]
        q=q[sentence, head],  # [S, d]
        k=k[sentence, kv_head],  # [S, d]
        v=v[sentence, kv_head],  # [S, d]
        note=projected.input_note,
        scale=projected.scaling if projected.scaling is not None else 1.0 / float(np.sqrt(d)),
        heads=H,
        key_value_heads=KV,
        key_value_head=kv_head,
        rotary=projected.rotary,
        qk_norm=projected.qk_norm,
    )


def _heads(t: Any, n: int) -> Any:
    """[1, N, n * d] -> [1, n, N, d]: one slice per head."""
    return t.view(1, t.shape[1], n, -1).transpose(1, 2)


def _merged(t: Any) -> Any:
    """[1, n, N, d] -> [1, N, n * d]: the heads side by side again."""
    return t.transpose(1, 2).reshape(1, t.shape[2], -1)


@dataclass(frozen=True, kw_only=True)
class _Cross:
    """A decoder layer's cross-attention inputs, every head: queries read x, keys and values the encoder."""

    x: Any  # [1, T, D]
    q: Any  # [1, T, H * d]
    k: Any  # [1, S, H * d]
    v: Any  # [1, S, H * d]
    heads: int
    scale: float
    note: str


def _t5_cross(block: Any, h: Any, encoded: Any, self_weights: Any, layer: int) -> _Cross:
    """T5: pre-norm sublayers, no score scaling. ``h`` [1, T, D] is the layer's input."""
    own, cross = block.layer[0], block.layer[1]
    H = own.SelfAttention.n_heads
    values = _heads(own.SelfAttention.v(own.layer_norm(h)), H)  # [1, H, T, d]
    h1 = h + own.SelfAttention.o(_merged(self_weights @ values))  # [1, T, D]
    x = cross.layer_norm(h1)  # [1, T, D]
    attention = cross.EncDecAttention
    return _Cross(
        x=x,
        q=attention.q(x),
        k=attention.k(encoded),
        v=attention.v(encoded),
        heads=H,
        scale=float(getattr(attention, "scaling", 1.0) or 1.0),
        note=f"layer_norm(decoder_hidden_states[{layer}] + the layer's self-attention output): T5 "
        "normalises before each sublayer",
    )


def _bart_cross(block: Any, h: Any, encoded: Any, self_weights: Any, layer: int) -> _Cross:
    """BART: post-norm sublayers. ``h`` [1, T, D] is the layer's input."""
    own = block.self_attn
    H = own.num_heads
    values = _heads(own.v_proj(h), H)  # [1, H, T, d]
    x = block.self_attn_layer_norm(h + own.out_proj(_merged(self_weights @ values)))  # [1, T, D]
    attention = block.encoder_attn
    return _Cross(
        x=x,
        q=attention.q_proj(x),
        k=attention.k_proj(encoded),
        v=attention.v_proj(encoded),
        heads=H,
        scale=float(attention.scaling),
        note=f"self_attn_layer_norm(decoder_hidden_states[{layer}] + the layer's self-attention output): "
        "the decoder's own attention comes first",
    )


def _cross_inputs(
    loaded: LoadedCheckpoint, run: ModelRun, encoding: Encoding, layer: int, head: int, sentence: int
) -> _HeadInputs:
    """Cross-attention (T5 and BART): queries read the decoder layer's input after its own
    self-attention sublayer (rebuilt from the returned decoder self-attention weights and the layer's
    value and output projections, then normalised as the model does); keys and values read the
    encoder's output."""
    import torch

    def one(array: np.ndarray | None, what: str, index: int) -> Any:  # [1, …]: one layer, this sentence
        return torch.from_numpy(np.array(_array(array, what)[index, sentence]))[None]

    h = one(run.decoder_hidden_states, "decoder hidden states", layer)  # [1, T, D]
    encoded = one(run.hidden_states, "hidden states", -1)  # [1, S, D]: the encoder's output
    self_weights = one(run.decoder_attentions, "decoder attentions", layer)  # [1, H, T, T]
    decoder = loaded.model.get_decoder()
    if hasattr(decoder, "block"):
        cross = _t5_cross(decoder.block[layer], h, encoded, self_weights, layer)
    elif hasattr(decoder, "layers") and hasattr(decoder.layers[layer], "encoder_attn"):
        cross = _bart_cross(decoder.layers[layer], h, encoded, self_weights, layer)
    else:
        kind = getattr(loaded.config, "model_type", "")
        raise ExplorerError(f"Cross-attention step by step is available for T5 and BART, not for '{kind}'.")
    H = cross.heads
    return _HeadInputs(
        x=cross.x[0],  # [T, D]
        q=_heads(cross.q, H)[0, head],  # [T, d]
        k=_heads(cross.k, H)[0, head],  # [S, d]
        v=_heads(cross.v, H)[0, head],  # [S, d]
        note=cross.note,
        scale=cross.scale,
        heads=H,
        key_value_heads=H,
        key_value_head=head,
    )


def attention_steps(
    loaded: LoadedCheckpoint,
    run: ModelRun,
    encoding: Encoding,
    *,
    layer: int,
    head: int,
    sentence: int,
    part: Part = SELF,
) -> AttentionSteps:
    """Recompute one head's attention of one part from the model's weights: queries from one hidden
    state, keys and values from another (the same for self-attention). ``layer`` indexes the part's
    weights (0-based): the layer numbered ``layer + 1`` on the pages."""
    import torch

    chosen = chosen_part(attention_parts(run, encoding, causal=loaded.is_decoder), part)
    inputs_of = _cross_inputs if chosen.name == "cross-attention" else _self_inputs
    with torch.inference_mode():
        inputs = inputs_of(loaded, run, encoding, layer, head, sentence)
        allowed = torch.from_numpy(chosen.allowed(sentence))  # [Q, K]
        scores = inputs.q @ inputs.k.T  # [Q, K]
        scaled = scores * inputs.scale  # [Q, K]
        masked = scaled.masked_fill(~allowed, float("-inf"))  # [Q, K]
        weights = torch.softmax(masked, dim=-1)  # [Q, K]
        output = weights @ inputs.v  # [Q, d]
    model_weights = chosen.weights[layer, sentence, head]  # [Q, K]
    difference = np.abs(weights.numpy() - model_weights)[chosen.query_real[sentence]]
    d = int(inputs.q.shape[-1])
    return AttentionSteps(
        part=chosen.name,
        layer=layer,
        head=head,
        sentence=sentence,
        query_tokens=tuple(chosen.query_tokens[sentence]),
        key_tokens=tuple(chosen.key_tokens[sentence]),
        input_note=inputs.note,
        x=inputs.x.numpy(),
        q=inputs.q.numpy(),
        k=inputs.k.numpy(),
        v=inputs.v.numpy(),
        scores=scores.numpy(),
        scale=inputs.scale,
        standard_scale=abs(inputs.scale * float(np.sqrt(d)) - 1.0) < 1e-6,
        scaled=scaled.numpy(),
        allowed=allowed.numpy(),
        masked=masked.numpy(),
        weights=weights.numpy(),
        output=output.numpy(),
        model_weights=model_weights,
        max_abs_difference=float(difference.max()) if difference.size else 0.0,
        heads=inputs.heads,
        key_value_heads=inputs.key_value_heads,
        key_value_head=inputs.key_value_head,
        head_dim=d,
        hidden_size=int(inputs.x.shape[-1]),
        rotary=inputs.rotary,
        qk_norm=inputs.qk_norm,
    )

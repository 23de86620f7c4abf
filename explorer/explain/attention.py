"""Attention, explained: the matrices the views draw, which heads are interesting, and scaled
dot-product attention recomputed step by step from the model's own weights.

Numbering (the course's, on every page): hidden_states[0] is the embeddings; layer l (1 … L) turns
hidden_states[l - 1] into hidden_states[l], and its attention weights are attentions[l - 1]. The
functions here take ``layer`` as that array **index** (0 … L - 1, so layer number ``layer + 1``),
and every title or sentence they write uses the layer's number. Heads are numbered from 0, as the
tensors and bertviz index them.

Shapes: L layers, B sentences, H heads, S positions, T shown positions, d = size per head."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from explorer.errors import ExplorerError
from explorer.pipeline.encoding import Encoding
from explorer.pipeline.loading import LoadedCheckpoint
from explorer.pipeline.run import ModelRun, position_ids

Aggregate = Literal["head", "head average", "layer average"]


@dataclass(frozen=True)
class AttentionView:
    """One [query, key] matrix to draw, with what each axis position is."""

    matrix: np.ndarray  # [T, T] float32; NaN where attention is masked (padding keys, future tokens)
    positions: np.ndarray  # [T] positions in the sentence that are shown
    tokens: tuple[str, ...]  # [T]
    title: str


def attention_mask_2d(encoding: Encoding, sentence: int, causal: bool) -> np.ndarray:
    """[S, S] bool: may query i attend to key j? Padding keys never; future keys not in a decoder."""
    S = encoding.shape[1]
    allowed = np.repeat(encoding.attention_mask[sentence].astype(bool)[None, :], S, axis=0)  # [S, S]
    if causal:
        allowed &= np.tril(np.ones((S, S), dtype=bool))
    return allowed


def _select(weights: np.ndarray, sentence: int, layer: int, head: int, aggregate: Aggregate) -> tuple:
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


def attention_view(
    run: ModelRun,
    encoding: Encoding,
    *,
    sentence: int,
    layer: int,
    head: int,
    aggregate: Aggregate = "head",
    hide_special: bool = False,
    show_padding: bool = True,
    causal: bool = False,
) -> AttentionView:
    """The attention of one head (or the average over heads / layers) for one sentence.
    ``layer`` indexes run.attentions (0-based); the title names layer ``layer + 1``."""
    matrix, what = _select(run.attentions, sentence, layer, head, aggregate)  # [S, S]
    title = what[0].upper() + what[1:]
    allowed = attention_mask_2d(encoding, sentence, causal)
    matrix = np.where(allowed, matrix, np.nan).astype(np.float32)  # [S, S]
    keep = np.ones(encoding.shape[1], dtype=bool)  # [S]
    if not show_padding:
        keep &= encoding.attention_mask[sentence].astype(bool)
    if hide_special:
        keep &= ~encoding.special_tokens_mask[sentence].astype(bool)
    positions = np.flatnonzero(keep)  # [T]
    tokens = tuple(encoding.tokens[sentence][p] for p in positions)
    return AttentionView(matrix[np.ix_(positions, positions)], positions, tokens, title)


def head_entropy(run: ModelRun, encoding: Encoding, sentence: int) -> np.ndarray:
    """[L, H] mean entropy (bits) of each head's attention rows over the real tokens: low = the head
    focuses on few tokens (often interesting), high = it spreads attention evenly."""
    real = encoding.attention_mask[sentence].astype(bool)  # [S]
    rows = run.attentions[:, sentence][:, :, real][..., real]  # [L, H, T, T] float32
    entropy = -(rows * np.log2(np.clip(rows, 1e-12, 1.0))).sum(-1, dtype=np.float64)  # [L, H, T]
    return entropy.mean(-1)  # [L, H]


# --- Scaled dot-product attention, step by step ------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AttentionSteps:
    """softmax(Q Kᵀ / √d + mask) V for one head of one layer, from the model's own weights.
    Matrices cover the whole padded sentence: S positions."""

    layer: int  # index into run.attentions (0-based): this is layer number layer + 1
    head: int
    sentence: int
    tokens: tuple[str, ...]  # [S]
    input_note: str  # what the projections are applied to
    x: np.ndarray  # [S, D] the layer's input to the projections
    q: np.ndarray  # [S, d] this head's queries (rotated, for rotary models)
    k: np.ndarray  # [S, d] keys (of the shared key/value head, with grouped-query attention)
    v: np.ndarray  # [S, d] values
    scores: np.ndarray  # [S, S] Q Kᵀ
    scale: float  # the model's factor on the scores: 1 / √d for almost every model
    standard_scale: bool  # scale == 1 / √d
    scaled: np.ndarray  # [S, S] Q Kᵀ / √d
    allowed: np.ndarray  # [S, S] bool: the mask (padding keys; future keys for decoders)
    masked: np.ndarray  # [S, S] scaled, with -inf where not allowed
    weights: np.ndarray  # [S, S] softmax of each row
    output: np.ndarray  # [S, d] weights @ V: this head's output
    model_weights: np.ndarray  # [S, S] the attention the model itself returned
    max_abs_difference: float  # between `weights` and `model_weights` over allowed query rows
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


SUPPORTED = (
    "BERT-style encoders (BERT, RoBERTa, ELECTRA, MiniLM), DistilBERT, GPT-2 and Llama-style decoders "
    "(Llama, SmolLM2, Qwen)"
)


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
    layer + 1); ``hidden`` is hidden_states[layer], that layer's input: [B, S, D]."""

    model = loaded.model
    base = model.base_model
    config = loaded.config
    B, S, D = hidden.shape
    kind = getattr(config, "model_type", "")
    before = input_name(layer)

    def heads_of(t: Any, n: int) -> Any:  # [B, S, n * d] -> [B, n, S, d]
        return t.view(B, S, n, -1).transpose(1, 2)

    def scaling_of(module: Any) -> float | None:
        value = getattr(module, "scaling", None)
        return float(value) if isinstance(value, int | float) else None

    encoder = getattr(base, "encoder", None)
    if encoder is not None and hasattr(encoder, "layer") and hasattr(encoder.layer[layer].attention, "self"):
        attention = encoder.layer[layer].attention.self  # BERT, RoBERTa, ELECTRA, CamemBERT, MiniLM
        H = attention.num_attention_heads
        q, k, v = (heads_of(p(hidden), H) for p in (attention.query, attention.key, attention.value))
        return _Projected(
            x=hidden,
            q=q,
            k=k,
            v=v,
            input_note=before,
            rotary=False,
            qk_norm=False,
            scaling=scaling_of(attention),
        )
    transformer = getattr(base, "transformer", None)
    if kind == "distilbert" and transformer is not None:
        attention = transformer.layer[layer].attention
        H = attention.n_heads
        q, k, v = (heads_of(p(hidden), H) for p in (attention.q_lin, attention.k_lin, attention.v_lin))
        return _Projected(
            x=hidden,
            q=q,
            k=k,
            v=v,
            input_note=before,
            rotary=False,
            qk_norm=False,
            scaling=scaling_of(attention),
        )
    if kind == "gpt2" and hasattr(base, "h"):
        block = base.h[layer]
        x = block.ln_1(hidden)
        H = block.attn.num_heads
        q, k, v = (heads_of(t, H) for t in block.attn.c_attn(x).split(D, dim=2))
        note = f"ln_1({input_name(layer)}): GPT-2 normalises before attention"
        return _Projected(
            x=x, q=q, k=k, v=v, input_note=note, rotary=False, qk_norm=False, scaling=scaling_of(block.attn)
        )
    if hasattr(base, "layers") and hasattr(base, "rotary_emb") and hasattr(base.layers[layer], "self_attn"):
        block = base.layers[layer]
        attention = block.self_attn
        x = block.input_layernorm(hidden)
        H = config.num_attention_heads
        KV = getattr(config, "num_key_value_heads", None) or H
        q = heads_of(attention.q_proj(x), H)  # [B, H, S, d]
        k = heads_of(attention.k_proj(x), KV)  # [B, KV, S, d]
        v = heads_of(attention.v_proj(x), KV)  # [B, KV, S, d]
        q_norm, k_norm = getattr(attention, "q_norm", None), getattr(attention, "k_norm", None)
        qk_norm = q_norm is not None and k_norm is not None
        if qk_norm:  # Qwen3: RMSNorm over each head's d dimensions, before the rotation
            q, k = q_norm(q), k_norm(k)
        cos, sin = base.rotary_emb(x, position_ids)
        q, k = _modeling_module(model).apply_rotary_pos_emb(q, k, cos, sin)
        note = f"input_layernorm({input_name(layer)}): normalised (RMSNorm) before attention"
        return _Projected(
            x=x, q=q, k=k, v=v, input_note=note, rotary=True, qk_norm=qk_norm, scaling=scaling_of(attention)
        )
    raise ExplorerError(
        f"Step-by-step attention is not available for '{kind}' models yet; it supports {SUPPORTED}."
    )


def attention_steps(
    loaded: LoadedCheckpoint, run: ModelRun, encoding: Encoding, *, layer: int, head: int, sentence: int
) -> AttentionSteps:
    """Recompute one head's attention from the layer's input and the model's weights. ``layer``
    indexes run.attentions (0-based): the layer numbered ``layer + 1`` on the pages."""
    import torch

    if run.hidden_states is None or run.attentions is None:
        raise ValueError("attention_steps needs a run with hidden states and attentions")
    hidden = torch.from_numpy(np.array(run.hidden_states[layer]))  # [B, S, D]
    with torch.inference_mode():
        projected = _projections(loaded, hidden, layer, position_ids(encoding))
        q, k, v = projected.q, projected.k, projected.v  # [B, H, S, d], [B, KV, S, d], [B, KV, S, d]
        H, KV = q.shape[1], k.shape[1]
        kv_head = head // (H // KV)
        q1, k1, v1 = q[sentence, head], k[sentence, kv_head], v[sentence, kv_head]  # [S, d] each
        d = q1.shape[-1]
        scale = projected.scaling if projected.scaling is not None else 1.0 / float(np.sqrt(d))
        scores = q1 @ k1.T  # [S, S]
        scaled = scores * scale  # [S, S]
        allowed = torch.from_numpy(attention_mask_2d(encoding, sentence, causal=loaded.is_decoder))  # [S, S]
        masked = scaled.masked_fill(~allowed, float("-inf"))  # [S, S]
        weights = torch.softmax(masked, dim=-1)  # [S, S]
        output = weights @ v1  # [S, d]
    model_weights = run.attentions[layer, sentence, head]  # [S, S]
    real = encoding.attention_mask[sentence].astype(bool)
    difference = np.abs(weights.numpy() - model_weights)[real]
    return AttentionSteps(
        layer=layer,
        head=head,
        sentence=sentence,
        tokens=encoding.tokens[sentence],
        input_note=projected.input_note,
        x=projected.x[sentence].numpy(),
        q=q1.numpy(),
        k=k1.numpy(),
        v=v1.numpy(),
        scores=scores.numpy(),
        scale=scale,
        scaled=scaled.numpy(),
        allowed=allowed.numpy(),
        masked=masked.numpy(),
        weights=weights.numpy(),
        output=output.numpy(),
        model_weights=model_weights,
        max_abs_difference=float(difference.max()) if difference.size else 0.0,
        heads=H,
        key_value_heads=KV,
        key_value_head=kv_head,
        head_dim=d,
        hidden_size=int(hidden.shape[-1]),
        rotary=projected.rotary,
        qk_norm=projected.qk_norm,
        standard_scale=abs(scale * float(np.sqrt(d)) - 1.0) < 1e-6,
    )


# --- Encoder-decoders: encoder self-attention, decoder self-attention, cross-attention ----------

Part = Literal["encoder self-attention", "decoder self-attention", "cross-attention"]
PARTS: tuple[Part, ...] = ("encoder self-attention", "decoder self-attention", "cross-attention")


def is_encoder_decoder_run(run: ModelRun) -> bool:
    """Whether ``run`` carries an encoder-decoder's decoder attentions (ModelRun's optional fields)."""
    return getattr(run, "cross_attentions", None) is not None


def part_weights(run: ModelRun, part: Part) -> np.ndarray:
    """The run's attention array for one part: [L, B, H, queries, keys].

    encoder self-attention: run.attentions [L_enc, B, H, S, S] (encoder tokens attend to encoder tokens);
    decoder self-attention: run.decoder_attentions [L_dec, B, H, T, T] (causal);
    cross-attention: run.cross_attentions [L_dec, B, H, T, S] (decoder queries, encoder keys)."""
    if part == "encoder self-attention":
        weights = run.attentions
    elif part == "decoder self-attention":
        weights = getattr(run, "decoder_attentions", None)
    elif part == "cross-attention":
        weights = getattr(run, "cross_attentions", None)
    else:
        raise ValueError(f"unknown attention part {part!r}; the parts are {', '.join(PARTS)}")
    if weights is None:
        raise ValueError(f"this run has no {part} weights")
    return weights


@dataclass(frozen=True, kw_only=True)
class PartView:
    """One [query, key] matrix of an encoder-decoder: queries and keys may come from different
    sequences (cross-attention: decoder tokens as queries, encoder tokens as keys)."""

    part: Part
    matrix: np.ndarray  # [Tq, Tk] float32; NaN where masked (encoder padding keys, future decoder tokens)
    query_positions: np.ndarray  # [Tq] positions shown as rows
    query_tokens: tuple[str, ...]  # [Tq]
    key_positions: np.ndarray  # [Tk] positions shown as columns
    key_tokens: tuple[str, ...]  # [Tk]
    query_side: str  # "encoder" or "decoder"
    key_side: str
    title: str


def part_sides(part: Part) -> tuple[str, str]:
    """(queries' sequence, keys' sequence) of a part."""
    return {
        "encoder self-attention": ("encoder", "encoder"),
        "decoder self-attention": ("decoder", "decoder"),
        "cross-attention": ("decoder", "encoder"),
    }[part]


def decoder_real(run: ModelRun, sentence: int) -> np.ndarray:
    """[T] bool: the decoder positions that hold a token (decoder_start_token_id, then the greedy
    output); False for the right padding of a sentence whose output is shorter than the longest."""
    T = np.asarray(run.decoder_input_ids).shape[1]
    mask = getattr(run, "decoder_attention_mask", None)
    return np.ones(T, dtype=bool) if mask is None else np.asarray(mask[sentence]).astype(bool)


def part_allowed(run: ModelRun, encoding: Encoding, part: Part, sentence: int) -> np.ndarray:
    """[queries, keys] bool: may the query see the key? Padding keys never (encoder or decoder
    padding); a decoder token never sees a later decoder token (the causal mask)."""
    if part == "encoder self-attention":
        return attention_mask_2d(encoding, sentence, causal=False)  # [S, S]
    decoder = decoder_real(run, sentence)  # [T]
    T = decoder.shape[0]
    if part == "decoder self-attention":
        return np.tril(np.ones((T, T), dtype=bool)) & decoder[None, :]  # [T, T]
    real = encoding.attention_mask[sentence].astype(bool)  # [S]
    return np.repeat(real[None, :], T, axis=0)  # [T, S]


def _kept(
    run: ModelRun,
    encoding: Encoding,
    side: str,
    sentence: int,
    hide_special: bool,
    show_padding: bool,
    specials,
) -> np.ndarray:
    if side == "encoder":
        keep = np.ones(encoding.shape[1], dtype=bool)  # [S]
        if not show_padding:
            keep &= encoding.attention_mask[sentence].astype(bool)
        if hide_special:
            keep &= ~encoding.special_tokens_mask[sentence].astype(bool)
        return np.flatnonzero(keep)
    tokens = run.decoder_tokens[sentence]  # [T]
    keep = np.array([not (hide_special and t in specials) for t in tokens], dtype=bool)  # [T]
    if not show_padding:
        keep &= decoder_real(run, sentence)
    return np.flatnonzero(keep)


def part_view(
    run: ModelRun,
    encoding: Encoding,
    *,
    part: Part,
    sentence: int,
    layer: int,
    head: int,
    aggregate: Aggregate = "head",
    hide_special: bool = False,
    show_padding: bool = True,
    special_tokens: frozenset[str] = frozenset(),
) -> PartView:
    """One head (or an average) of one part of an encoder-decoder, for one sentence. ``layer``
    indexes the part's array (0-based); the title names layer ``layer + 1`` of its stack."""
    weights = part_weights(run, part)  # [L, B, H, Q, K]
    stack = "Encoder" if part == "encoder self-attention" else "Decoder"
    what = {"encoder self-attention": "self-attention", "decoder self-attention": "self-attention"}.get(
        part, "cross-attention"
    )
    matrix, chosen = _select(weights, sentence, layer, head, aggregate)  # [Q, K]
    title = f"{stack}{':' if aggregate == 'layer average' else ''} {chosen}: {what}"
    allowed = part_allowed(run, encoding, part, sentence)
    matrix = np.where(allowed, matrix, np.nan).astype(np.float32)  # [Q, K]
    query_side, key_side = part_sides(part)
    rows = _kept(run, encoding, query_side, sentence, hide_special, show_padding, special_tokens)
    columns = _kept(run, encoding, key_side, sentence, hide_special, show_padding, special_tokens)

    def tokens_of(side: str, positions: np.ndarray) -> tuple[str, ...]:
        source = encoding.tokens[sentence] if side == "encoder" else run.decoder_tokens[sentence]
        return tuple(source[p] for p in positions)

    return PartView(
        part=part,
        matrix=matrix[np.ix_(rows, columns)],
        query_positions=rows,
        query_tokens=tokens_of(query_side, rows),
        key_positions=columns,
        key_tokens=tokens_of(key_side, columns),
        query_side=query_side,
        key_side=key_side,
        title=title,
    )


def part_entropy(run: ModelRun, encoding: Encoding, part: Part, sentence: int) -> np.ndarray:
    """[L, H] mean entropy (bits) of each head's rows of one part over the real tokens (queries
    and keys; padding of either sequence left out)."""
    weights = part_weights(run, part)[:, sentence]  # [L, H, Q, K]
    query_side, key_side = part_sides(part)
    real = {"encoder": encoding.attention_mask[sentence].astype(bool), "decoder": decoder_real(run, sentence)}
    weights = weights[:, :, real[query_side]][..., real[key_side]]  # [L, H, Tq, Tk]
    entropy = -(weights * np.log2(np.clip(weights, 1e-12, 1.0))).sum(-1, dtype=np.float64)  # [L, H, Q]
    return entropy.mean(-1)  # [L, H]


def _number(x: float) -> object:
    return "" if not np.isfinite(x) else float(x)


def part_csv(view: PartView) -> str:
    """Rows = queries, columns = keys, labelled 'side position · token'."""
    import csv
    import io

    rows = [
        f"{view.query_side} {int(p)} · {t}"
        for p, t in zip(view.query_positions, view.query_tokens, strict=True)
    ]
    columns = [
        f"{view.key_side} {int(p)} · {t}" for p, t in zip(view.key_positions, view.key_tokens, strict=True)
    ]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["query \\ key", *columns])
    for name, row in zip(rows, view.matrix, strict=True):
        writer.writerow([name, *(_number(x) for x in row)])
    return out.getvalue()


def part_json(view: PartView) -> str:
    import json

    return json.dumps(
        {
            "title": view.title,
            "part": view.part,
            "queries": {
                "side": view.query_side,
                "positions": [int(p) for p in view.query_positions],
                "tokens": list(view.query_tokens),
            },
            "keys": {
                "side": view.key_side,
                "positions": [int(p) for p in view.key_positions],
                "tokens": list(view.key_tokens),
            },
            "weights": [
                [None if not np.isfinite(x) else round(float(x), 6) for x in row] for row in view.matrix
            ],
        },
        ensure_ascii=False,
    )


# --- Cross-attention, step by step ----------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CrossSteps:
    """softmax(Q Kᵀ × scale + mask) V for one cross-attention head of one decoder layer: Q from the
    decoder ([T, d]), K and V from the encoder's output ([S, d]), from the model's own weights."""

    layer: int  # index into run.cross_attentions (0-based): decoder layer number layer + 1
    head: int
    sentence: int
    query_tokens: tuple[str, ...]  # [T] decoder tokens
    key_tokens: tuple[str, ...]  # [S] encoder tokens (padding included)
    query_note: str  # what the query projection reads
    q: np.ndarray  # [T, d]
    k: np.ndarray  # [S, d]
    v: np.ndarray  # [S, d]
    scores: np.ndarray  # [T, S] Q Kᵀ
    scale: float
    standard_scale: bool
    allowed: np.ndarray  # [T, S] bool: real encoder keys
    masked: np.ndarray  # [T, S] scaled scores, -inf at padding keys
    weights: np.ndarray  # [T, S]
    output: np.ndarray  # [T, d]
    model_weights: np.ndarray  # [T, S] run.cross_attentions[layer, sentence, head]
    max_abs_difference: float  # over the real decoder rows
    heads: int
    head_dim: int
    hidden_size: int


def cross_attention_steps(
    loaded: LoadedCheckpoint, run: ModelRun, encoding: Encoding, *, layer: int, head: int, sentence: int
) -> CrossSteps:
    """Recompute one cross-attention head from the decoder layer's input, the encoder's output and
    the model's weights (T5 and BART). The decoder's own self-attention sublayer comes first: its
    output is rebuilt from the returned decoder self-attention weights and the layer's value and
    output projections, then normalised as the model does."""
    import torch

    decoder = loaded.model.get_decoder()
    h = torch.from_numpy(np.array(run.decoder_hidden_states[layer, sentence]))[None]  # [1, T, D]
    encoded = torch.from_numpy(np.array(run.hidden_states[-1, sentence]))[None]  # [1, S, D]
    self_weights = torch.from_numpy(np.array(run.decoder_attentions[layer, sentence]))[None]  # [1, H, T, T]
    T, D = h.shape[1], h.shape[2]
    S = encoded.shape[1]

    def heads_of(t: Any, n: int) -> Any:  # [1, N, n * d] -> [1, n, N, d]
        return t.view(1, t.shape[1], n, -1).transpose(1, 2)

    def merged(t: Any) -> Any:  # [1, n, N, d] -> [1, N, n * d]
        return t.transpose(1, 2).reshape(1, t.shape[2], -1)

    with torch.inference_mode():
        if hasattr(decoder, "block"):  # T5: pre-norm sublayers, no score scaling
            block = decoder.block[layer]
            own, cross = block.layer[0], block.layer[1]
            H = own.SelfAttention.n_heads
            values = heads_of(own.SelfAttention.v(own.layer_norm(h)), H)  # [1, H, T, d]
            h1 = h + own.SelfAttention.o(merged(self_weights @ values))  # [1, T, D]
            x = cross.layer_norm(h1)
            attention = cross.EncDecAttention
            q, k, v = attention.q(x), attention.k(encoded), attention.v(encoded)
            scale = float(getattr(attention, "scaling", 1.0) or 1.0)
            note = (
                f"layer_norm(decoder_hidden_states[{layer}] + the layer's self-attention output): T5 "
                "normalises before each sublayer"
            )
        elif hasattr(decoder, "layers") and hasattr(decoder.layers[layer], "encoder_attn"):  # BART: post-norm
            block = decoder.layers[layer]
            own = block.self_attn
            H = own.num_heads
            values = heads_of(own.v_proj(h), H)  # [1, H, T, d]
            x = block.self_attn_layer_norm(h + own.out_proj(merged(self_weights @ values)))  # [1, T, D]
            attention = block.encoder_attn
            q, k, v = attention.q_proj(x), attention.k_proj(encoded), attention.v_proj(encoded)
            scale = float(attention.scaling)
            note = (
                f"self_attn_layer_norm(decoder_hidden_states[{layer}] + the layer's self-attention output): "
                "the decoder's own attention comes first"
            )
        else:
            kind = getattr(loaded.config, "model_type", "")
            raise ExplorerError(
                f"Cross-attention step by step is available for T5 and BART, not for '{kind}'."
            )
        q1 = heads_of(q, H)[0, head]  # [T, d]
        k1 = heads_of(k, H)[0, head]  # [S, d]
        v1 = heads_of(v, H)[0, head]  # [S, d]
        scores = q1 @ k1.T  # [T, S]
        real = torch.from_numpy(encoding.attention_mask[sentence].astype(bool))  # [S]
        allowed = real[None, :].expand(T, S)  # [T, S]
        masked = (scores * scale).masked_fill(~allowed, float("-inf"))
        weights = torch.softmax(masked, dim=-1)  # [T, S]
        output = weights @ v1  # [T, d]
    model_weights = run.cross_attentions[layer, sentence, head]  # [T, S]
    rows = decoder_real(run, sentence)
    difference = np.abs(weights.numpy() - model_weights)[rows]
    d = q1.shape[-1]
    return CrossSteps(
        layer=layer,
        head=head,
        sentence=sentence,
        query_tokens=tuple(run.decoder_tokens[sentence]),
        key_tokens=tuple(encoding.tokens[sentence]),
        query_note=note,
        q=q1.numpy(),
        k=k1.numpy(),
        v=v1.numpy(),
        scores=scores.numpy(),
        scale=scale,
        standard_scale=abs(scale * float(np.sqrt(d)) - 1.0) < 1e-6,
        allowed=allowed.numpy(),
        masked=masked.numpy(),
        weights=weights.numpy(),
        output=output.numpy(),
        model_weights=model_weights,
        max_abs_difference=float(difference.max()) if difference.size else 0.0,
        heads=H,
        head_dim=d,
        hidden_size=D,
    )

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

from explorer.encoding import Encoding
from explorer.errors import ExplorerError
from explorer.loading import LoadedCheckpoint
from explorer.run import ModelRun, position_ids

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
    attentions = run.attentions  # [L, B, H, S, S]
    if aggregate == "head":
        matrix = attentions[layer, sentence, head]  # [S, S]
        title = f"Layer {layer + 1}, head {head}"
    elif aggregate == "head average":
        matrix = attentions[layer, sentence].mean(axis=0)  # [S, S]
        title = f"Layer {layer + 1}, average of {attentions.shape[2]} heads"
    else:
        matrix = attentions[:, sentence].mean(axis=(0, 1))  # [S, S]
        title = f"Average of all {attentions.shape[0]} layers and {attentions.shape[2]} heads"
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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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
        return _Projected(hidden, q, k, v, before, False, False, scaling_of(attention))
    transformer = getattr(base, "transformer", None)
    if kind == "distilbert" and transformer is not None:
        attention = transformer.layer[layer].attention
        H = attention.n_heads
        q, k, v = (heads_of(p(hidden), H) for p in (attention.q_lin, attention.k_lin, attention.v_lin))
        return _Projected(hidden, q, k, v, before, False, False, scaling_of(attention))
    if kind == "gpt2" and hasattr(base, "h"):
        block = base.h[layer]
        x = block.ln_1(hidden)
        H = block.attn.num_heads
        q, k, v = (heads_of(t, H) for t in block.attn.c_attn(x).split(D, dim=2))
        note = f"ln_1({input_name(layer)}): GPT-2 normalises before attention"
        return _Projected(x, q, k, v, note, False, False, scaling_of(block.attn))
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
        return _Projected(x, q, k, v, note, True, qk_norm, scaling_of(attention))
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

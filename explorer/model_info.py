"""The model, described: a config card, how it encodes position, the hidden states layer by layer,
and the output shape of each head class for the current batch. Pure functions of a loaded
checkpoint and a ModelRun; no streamlit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from explorer.encoding import Encoding
from explorer.loading import LoadedCheckpoint
from explorer.run import ModelRun


def _first(config: Any, *names: str) -> Any:
    for name in names:
        value = getattr(config, name, None)
        if value is not None:
            return value
    return None


@dataclass(frozen=True)
class ConfigCard:
    """What the checkpoint's config says, in the course's words."""

    model_class: str  # e.g. "BertModel"
    head_class: str  # the Auto class that loaded it
    model_type: str  # config.model_type, e.g. "bert"
    layers: int | None
    heads: int | None
    key_value_heads: int | None  # fewer than heads for grouped-query attention
    hidden_size: int | None
    head_dim: int | None
    intermediate_size: int | None
    vocab_size: int | None
    max_positions: int | None
    parameters: int
    is_decoder: bool
    position_encoding: str

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) pairs for a table; unknown values shown as '—'."""

        def show(value: Any) -> str:
            return "—" if value is None else (f"{value:,}" if isinstance(value, int) else str(value))

        rows = [
            ("model class", self.model_class),
            ("loaded with", self.head_class),
            ("model type", self.model_type),
            ("kind", "decoder (causal attention)" if self.is_decoder else "encoder (sees the whole text)"),
            ("layers", show(self.layers)),
            ("attention heads", show(self.heads)),
        ]
        if self.key_value_heads and self.key_value_heads != self.heads:
            rows.append(("key/value heads (grouped-query attention)", show(self.key_value_heads)))
        rows += [
            ("hidden size", show(self.hidden_size)),
            ("size per head", show(self.head_dim)),
            ("feed-forward (intermediate) size", show(self.intermediate_size)),
            ("vocabulary size", show(self.vocab_size)),
            ("max positions", show(self.max_positions)),
            ("position encoding", self.position_encoding),
            ("parameters", f"{self.parameters:,} ({self.parameters / 1e6:.1f} M)"),
        ]
        return rows


def config_card(loaded: LoadedCheckpoint) -> ConfigCard:
    config = loaded.config
    heads = _first(config, "num_attention_heads", "n_head", "n_heads")
    hidden = _first(config, "hidden_size", "n_embd", "dim", "d_model")
    head_dim = _first(config, "head_dim") or (hidden // heads if hidden and heads else None)
    return ConfigCard(
        model_class=loaded.model_class,
        head_class=loaded.head_class,
        model_type=str(getattr(config, "model_type", "?")),
        layers=_first(config, "num_hidden_layers", "n_layer", "n_layers"),
        heads=heads,
        key_value_heads=_first(config, "num_key_value_heads"),
        hidden_size=hidden,
        head_dim=head_dim,
        intermediate_size=_first(config, "intermediate_size", "n_inner", "hidden_dim"),
        vocab_size=_first(config, "vocab_size"),
        max_positions=_first(config, "max_position_embeddings", "n_positions"),
        parameters=loaded.num_parameters,
        is_decoder=loaded.is_decoder,
        position_encoding=position_info(loaded, positions=2).kind,
    )


# --- Position ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PositionInfo:
    """How the model knows where each token is."""

    kind: str  # "learned absolute embeddings", "rotary (RoPE)", or "not described"
    explanation: str
    similarity: np.ndarray | None  # [P, P] cosine similarity of learned position vectors
    angles: np.ndarray | None  # [P, d_head / 2] rotary angle (radians) per position and frequency
    frequencies: np.ndarray | None  # [d_head / 2] rotary inverse frequencies


def _position_table(model: Any) -> np.ndarray | None:
    base = model.base_model
    for owner, name in ((getattr(base, "embeddings", None), "position_embeddings"), (base, "wpe")):
        table = getattr(owner, name, None) if owner is not None else None
        if table is not None and hasattr(table, "weight"):
            return table.weight.detach().float().numpy()  # [max_positions, hidden]
    return None


def position_info(loaded: LoadedCheckpoint, positions: int = 64) -> PositionInfo:
    """Learned absolute embeddings (BERT, GPT-2) or rotary embeddings (Llama family)."""
    model = loaded.model
    table = _position_table(model)
    if table is not None:
        rows = table[:positions]  # [P, hidden]
        unit = rows / np.linalg.norm(rows, axis=1, keepdims=True).clip(min=1e-12)
        return PositionInfo(
            "learned absolute embeddings",
            f"A learned table of {table.shape[0]:,} position vectors of size {table.shape[1]} is added to "
            "the token embeddings before the first layer: position i always adds row i. The heatmap shows "
            "how similar the vectors of the first positions are (neighbours are alike).",
            unit @ unit.T,  # [P, P]
            None,
            None,
        )
    rotary = getattr(model.base_model, "rotary_emb", None)
    inv_freq = getattr(rotary, "inv_freq", None)
    if inv_freq is not None:
        frequencies = inv_freq.detach().float().numpy()  # [d_head / 2]
        angles = np.arange(positions)[:, None] * frequencies[None, :]  # [P, d_head / 2]
        return PositionInfo(
            "rotary (RoPE)",
            f"No position vectors are added. Instead, inside every attention layer each query and key is "
            f"rotated, pair of dimensions by pair, by an angle of position × frequency ({frequencies.size} "
            "frequencies, fast to slow). The dot product of a rotated query and key then depends on how far "
            "apart the two tokens are. The heatmap shows cos(angle) for each position and frequency.",
            None,
            angles,
            frequencies,
        )
    return PositionInfo(
        "not described", "This architecture's position encoding is not described here.", None, None, None
    )


# --- Hidden states ----------------------------------------------------------------------------


@dataclass(frozen=True)
class HiddenStateRow:
    name: str  # "embeddings" or "layer 3"
    shape: tuple[int, int, int]  # [batch, sequence, hidden]
    mean_norm: float  # mean vector norm over real tokens


def hidden_state_rows(run: ModelRun, encoding: Encoding) -> tuple[HiddenStateRow, ...]:
    hidden = run.hidden_states  # [L + 1, B, S, D]
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
    vectors = run.hidden_states[:, sentence][:, real]  # [L + 1, T, D]
    norms = np.linalg.norm(vectors, axis=-1)  # [L + 1, T]
    unit = vectors / norms[..., None].clip(min=1e-12)
    change = (unit[1:] * unit[:-1]).sum(-1)  # [L, T]
    tokens = tuple(t for t, keep in zip(encoding.tokens[sentence], real, strict=True) if keep)
    return Trajectory(tokens, norms, change)


@dataclass(frozen=True)
class HeadShape:
    head_class: str
    output: str
    shape: tuple[int, ...]
    axes: str
    loaded: bool  # the head class this checkpoint was loaded with


def head_shapes(loaded: LoadedCheckpoint, encoding: Encoding) -> tuple[HeadShape, ...]:
    """What each head class returns for this batch (from the config's sizes)."""
    B, S = encoding.shape
    card = config_card(loaded)
    labels = len(getattr(loaded.config, "id2label", {}) or {}) or 2
    return (
        HeadShape(
            "AutoModel",
            "last_hidden_state",
            (B, S, card.hidden_size),
            "[batch, sequence, hidden]",
            loaded.head_class == "AutoModel",
        ),
        HeadShape(
            "AutoModelForSequenceClassification",
            "logits",
            (B, labels),
            "[batch, labels]",
            loaded.head_class == "AutoModelForSequenceClassification",
        ),
        HeadShape(
            "AutoModelForMaskedLM",
            "logits",
            (B, S, card.vocab_size),
            "[batch, sequence, vocab]",
            loaded.head_class == "AutoModelForMaskedLM",
        ),
        HeadShape(
            "AutoModelForCausalLM",
            "logits",
            (B, S, card.vocab_size),
            "[batch, sequence, vocab]",
            loaded.head_class == "AutoModelForCausalLM",
        ),
    )

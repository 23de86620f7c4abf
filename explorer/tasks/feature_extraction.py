"""Feature extraction: token vectors -> pooling -> one vector per sentence (sentence embeddings).

As ``pipeline("feature-extraction")`` returns the last layer's token vectors [B, S, D], and
sentence-transformers then pools them into one vector per sentence as the checkpoint's own files
say: ``modules.json`` lists the modules (Transformer -> Pooling -> Normalize) and
``1_Pooling/config.json`` the pooling mode (mean over the real tokens, the first token, the
largest value per dimension…). A checkpoint without those files gets mean pooling: the app's
choice, said as such.

- :func:`pooling_for`: how a checkpoint pools, read from its files (:class:`Pooling`);
- :func:`pool`: [B, S, D] token vectors and a [B, S] mask -> [B, D] sentence vectors (pure NumPy);
- :func:`sentence_embeddings`: sentences -> [N, D], pooled and normalised as the checkpoint says
  (the model runs through :mod:`explorer.run`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from explorer import run as runner
from explorer.encoding import encode_batch

# Pooling modes sentence-transformers names, that this module computes.
MEAN, CLS, MAX, MEAN_SQRT_LEN, LAST_TOKEN = "mean", "cls", "max", "mean_sqrt_len_tokens", "lasttoken"
MODES = (MEAN, CLS, MAX, MEAN_SQRT_LEN, LAST_TOKEN)
MODE_TEXT = {
    MEAN: "mean pooling: the average of the real tokens' vectors (the attention mask leaves padding out)",
    CLS: "CLS pooling: the first real token's vector",
    MAX: "max pooling: for each dimension, the largest value over the real tokens",
    MEAN_SQRT_LEN: "mean pooling divided by √length instead of length: the sum of the real tokens' vectors / √n",
    LAST_TOKEN: "last-token pooling: the last real token's vector",
}
# The legacy keys of 1_Pooling/config.json (sentence-transformers < 5 writes these booleans).
_LEGACY_KEYS = {
    "pooling_mode_cls_token": CLS,
    "pooling_mode_mean_tokens": MEAN,
    "pooling_mode_max_tokens": MAX,
    "pooling_mode_mean_sqrt_len_tokens": MEAN_SQRT_LEN,
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": LAST_TOKEN,
}


@dataclass(frozen=True, kw_only=True)
class Pooling:
    """How a checkpoint turns its token vectors into one vector per sentence."""

    mode: str  # one of MODES; several joined by "+" are concatenated, as sentence-transformers does
    normalize: bool  # scale each sentence vector to length 1 (a Normalize module in modules.json)
    source: str  # one sentence: where this choice comes from (the checkpoint's files, or the app)
    from_checkpoint: bool  # True when the checkpoint's own files chose it
    max_tokens: int | None = None  # sentence_bert_config.json's max_seq_length (None: not said)
    ignored: tuple[str, ...] = ()  # modules listed in modules.json that the app does not apply

    @property
    def modes(self) -> tuple[str, ...]:
        return tuple(self.mode.split("+"))


def _checkpoint_file(loaded: Any, relative: str) -> Path | None:
    """A file of the checkpoint: in its folder, or (a Hub checkpoint) in the local Hub cache."""
    location = Path(loaded.resolved.location)
    if location.is_dir():
        path = location / relative
        return path if path.is_file() else None
    if loaded.resolved.source != "hub":
        return None
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(loaded.resolved.location, relative)
    except Exception:  # a malformed id or cache: the file is simply not available
        return None
    return Path(cached) if isinstance(cached, str) else None


def _read_json(path: Path | None) -> Any:
    if path is None:
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _config_modes(config: dict[str, Any]) -> tuple[str, ...]:
    """The pooling modes a 1_Pooling/config.json names (new ``pooling_mode`` key or legacy flags)."""
    named = config.get("pooling_mode")
    if isinstance(named, str):
        return (named,)
    if isinstance(named, list):
        return tuple(str(mode) for mode in named)
    return tuple(mode for key, mode in _LEGACY_KEYS.items() if config.get(key))


def _app_choice(loaded: Any, why: str) -> Pooling:
    kind = "a decoder: its tokens see only the tokens before them, yet " if loaded.is_decoder else ""
    return Pooling(
        mode=MEAN,
        normalize=False,
        source=(
            f"{why} The app's choice for {loaded.resolved.label}: {kind}mean pooling over the real "
            "tokens (the attention mask leaves padding out), without normalisation."
        ),
        from_checkpoint=False,
    )


def _module_kind(entry: dict[str, Any]) -> str:
    return str(entry.get("type", "")).rsplit(".", 1)[-1]


def pooling_for(loaded: Any) -> Pooling:
    """How ``loaded`` pools its token vectors: as its sentence-transformers files say
    (``modules.json``, ``1_Pooling/config.json``, ``sentence_bert_config.json``), else mean
    pooling, named as the app's choice."""
    modules = _read_json(_checkpoint_file(loaded, "modules.json"))
    if not isinstance(modules, list):
        return _app_choice(loaded, "This checkpoint has no sentence-transformers files (modules.json).")
    entries = [entry for entry in modules if isinstance(entry, dict)]
    pooling_entry = next((e for e in entries if _module_kind(e) == "Pooling"), None)
    if pooling_entry is None:
        return _app_choice(loaded, "Its modules.json lists no Pooling module.")
    folder = str(pooling_entry.get("path") or "1_Pooling").strip("/")
    config = _read_json(_checkpoint_file(loaded, f"{folder}/config.json"))
    modes = _config_modes(config) if isinstance(config, dict) else ()
    if not modes:
        return _app_choice(loaded, f"Its {folder}/config.json names no pooling mode.")
    unknown = [mode for mode in modes if mode not in MODES]
    if unknown:
        return _app_choice(loaded, f"Its pooling mode {', '.join(unknown)} is not one the app computes.")
    normalize = any(_module_kind(e) == "Normalize" for e in entries)
    ignored = tuple(
        _module_kind(e) for e in entries if _module_kind(e) not in ("Transformer", "Pooling", "Normalize")
    )
    settings = _read_json(_checkpoint_file(loaded, "sentence_bert_config.json"))
    max_tokens = settings.get("max_seq_length") if isinstance(settings, dict) else None
    chain = " → ".join(_module_kind(e) or "?" for e in entries)
    source = (
        f"As the checkpoint's own files say: modules.json lists {chain}, and {folder}/config.json "
        f"names {' + '.join(modes)} pooling"
        + (", then each vector is normalised to length 1." if normalize else " (no normalisation).")
    )
    if ignored:
        source += f" It also lists {', '.join(ignored)}, which the app does not apply: these vectors stop before it."
    return Pooling(
        mode="+".join(modes),
        normalize=normalize,
        source=source,
        from_checkpoint=True,
        max_tokens=int(max_tokens) if isinstance(max_tokens, int) and max_tokens > 0 else None,
        ignored=ignored,
    )


def _pool_one(mode: str, vectors: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """[B, S, D] float64 vectors, [B, S] float64 mask -> [B, D] by one mode."""
    B = vectors.shape[0]
    if mode in (MEAN, MEAN_SQRT_LEN):
        summed = (vectors * mask[:, :, None]).sum(axis=1)  # [B, D]
        count = np.clip(mask.sum(axis=1, keepdims=True), 1e-9, None)  # [B, 1]
        return summed / (count if mode == MEAN else np.sqrt(count))
    if mode == MAX:
        return np.where(mask[:, :, None] > 0, vectors, -np.inf).max(axis=1)  # [B, D]
    real = mask > 0  # [B, S]
    if mode == CLS:
        positions = real.argmax(axis=1)  # [B] first real token
    else:  # LAST_TOKEN
        positions = real.shape[1] - 1 - real[:, ::-1].argmax(axis=1)  # [B] last real token
    return vectors[np.arange(B), positions]  # [B, D]


def pool(token_vectors: np.ndarray, mask: np.ndarray, pooling: Pooling) -> np.ndarray:
    """[B, S, D] token vectors and a [B, S] mask (1 = pooled, 0 = left out) -> [B, D] float64
    sentence vectors, by ``pooling``'s mode(s), normalised to length 1 if it says so. A mask of
    all ones pools the padding too (what pooling without the attention mask would do)."""
    vectors = np.asarray(token_vectors, dtype=np.float64)  # [B, S, D]
    weights = np.asarray(mask, dtype=np.float64)  # [B, S]
    pooled = np.concatenate([_pool_one(mode, vectors, weights) for mode in pooling.modes], axis=-1)  # [B, D]
    return normalized(pooled) if pooling.normalize else pooled


def normalized(vectors: np.ndarray) -> np.ndarray:
    """[N, D] each row scaled to length 1 (a zero row stays zero), as torch's F.normalize does."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)  # [N, 1]
    return vectors / np.clip(norms, 1e-12, None)


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[N, D] x [M, D] -> [N, M] cosine similarity of every row of ``a`` with every row of ``b``."""
    return normalized(np.asarray(a, np.float64)) @ normalized(np.asarray(b, np.float64)).T


def token_limit(loaded: Any, pooling: Pooling) -> int:
    """Longest input (tokens, specials included): the model's limit, or the checkpoint's
    sentence-transformers max_seq_length when that is shorter."""
    limits = [loaded.max_tokens] + ([pooling.max_tokens] if pooling.max_tokens else [])
    return min(limits)


def sentence_embeddings(
    loaded: Any, sentences: Sequence[str], batch_size: int = 32, pooling: Pooling | None = None
) -> np.ndarray:
    """[N, D] float64 sentence embeddings, pooled (and normalised) as the checkpoint says
    (:func:`pooling_for`, or ``pooling``), ``batch_size`` sentences per forward pass, each cut at
    :func:`token_limit`. An empty string is a sentence of special tokens only."""
    pooling = pooling or pooling_for(loaded)
    limit = token_limit(loaded, pooling)
    parts = []
    for start in range(0, len(sentences), max(1, batch_size)):
        chunk = [str(s) for s in sentences[start : start + max(1, batch_size)]]
        encoding = encode_batch(loaded.batch_tokenizer, chunk, max_length=limit)  # [b, S]
        vectors = runner.forward(loaded, encoding).last_hidden_state  # [b, S, D]
        parts.append(pool(vectors, encoding.attention_mask, pooling))  # [b, D]
    if not parts:
        width = loaded.model.get_input_embeddings().embedding_dim
        return np.zeros((0, int(width)), dtype=np.float64)  # [0, D]
    return np.concatenate(parts, axis=0)  # [N, D]


def build(loaded: Any, encoding: Any, run: Any, inputs: Any) -> None:
    """Step ③ for a headless checkpoint (being written: nothing drawn yet)."""
    return None

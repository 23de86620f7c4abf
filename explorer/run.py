"""Steps 2 and 3 of the pipeline: the model's forward pass, then postprocessing.

:func:`run_model` runs the batch once under ``torch.inference_mode()`` and returns a
:class:`ModelRun`: the shape of everything the model returned, and (on request) the hidden states
and attention weights as read-only NumPy arrays. :func:`postprocess` turns the head's logits into
labelled probabilities, like ``pipeline()``'s last step.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np

from explorer.encoding import Encoding
from explorer.errors import InputError
from explorer.loading import LoadedCheckpoint

# Attention weights one run may keep: layers x sentences x heads x tokens², as float32 (400 MB).
MAX_ATTENTION_VALUES = 100_000_000


@dataclass(frozen=True)
class OutputInfo:
    """One tensor the model returned: its name in the output object and its shape."""

    name: str  # e.g. "last_hidden_state", "logits", "attentions[0]"
    shape: tuple[int, ...]
    meaning: str  # the axes, e.g. "[batch, sequence, hidden]"


@dataclass(frozen=True)
class ModelRun:
    """What one forward pass returned. B = batch, S = sequence, L = layers, H = heads, D = hidden.

    Arrays are float32 and read-only; the optional ones are None unless requested."""

    head_class: str  # the Auto class, e.g. "AutoModel"
    model_class: str  # the concrete class, e.g. "BertModel"
    outputs: tuple[OutputInfo, ...]  # every tensor the model returned, with its shape
    hidden_states: np.ndarray | None  # [L + 1, B, S, D]: embeddings, then each layer's output
    attentions: np.ndarray | None  # [L, B, H, S, S]: query rows, key columns; rows sum to 1
    # Head scores that postprocessing reads:
    #   sequence classification: [B, labels]
    #   causal / masked LM: [N, vocab] at the positions listed in `logit_positions`
    logits: np.ndarray | None
    logit_positions: np.ndarray | None  # [N, 2] (sentence, position) rows, for token-level heads


def _readonly(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


def _describe(name: str, shape: tuple[int, ...], head_class: str) -> str:
    if name in ("last_hidden_state",) or name.startswith("hidden_states"):
        return "[batch, sequence, hidden]"
    if name.startswith("attentions"):
        return "[batch, heads, query, key]"
    if name == "pooler_output":
        return "[batch, hidden]"
    if name == "logits":
        if head_class == "AutoModelForSequenceClassification":
            return "[batch, labels]"
        return "[batch, sequence, vocab]"
    if name.startswith("past_key_values"):
        return "cache of keys and values per layer"
    return "[" + ", ".join(str(n) for n in shape) + "]"


def _output_infos(output: Any, head_class: str) -> tuple[OutputInfo, ...]:
    infos = []
    for name, value in output.items():
        if hasattr(value, "shape"):
            infos.append(
                OutputInfo(name, tuple(value.shape), _describe(name, tuple(value.shape), head_class))
            )
        elif isinstance(value, tuple) and value and hasattr(value[0], "shape"):
            shape = tuple(value[0].shape)
            infos.append(
                OutputInfo(
                    f"{name}[0…{len(value) - 1}]",
                    shape,
                    f"{len(value)} × {_describe(name, shape, head_class)}",
                )
            )
    return tuple(infos)


def _token_positions(loaded: LoadedCheckpoint, encoding: Encoding) -> np.ndarray:
    """[N, 2] (sentence, position) rows whose logits postprocessing needs."""
    if loaded.head_class == "AutoModelForCausalLM":
        # The next token follows each sentence's last real token (padding may be on either side).
        rows = []
        for b, mask in enumerate(encoding.attention_mask):
            real = np.flatnonzero(mask)
            rows.append((b, int(real[-1])))
        return np.array(rows, dtype=np.int64).reshape(-1, 2)
    mask_id = loaded.tokenizer.mask_token_id
    if mask_id is None:
        return np.zeros((0, 2), dtype=np.int64)
    return np.argwhere(encoding.input_ids == mask_id).astype(np.int64).reshape(-1, 2)


def position_ids(encoding: Encoding):
    """[B, S] torch position of each token. With left padding, positions count from each
    sentence's first real token, as generate() does (otherwise padding would shift a decoder's
    positions); without it they are 0, 1, 2, … as the model assumes by default."""
    import torch

    mask = torch.from_numpy(np.array(encoding.attention_mask))  # [B, S]
    if (encoding.attention_mask[:, 0] == 0).any():
        return (mask.cumsum(-1) - 1).clamp(min=0)
    return torch.arange(encoding.shape[1])[None, :].expand_as(mask)


def check_attention_size(loaded: LoadedCheckpoint, encoding: Encoding) -> None:
    """Refuse, with a message, a batch whose attention weights would not fit the memory budget."""
    config = loaded.config
    layers = getattr(config, "num_hidden_layers", None) or getattr(config, "n_layer", 1)
    heads = getattr(config, "num_attention_heads", None) or getattr(config, "n_head", 1)
    B, S = encoding.shape
    values = layers * B * heads * S * S
    if values > MAX_ATTENTION_VALUES:
        most = int(MAX_ATTENTION_VALUES / (layers * heads * S * S))
        raise InputError(
            f"The attention views of {B} sentences of {S} tokens would need {values * 4 / 1e9:.1f} GB of "
            f"attention weights ({layers} layers × {heads} heads × {S}² per sentence). Use at most "
            f"{max(1, most)} sentence(s) of this length, or shorter sentences."
        )


def run_model(
    loaded: LoadedCheckpoint,
    encoding: Encoding,
    *,
    hidden_states: bool = False,
    attentions: bool = False,
) -> ModelRun:
    """One forward pass of the batch; keep hidden states / attentions only when asked."""
    import torch

    if attentions:
        check_attention_size(loaded, encoding)
    model = loaded.model
    accepted = inspect.signature(model.forward).parameters
    inputs = encoding.model_inputs(accepted)
    if "position_ids" in accepted and (encoding.attention_mask[:, 0] == 0).any():
        inputs["position_ids"] = position_ids(encoding)  # [B, S]
    with torch.inference_mode():
        output = model(
            **inputs,
            output_hidden_states=True,
            output_attentions=attentions,
            return_dict=True,
            **({"use_cache": False} if "use_cache" in accepted else {}),
        )
    infos = _output_infos(output, loaded.head_class)
    kept_hidden = None
    if hidden_states:
        kept_hidden = _readonly(torch.stack(output.hidden_states).float().numpy())  # [L+1, B, S, D]
    kept_attentions = None
    if attentions:
        if not output.attentions:
            raise RuntimeError("The model returned no attention weights; load it with eager attention.")
        kept_attentions = _readonly(torch.stack(output.attentions).float().numpy())  # [L, B, H, S, S]
    logits = positions = None
    if loaded.head_class == "AutoModelForSequenceClassification":
        logits = _readonly(output.logits.float().numpy().copy())  # [B, labels]
    elif loaded.head_class in ("AutoModelForCausalLM", "AutoModelForMaskedLM"):
        positions = _readonly(_token_positions(loaded, encoding))  # [N, 2]
        index = torch.from_numpy(positions.copy())
        picked = output.logits[index[:, 0], index[:, 1]]  # [N, vocab]
        logits = _readonly(picked.float().numpy().copy())
    return ModelRun(
        head_class=loaded.head_class,
        model_class=loaded.model_class,
        outputs=infos,
        hidden_states=kept_hidden,
        attentions=kept_attentions,
        logits=logits,
        logit_positions=positions,
    )


@dataclass(frozen=True)
class Prediction:
    """Postprocessing for one sentence (and, for token-level heads, one position)."""

    sentence: int  # index in the batch
    position: int | None  # token position the scores belong to (None: whole sentence)
    labels: tuple[str, ...]  # [K] best first
    probabilities: tuple[float, ...]  # [K] softmax probabilities, same order


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, numerically stable. Same shape as ``logits``."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def postprocess(run: ModelRun, loaded: LoadedCheckpoint, top_k: int = 5) -> tuple[Prediction, ...]:
    """Logits -> softmax -> labelled probabilities, best first (like pipeline()'s last step)."""
    if run.logits is None:
        return ()
    probabilities = softmax(run.logits.astype(np.float64))  # [B, labels] or [N, vocab]
    predictions = []
    if run.logit_positions is None:
        id2label = getattr(loaded.config, "id2label", None) or {}
        for b, row in enumerate(probabilities):
            order = np.argsort(-row)
            labels = tuple(str(id2label.get(int(i), f"LABEL_{int(i)}")) for i in order)
            predictions.append(Prediction(b, None, labels, tuple(float(row[i]) for i in order)))
        return tuple(predictions)
    for (b, position), row in zip(run.logit_positions, probabilities, strict=True):
        order = np.argsort(-row)[:top_k]
        tokens = loaded.tokenizer.convert_ids_to_tokens([int(i) for i in order])
        predictions.append(
            Prediction(int(b), int(position), tuple(tokens), tuple(float(row[i]) for i in order))
        )
    return tuple(predictions)

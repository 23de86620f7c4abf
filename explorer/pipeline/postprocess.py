"""Step 3 of the pipeline, and THE place logits become probabilities (or scores).

What ``pipeline()`` does for the loaded head:

- sequence classification: the function ``pipeline("text-classification")`` picks from the
  config (:func:`classification_function`): softmax over the labels for single-label heads, a
  sigmoid per label for multi-label heads (and for a single logit), the raw score for regression;
- causal language models: softmax over the vocabulary for the next token, reshaped by
  temperature, top-k and top-p when sampling (:func:`reshape`);
- masked language models: softmax over the vocabulary at each mask position (fill-mask).

Pure NumPy; the logits come from ``explorer.pipeline.run``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

Function = Literal["softmax", "sigmoid", "none"]

# How each function is named on screen, and what its numbers are.
FUNCTION_TEXT: dict[Function, str] = {
    "softmax": "softmax over the labels: probabilities that add up to 1",
    "sigmoid": "a sigmoid on each label's logit: each label's own probability (they need not add up to 1)",
    "none": "no function: a regression head's raw score is the answer",
}
SCORE_NAME: dict[Function, str] = {"softmax": "probability", "sigmoid": "probability", "none": "score"}


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, numerically stable. Same shape as ``logits``."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-x), elementwise. Same shape as ``logits``."""
    return 1.0 / (1.0 + np.exp(-logits))


def classification_function(config: Any) -> Function:
    """The function pipeline("text-classification") applies for this config (transformers 5,
    pipelines/text_classification.py): regression -> none; multi-label or one label -> sigmoid;
    otherwise softmax."""
    problem_type = getattr(config, "problem_type", None)
    num_labels = getattr(config, "num_labels", 2)
    if problem_type == "regression":
        return "none"
    if problem_type == "multi_label_classification" or num_labels == 1:
        return "sigmoid"
    return "softmax"


def apply(function: Function, logits: np.ndarray) -> np.ndarray:
    """``function`` over the last axis of ``logits`` (float64). Same shape."""
    logits = logits.astype(np.float64)
    if function == "softmax":
        return softmax(logits)
    if function == "sigmoid":
        return sigmoid(logits)
    return logits


def label_names(config: Any, count: int) -> tuple[str, ...]:
    """[K] the config's id2label names, in the head's order (LABEL_i where missing)."""
    id2label = getattr(config, "id2label", None) or {}
    return tuple(str(id2label.get(i, f"LABEL_{i}")) for i in range(count))


@dataclass(frozen=True, kw_only=True)
class Classification:
    """One sentence through a sequence-classification head, in the head's label order."""

    sentence: int  # index in the batch
    labels: tuple[str, ...]  # [K] id 0, 1, …
    logits: np.ndarray  # [K] raw scores from the head
    scores: np.ndarray  # [K] function(logits): probabilities, or the raw score for regression
    function: Function
    predicted: str  # the label with the highest score

    @property
    def score_name(self) -> str:
        return SCORE_NAME[self.function]


def classify(logits: np.ndarray, config: Any) -> tuple[Classification, ...]:
    """[B, K] classification logits -> one Classification per sentence."""
    function = classification_function(config)
    logits = logits.astype(np.float64)  # [B, K]
    scores = apply(function, logits)  # [B, K]
    labels = label_names(config, logits.shape[1])
    return tuple(
        Classification(
            sentence=b,
            labels=labels,
            logits=logits[b],
            scores=scores[b],
            function=function,
            predicted=labels[int(np.argmax(scores[b]))],
        )
        for b in range(logits.shape[0])
    )


@dataclass(frozen=True, kw_only=True)
class Prediction:
    """Postprocessing for one sentence (and, for token-level heads, one position), best first.

    ``scores`` are what ``function`` made of the logits: probabilities (softmax, sigmoid), or the
    raw scores themselves for a regression head ("none") -- so they are not always probabilities."""

    sentence: int  # index in the batch
    position: int | None  # token position the scores belong to (None: the whole sentence)
    labels: tuple[str, ...]  # [K] labels or tokens, best first
    scores: tuple[float, ...]  # [K] same order: probabilities, or raw scores for regression
    function: Function


def token_predictions(
    logits: np.ndarray, positions: np.ndarray, tokenizer: Any, top_k: int = 5
) -> tuple[Prediction, ...]:
    """[N, vocab] logits at [N, 2] (sentence, position) rows -> the top_k tokens of each, by
    softmax probability (the next token for a causal LM, the hidden word for fill-mask)."""
    probabilities = softmax(logits.astype(np.float64))  # [N, vocab]
    predictions = []
    for (b, position), row in zip(positions, probabilities, strict=True):
        order = np.argsort(-row)[:top_k]  # [top_k]
        tokens = tokenizer.convert_ids_to_tokens([int(i) for i in order])
        predictions.append(
            Prediction(
                sentence=int(b),
                position=int(position),
                labels=tuple(tokens),
                scores=tuple(float(row[i]) for i in order),
                function="softmax",
            )
        )
    return tuple(predictions)


def postprocess(run: Any, loaded: Any, top_k: int = 5) -> tuple[Prediction, ...]:
    """What pipeline() returns for this head, for every sentence of a ModelRun, best first:
    labelled scores for a classifier, the top tokens for language-model heads, nothing for a
    model without a head."""
    if run.logits is None:
        return ()
    if run.logit_positions is not None:
        return token_predictions(run.logits, run.logit_positions, loaded.tokenizer, top_k)
    predictions = []
    for result in classify(run.logits, loaded.config):
        order = np.argsort(-result.scores)
        predictions.append(
            Prediction(
                sentence=result.sentence,
                position=None,
                labels=tuple(result.labels[i] for i in order),
                scores=tuple(float(result.scores[i]) for i in order),
                function=result.function,
            )
        )
    return tuple(predictions)


# --- Choosing the next token ---------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Sampling:
    """How the next token is chosen. temperature 1, top_k 0 and top_p 1 change nothing."""

    temperature: float = 1.0  # logits are divided by it: < 1 sharpens, > 1 flattens
    top_k: int = 0  # keep only the k most likely tokens (0 = keep all)
    top_p: float = 1.0  # keep the smallest set of tokens whose probability adds up to p
    greedy: bool = True  # take the most likely token instead of sampling
    seed: int = 0  # for sampling: the same seed gives the same text


def reshape(logits: np.ndarray, sampling: Sampling) -> np.ndarray:
    """[vocab] probabilities after temperature, top-k and top-p (zeros for removed tokens)."""
    probabilities = softmax(logits.astype(np.float64) / max(sampling.temperature, 1e-6))  # [vocab]
    keep = np.ones_like(probabilities, dtype=bool)  # [vocab]
    if sampling.top_k and sampling.top_k < probabilities.size:
        threshold = np.partition(probabilities, -sampling.top_k)[-sampling.top_k]
        keep &= probabilities >= threshold
    if sampling.top_p < 1.0:
        order = np.argsort(-probabilities)  # [vocab] most likely first
        cumulative = np.cumsum(probabilities[order])  # [vocab]
        cutoff = int(np.searchsorted(cumulative, sampling.top_p - 1e-12) + 1)  # smallest prefix reaching p
        nucleus = np.zeros_like(keep)  # [vocab]
        nucleus[order[:cutoff]] = True
        keep &= nucleus
    filtered = np.where(keep, probabilities, 0.0)  # [vocab]
    return filtered / filtered.sum()


def choose(shaped: np.ndarray, sampling: Sampling, step: int) -> int:
    """The next token from [vocab] reshaped probabilities: the argmax, or a draw from the stream
    (seed, step), so that sampling gives the same text in one go or step by step."""
    if sampling.greedy:
        return int(np.argmax(shaped))
    rng = np.random.default_rng([sampling.seed, step])
    return int(rng.choice(shaped.size, p=shaped))


def best_tokens(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[..., vocab] logits -> ([...] most likely token id, [...] its softmax probability)."""
    probabilities = softmax(logits.astype(np.float64))
    index = probabilities.argmax(axis=-1)
    return index, np.take_along_axis(probabilities, index[..., None], axis=-1)[..., 0]


@dataclass(frozen=True, kw_only=True)
class PipelineCheck:
    """Our scores against pipeline("text-classification")'s for one sentence."""

    sentence: int
    ours: dict[str, float]  # label -> our score
    pipeline: dict[str, float]  # label -> pipeline()'s score
    max_abs_difference: float  # inf when the labels differ
    same_label: bool  # both put the same label first

    @property
    def agrees(self) -> bool:
        return self.same_label and self.max_abs_difference <= SAME_PROBABILITIES


SAME_PROBABILITIES = (
    1e-5  # bound on |ours - theirs| for probabilities (and attention weights) called "the same"
)


def compare_with_pipeline(
    ours: Sequence[Classification], theirs: Sequence[dict[str, float]]
) -> tuple[PipelineCheck, ...]:
    """Our classifications against pipeline()'s (from ``explorer.pipeline.run.pipeline_scores``)."""
    checks = []
    for mine, their_map in zip(ours, theirs, strict=True):
        ours_map = {label: float(s) for label, s in zip(mine.labels, mine.scores, strict=True)}
        if set(ours_map) == set(their_map):
            difference = max(abs(ours_map[k] - their_map[k]) for k in ours_map)
        else:
            difference = float("inf")
        best = max(their_map, key=lambda label: their_map[label]) if their_map else None
        checks.append(
            PipelineCheck(
                sentence=mine.sentence,
                ours=ours_map,
                pipeline=dict(their_map),
                max_abs_difference=difference,
                same_label=best == mine.predicted,
            )
        )
    return tuple(checks)

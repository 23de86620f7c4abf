"""Sequence classification, and the proof that our three steps equal transformers' own pipeline().

:func:`classifications` reads the head's logits from a ModelRun; :func:`compare_with_pipeline`
runs ``pipeline("text-classification")`` on the same model and tokenizer and reports the largest
difference between its scores and ours."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer.loading import LoadedCheckpoint
from explorer.run import ModelRun, softmax


@dataclass(frozen=True)
class Classification:
    """One sentence through the classification head."""

    sentence: int
    labels: tuple[str, ...]  # [K] in the head's order (id 0, 1, …)
    logits: np.ndarray  # [K] raw scores
    probabilities: np.ndarray  # [K] softmax(logits) (sigmoid for a single-logit head)
    predicted: str


def label_names(loaded: LoadedCheckpoint, count: int) -> tuple[str, ...]:
    id2label = getattr(loaded.config, "id2label", None) or {}
    return tuple(str(id2label.get(i, f"LABEL_{i}")) for i in range(count))


def classifications(run: ModelRun, loaded: LoadedCheckpoint) -> tuple[Classification, ...]:
    """Logits -> probabilities -> labels, for every sentence of a classification run."""
    if run.logits is None or run.logit_positions is not None:
        return ()
    logits = run.logits.astype(np.float64)  # [B, K]
    K = logits.shape[1]
    probabilities = 1 / (1 + np.exp(-logits)) if K == 1 else softmax(logits)  # [B, K]
    labels = label_names(loaded, K)
    return tuple(
        Classification(b, labels, logits[b], probabilities[b], labels[int(np.argmax(probabilities[b]))])
        for b in range(logits.shape[0])
    )


@dataclass(frozen=True)
class PipelineCheck:
    """Our probabilities against pipeline("text-classification")'s for one sentence."""

    sentence: int
    ours: dict[str, float]
    pipeline: dict[str, float]
    max_abs_difference: float
    same_label: bool


def compare_with_pipeline(
    loaded: LoadedCheckpoint, sentences: list[str], ours: tuple[Classification, ...]
) -> tuple[PipelineCheck, ...]:
    """Run transformers' own pipeline on the same shared model (it only reads it)."""
    from transformers import pipeline

    classifier = pipeline("text-classification", model=loaded.model, tokenizer=loaded.tokenizer, device="cpu")
    results = classifier(list(sentences), top_k=None, truncation=True, max_length=loaded.max_tokens)
    checks = []
    for mine, theirs in zip(ours, results, strict=True):
        theirs_map = {r["label"]: float(r["score"]) for r in theirs}
        ours_map = {label: float(p) for label, p in zip(mine.labels, mine.probabilities, strict=True)}
        difference = max(abs(ours_map[k] - theirs_map.get(k, float("nan"))) for k in ours_map)
        best = max(theirs_map, key=theirs_map.get)
        checks.append(PipelineCheck(mine.sentence, ours_map, theirs_map, difference, best == mine.predicted))
    return tuple(checks)

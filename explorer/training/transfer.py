"""Transfer learning, the course's two ways, on the same bundled data and the same held-out split:

- **feature-based**: the bundled MiniLM stays frozen; its pooled sentence vectors
  (:func:`explorer.pipeline.tasks.feature_extraction.sentence_embeddings`, pooled as the checkpoint says)
  are the features of a logistic-regression head (scikit-learn), the only weights trained. A
  sentence pair's features are ``[u, v, |u − v|, u ∗ v]`` from its two sentence vectors (the
  pair features of SBERT / InferSent);
- **fine-tuning**: the whole model trained with a new classification head
  (:mod:`explorer.training.finetune`); its held-out score, time and data are read from the saved
  classifier's metadata (:data:`explorer.pipeline.checkpoints.TRAINING_METADATA`), never typed in here.

- :func:`train_feature_head` / :func:`feature_based`: fit and score the head (seconds);
- :func:`fine_tuned_score`: the fine-tuned classifier's numbers on the same split, or why not;
- :func:`feature_probabilities`: the head on new sentences or pairs ([N, 2], through postprocess);
- :func:`recommend`: which way to use, from the measured numbers.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from explorer.pipeline import checkpoints, postprocess
from explorer.pipeline.tasks.feature_extraction import pooling_for, sentence_embeddings
from explorer.training import finetune as ft

Kind = Literal["sentences", "pairs"]
KINDS: tuple[Kind, Kind] = ("sentences", "pairs")
C = 1.0  # the head's inverse regularisation strength: scikit-learn's default, not tuned on held-out data
MAX_ITER = 5_000  # lbfgs iterations (it converges in far fewer on these features)
FEATURE_WAY, FINE_TUNED_WAY = "feature-based", "fine-tuned"
# Which split each kind is scored on: the bundled sentences have train / validation only (the
# fine-tune chose nothing with its validation sentences: fixed settings, no early stopping);
# the bundled pairs have a held-out test split built from other sentences.
HELD_OUT: dict[Kind, str] = {"sentences": "validation", "pairs": "test"}
FOLDER_NAME: dict[Kind, str] = {"sentences": ft.DEFAULT_NAME, "pairs": ft.PAIR_NAME}


@dataclass(frozen=True, kw_only=True)
class Score:
    """One classifier on held-out examples: how well, how long, how many weights trained."""

    way: str  # FEATURE_WAY or FINE_TUNED_WAY
    kind: Kind
    accuracy: float  # on the held-out examples, 0…1
    f1: float  # of the positive label (POSITIVE / PARAPHRASE)
    examples: int  # held-out examples scored
    train_examples: int
    seconds: float  # training time (feature-based: encoding both splits + fitting the head)
    parameters: int | None  # weights trained (None: not known)
    source: str  # one sentence: where these numbers come from


@dataclass(frozen=True, kw_only=True)
class FeatureHead:
    """A logistic-regression head trained on frozen sentence vectors, and its held-out score."""

    kind: Kind
    head: Any  # sklearn LogisticRegression: coef_ [1, F], intercept_ [1] (F = D, or 4·D for pairs)
    labels: tuple[str, str]  # label 0, label 1
    dimension: int  # D: one sentence vector's length
    features: int  # F: the head's input length
    encode_seconds: float  # MiniLM over the training and held-out sentences
    fit_seconds: float  # the head's fit
    pooling: str  # how the sentence vectors were pooled (the checkpoint's files, or the app's choice)
    score: Score


def pair_features(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """[N, D] and [N, D] sentence vectors u, v -> [N, 4·D] features [u, v, |u − v|, u ∗ v]."""
    return np.concatenate([first, second, np.abs(first - second), first * second], axis=1)  # [N, 4D]


def features(loaded: Any, data: ft.LabelledData, batch_size: int = 32) -> np.ndarray:
    """[N, F] features of ``data``: each sentence's vector ([N, D]), or a pair's
    :func:`pair_features` ([N, 4·D]); each distinct sentence goes through the model once."""
    sentences = list(dict.fromkeys(data.texts + (data.pairs or ())))  # distinct, in order
    vectors = sentence_embeddings(loaded, sentences, batch_size=batch_size)  # [U, D]
    row = {sentence: i for i, sentence in enumerate(sentences)}
    first = vectors[[row[s] for s in data.texts]]  # [N, D]
    if data.pairs is None:
        return first
    return pair_features(first, vectors[[row[s] for s in data.pairs]])  # [N, 4D]


def f1_and_accuracy(predicted: Sequence[int], labels: Sequence[int]) -> tuple[float, float]:
    right = sum(int(p) == int(y) for p, y in zip(predicted, labels, strict=True))
    return ft.f1_score([int(p) for p in predicted], [int(y) for y in labels]), right / max(len(labels), 1)


def train_feature_head(
    loaded: Any, train: ft.LabelledData, held_out: ft.LabelledData, kind: Kind
) -> FeatureHead:
    """Fit a logistic-regression head on ``train``'s frozen features and score it on ``held_out``."""
    from sklearn.linear_model import LogisticRegression

    started = time.perf_counter()
    train_x = features(loaded, train)  # [N, F]
    held_x = features(loaded, held_out)  # [M, F]
    encoded = time.perf_counter()
    head = LogisticRegression(C=C, max_iter=MAX_ITER).fit(train_x, np.asarray(train.labels))
    fitted = time.perf_counter()
    predicted = head.predict(held_x)  # [M]
    f1, accuracy = f1_and_accuracy(predicted, held_out.labels)
    pooling = pooling_for(loaded)
    score = Score(
        way=FEATURE_WAY,
        kind=kind,
        accuracy=accuracy,
        f1=f1,
        examples=len(held_out.labels),
        train_examples=len(train.labels),
        seconds=fitted - started,
        parameters=int(head.coef_.size + head.intercept_.size),
        source=(
            f"Measured when this server first trained it: {loaded.resolved.label} encoded {len(train.labels)} + {len(held_out.labels)} "
            f"{kind} in {encoded - started:.1f} s, the head fitted in {fitted - encoded:.2f} s."
        ),
    )
    return FeatureHead(
        kind=kind,
        head=head,
        labels=train.label_names,
        dimension=int(train_x.shape[1] // (4 if kind == "pairs" else 1)),
        features=int(train_x.shape[1]),
        encode_seconds=encoded - started,
        fit_seconds=fitted - encoded,
        pooling=pooling.source,
        score=score,
    )


def bundled_split(kind: Kind) -> tuple[ft.LabelledData, ft.LabelledData]:
    """(train, held-out) of the bundled data, the split the fine-tuned classifier used."""
    if kind == "pairs":
        train, _validation, test = ft.bundled_pairs()
        return train, test
    return ft.bundled_dataset()


def feature_based(loaded: Any, kind: Kind) -> FeatureHead:
    """The feature-based classifier on the bundled sentences or pairs (``loaded``: the frozen encoder)."""
    train, held_out = bundled_split(kind)
    return train_feature_head(loaded, train, held_out, kind)


def fine_tuned_folder(kind: Kind) -> Path:
    return ft.default_classifier_folder() if kind == "sentences" else ft.pair_classifier_folder()


def fine_tuned_ref(kind: Kind) -> str:
    return f"saved:{FOLDER_NAME[kind]}"


def fine_tuned_score(folder: Path, kind: Kind, parameters: int | None) -> tuple[Score | None, str]:
    """The fine-tuned classifier's numbers on the held-out split, read from its metadata, and a
    sentence saying where they come from; (None, why) when the folder or its numbers are missing
    or were measured on another split. ``parameters``: its weight count (all of them are trained)."""
    train, held_out = bundled_split(kind)
    build = "make models" if kind == "sentences" else "python -m explorer.training.finetune --pairs"
    try:
        meta = json.loads((folder / checkpoints.TRAINING_METADATA).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        if (folder / "config.json").is_file():
            return (
                None,
                f"{folder.name} has no readable {checkpoints.TRAINING_METADATA}: its scores are unknown.",
            )
        return None, (
            f"The fine-tuned {kind} classifier ({FOLDER_NAME[kind]}) is not built on this server yet: "
            f"fine-tune it below on the bundled {kind}, or run `{build}`."
        )
    split = HELD_OUT[kind]
    scored = meta.get(split) if isinstance(meta, dict) else None
    counted = meta.get(f"{split}_examples") if split == "validation" else (scored or {}).get("examples")
    if not isinstance(scored, dict) or "accuracy" not in scored:
        return None, f"{FOLDER_NAME[kind]}'s metadata holds no {split} accuracy."
    if counted != len(held_out.labels) or meta.get("train_examples") != len(train.labels):
        return None, (
            f"{FOLDER_NAME[kind]} was trained on {meta.get('train_examples')} {kind} and scored on {counted}, "
            f"not the bundled split ({len(train.labels)} / {len(held_out.labels)}): its numbers are not comparable."
        )
    seconds = float(meta.get("seconds", math.nan))
    threads = meta.get("torch_threads")
    when = f" on {meta['date'].replace('T', ' ')}" if isinstance(meta.get("date"), str) else ""
    score = Score(
        way=FINE_TUNED_WAY,
        kind=kind,
        accuracy=float(scored["accuracy"]),
        f1=float(scored.get("f1", math.nan)),
        examples=len(held_out.labels),
        train_examples=int(meta["train_examples"]),
        seconds=seconds,
        parameters=parameters,
        source=(
            f"Read from {FOLDER_NAME[kind]}'s {checkpoints.TRAINING_METADATA}: trained{when} in "
            f"{seconds:.0f} s" + (f" with {threads} CPU threads" if threads else "") + "."
        ),
    )
    return score, score.source


def feature_probabilities(
    loaded: Any, trained: FeatureHead, sentences: Sequence[str], pairs: Sequence[str] | None = None
) -> np.ndarray:
    """[N, 2] (P(label 0), P(label 1)) of each sentence (or pair) under the feature-based head:
    its logit w·x + b through a sigmoid (explorer.pipeline.postprocess), as logistic regression defines it."""
    if not sentences:
        return np.zeros((0, 2))
    data = ft.LabelledData(tuple(sentences), (0,) * len(sentences), (), tuple(pairs) if pairs else None)
    logit = trained.head.decision_function(features(loaded, data))  # [N]: w·x + b
    positive = postprocess.apply("sigmoid", np.asarray(logit, dtype=np.float64)[:, None])[:, 0]  # [N]
    return np.stack([1.0 - positive, positive], axis=1)  # [N, 2]


@dataclass(frozen=True, kw_only=True)
class Recommendation:
    way: str  # the way recommended
    text: str  # why, with the numbers
    clear: bool  # False when the accuracies are within their sampling noise of each other


def standard_error(accuracy: float, examples: int) -> float:
    """The binomial standard error of an accuracy measured on ``examples`` examples."""
    return math.sqrt(max(accuracy * (1 - accuracy), 0.0) / max(examples, 1))


def recommend(feature: Score, fine: Score | None) -> Recommendation:
    """Which way to use, from the measured numbers: the more accurate one when the gap exceeds two
    standard errors of the difference; otherwise the cheaper one (fewer trained weights)."""
    if fine is None:
        return Recommendation(
            way=feature.way,
            text=(
                f"Only the feature-based classifier has numbers here ({feature.accuracy:.1%} on "
                f"{feature.examples} held-out {feature.kind}): it is the one to use until a fine-tuned one is built."
            ),
            clear=False,
        )
    gap = fine.accuracy - feature.accuracy
    noise = 2 * math.hypot(
        standard_error(fine.accuracy, fine.examples), standard_error(feature.accuracy, feature.examples)
    )
    scores = (
        f"fine-tuned {fine.accuracy:.1%} vs feature-based {feature.accuracy:.1%} on the same "
        f"{feature.examples} held-out {feature.kind}"
    )
    if abs(gap) > noise:
        better, other = (fine, feature) if gap > 0 else (feature, fine)
        cost = _cost(better, other)
        return Recommendation(
            way=better.way,
            text=(
                f"Use the **{better.way}** classifier: {scores}, a gap of {abs(gap) * 100:.1f} points, "
                f"more than twice its sampling noise (±{noise * 100:.1f}).{cost}"
            ),
            clear=True,
        )
    cheaper = min((feature, fine), key=lambda s: s.parameters if s.parameters is not None else math.inf)
    return Recommendation(
        way=cheaper.way,
        text=(
            f"Use the **{cheaper.way}** classifier: {scores}, a gap of {abs(gap) * 100:.1f} points, within "
            f"twice its sampling noise (±{noise * 100:.1f}) on so few examples, and it trains "
            f"{_weights(cheaper.parameters)} instead of {_weights(_other(cheaper, feature, fine).parameters)}."
        ),
        clear=False,
    )


def _other(one: Score, a: Score, b: Score) -> Score:
    return b if one is a else a


def _weights(count: int | None) -> str:
    return "an unknown number of weights" if count is None else f"{count:,} weights"


def _cost(better: Score, other: Score) -> str:
    if better.parameters is None or other.parameters is None or better.parameters <= other.parameters:
        return ""
    return (
        f" It costs more: {_weights(better.parameters)} trained instead of {_weights(other.parameters)}, "
        f"{better.seconds:.0f} s instead of {other.seconds:.0f} s."
    )

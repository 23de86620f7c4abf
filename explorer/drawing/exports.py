"""Data downloads: the numbers each page shows, as CSV or JSON (pure functions, no streamlit).
Masked attention cells are written as empty CSV cells / JSON null, never as made-up zeros."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

import numpy as np

from explorer.explain.attention import AttentionView
from explorer.explain.generation import Candidates
from explorer.explain.model_info import Trajectory
from explorer.pipeline.postprocess import Classification


def _csv(rows: Sequence[Sequence[object]]) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue()


def _number(value: float) -> object:
    return "" if not np.isfinite(value) else float(value)


def _labels(side: str | None, positions: Sequence[int] | np.ndarray, tokens: Sequence[str]) -> list[str]:
    prefix = f"{side} " if side else ""
    return [f"{prefix}{int(p)} · {t}" for p, t in zip(positions, tokens, strict=True)]


def attention_csv(view: AttentionView) -> str:
    """Rows = queries, columns = keys, labelled 'position · token' ('decoder 3 · token' for an
    encoder-decoder's part)."""
    queries = _labels(view.query_side, view.query_positions, view.query_tokens)
    rows: list[list[object]] = [
        ["query \\ key", *_labels(view.key_side, view.key_positions, view.key_tokens)]
    ]
    rows += [[label, *(_number(x) for x in row)] for label, row in zip(queries, view.matrix, strict=True)]
    return _csv(rows)


def attention_json(view: AttentionView) -> str:
    weights = [[None if not np.isfinite(x) else round(float(x), 6) for x in row] for row in view.matrix]
    if view.query_side is None:  # one stack: queries and keys are the same positions
        positions = {"positions": [int(p) for p in view.query_positions], "tokens": list(view.query_tokens)}
        return json.dumps({"title": view.title, **positions, "weights": weights}, ensure_ascii=False)
    axes = {
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
    }
    return json.dumps(
        {"title": view.title, "part": view.part, **axes, "weights": weights}, ensure_ascii=False
    )


def probabilities_csv(results: Sequence[Classification], sentences: Sequence[str]) -> str:
    labels = results[0].labels if results else ()
    regression = bool(results) and results[0].function == "none"
    rows: list[list[object]] = [
        [
            "sentence",
            "predicted",
            *(f"logit {label}" for label in labels),
            *((f"score {label}" if regression else f"P({label})") for label in labels),
        ]
    ]
    for r in results:
        rows.append(
            [
                sentences[r.sentence],
                r.predicted,
                *(float(x) for x in r.logits),
                *(float(p) for p in r.scores),
            ]
        )
    return _csv(rows)


def candidates_csv(top: Candidates) -> str:
    rows: list[list[object]] = [
        ["rank", "token_id", "token", "text", "probability", "probability_after_sampling_settings"]
    ]
    for rank, row in enumerate(
        zip(top.token_ids, top.tokens, top.texts, top.raw, top.reshaped, strict=True), 1
    ):
        rows.append([rank, *row])
    return _csv(rows)


def trajectory_csv(path: Trajectory) -> str:
    """One row per layer: each token's vector length."""
    rows: list[list[object]] = [["layer", *path.tokens]]
    for layer, norms in enumerate(path.norms):
        rows.append(["embeddings" if layer == 0 else f"layer {layer}", *(float(x) for x in norms)])
    return _csv(rows)

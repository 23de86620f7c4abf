"""Pure functions from arrays to Plotly figures (no streamlit). Every figure has a title, axis
titles and a colour scale that colour-blind viewers can read (Cividis / Viridis).

User text reaches Plotly only through :func:`label`, which escapes the characters Plotly would
read as markup, so a token like ``<b>`` or ``</script>`` is drawn as those characters."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import plotly.graph_objects as go

from explorer.drawing.render import visible

SEQUENTIAL = "Cividis"
DIVERGING = "RdBu"
BASE_FONT = 12  # Plotly's font size, in pixels
LARGE_FONT = 18  # with *Large text (for a projector)*
LARGE_TITLE_FONT = 22
READABLE_ROWS = (
    64  # a heatmap labels every row (and column) up to this many; beyond, every k-th, said on its axis
)
READABLE_COLUMNS = 24  # columns are narrower than rows are tall (the page's width is shared): fewer labels
ROW_GAP_PX = 8  # a heatmap row is its label's font size plus this gap: 20 px at 12 px, 26 px in Large text
ROW_PX = BASE_FONT + ROW_GAP_PX
_TOP_PX = 60  # heatmap margins: the title above…
_BOTTOM_PX = 110  # …and the key labels below (rotated), at BASE_FONT; scaled with the font
LENS_COLUMNS = 12  # positions the logit lens shows: a cell wide enough to read the token it predicts
LENS_ROW_PX = 28
_LENS_TOP_PX = 110  # the title, and the colour bar above the grid


def label(position: int, token: str) -> str:
    """A unique, escaped axis label: 'position · token'."""
    return f"{position} · {visible(token, quote=False)}"


def _layout(figure: go.Figure, title: str, x_title: str, y_title: str, height: int) -> go.Figure:
    figure.update_layout(
        title={"text": html.escape(title)},
        xaxis_title=x_title,
        yaxis_title=y_title,
        height=height,
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        plot_bgcolor="#d9d9d9",  # masked (NaN) cells show as grey
    )
    return figure


def _ordinal(k: int) -> str:
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


def _label_axis(
    figure: go.Figure, axis: Literal["x", "y"], labels: Sequence[str], noun: str, limit: int = READABLE_ROWS
) -> None:
    """Every label on the axis (Plotly drops every other one when they look crowded), up to
    ``limit``; beyond it every k-th (k the smallest step that keeps at most ``limit``), and the
    axis title says so."""
    step = max(1, math.ceil(len(labels) / max(limit, 1)))
    shown = list(labels)[::step]
    name = f"{axis}axis"
    title = figure.layout[name].title.text or ""
    said = f" · every {_ordinal(step)} {noun} labelled" if step > 1 else ""
    figure.update_layout(
        {
            name: {
                "type": "category",
                "tickmode": "array",
                "tickvals": shown,
                "ticktext": shown,
                "showticklabels": True,
                "title": {"text": title + said},
            }
        }
    )


def _heatmap_height(rows: int, row_px: int = ROW_PX, bottom: int = _BOTTOM_PX, top: int = _TOP_PX) -> int:
    """Pixels for a heatmap of ``rows`` rows, each ``row_px`` tall (up to READABLE_ROWS rows; a
    longer one is labelled every k-th row, so its labels are as far apart)."""
    return top + bottom + row_px * min(rows, READABLE_ROWS)


def _heatmap_margins(figure: go.Figure, bottom: int = _BOTTOM_PX) -> None:
    """Room below the plot for the rotated key labels (fixed, so the rows keep their height)."""
    figure.update_layout(margin={"b": bottom})


def readable(figure: go.Figure, large: bool) -> go.Figure:
    """What every chart gets just before it is drawn: in Large text, larger fonts; and a heatmap
    whose rows are all labelled gets rows at least as tall as their labels (a view may have set a
    smaller height), its bottom margin grown with the font for the rotated key labels."""
    font = LARGE_FONT if large else BASE_FONT
    if large:
        figure.update_layout(font={"size": LARGE_FONT}, title={"font": {"size": LARGE_TITLE_FONT}})
    heatmap = next((trace for trace in figure.data if trace.type == "heatmap"), None)
    if heatmap is None or heatmap.y is None or figure.layout.yaxis.tickmode != "array":
        return figure
    bottom = round(_BOTTOM_PX * font / BASE_FONT)
    row_px = max(font + ROW_GAP_PX, LENS_ROW_PX if heatmap.texttemplate else 0)
    _heatmap_margins(figure, bottom)
    needed = _heatmap_height(len(heatmap.y), row_px, bottom, figure.layout.margin.t or _TOP_PX)
    figure.update_layout(height=max(figure.layout.height or 0, needed))
    return figure


def attention_heatmap(
    matrix: np.ndarray,
    positions: Sequence[int] | np.ndarray,
    tokens: Sequence[str],
    title: str,
    max_labels: int = READABLE_ROWS,
) -> go.Figure:
    """[T, T] attention weights: query rows (y), key columns (x); NaN cells are masked."""
    labels = [label(int(p), t) for p, t in zip(positions, tokens, strict=True)]
    return part_heatmap(matrix, labels, labels, title, "key (attended to)", "query (attending)", max_labels)


def layer_head_grid(values: np.ndarray, title: str, value_name: str = "bits") -> go.Figure:
    """[L, H] one value per layer and head, layers numbered as on every page (layer 1 … layer L:
    row l is attentions[l - 1]) and heads from 0, as the tensors and bertviz number them."""
    L, H = values.shape
    figure = go.Figure(
        go.Heatmap(
            z=np.round(values, 3),
            x=[f"head {h}" for h in range(H)],
            y=[f"layer {layer}" for layer in range(1, L + 1)],
            colorscale="Viridis",
            colorbar={"title": {"text": value_name}},
            hovertemplate=f"%{{y}}, %{{x}}<br>%{{z:.2f}} {value_name}<extra></extra>",
        )
    )
    _layout(figure, title, "head", "layer", max(300, 26 * L + 140))
    _label_axis(figure, "y", [f"layer {layer}" for layer in range(1, L + 1)], "layer")
    figure.update_yaxes(autorange="reversed")
    return figure


def matrix_heatmap(
    matrix: np.ndarray,
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    title: str,
    x_title: str,
    y_title: str,
    *,
    diverging: bool = True,
    value_name: str = "value",
) -> go.Figure:
    """Any [rows, columns] matrix (Q, K, V, scores, …); diverging colours centred on zero.
    Infinite values (a mask's -inf) are drawn as masked grey cells."""
    z = np.where(np.isfinite(matrix), matrix, np.nan).astype(np.float64)
    limit = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 1.0
    figure = go.Figure(
        go.Heatmap(
            z=np.round(z, 4).astype(np.float32),
            x=list(column_labels),
            y=list(row_labels),
            colorscale=DIVERGING if diverging else SEQUENTIAL,
            zmid=0.0 if diverging else None,
            zmin=-limit if diverging else 0.0,
            zmax=limit,
            colorbar={"title": {"text": value_name}},
            hovertemplate=f"{y_title} %{{y}}<br>{x_title} %{{x}}<br>{value_name} %{{z:.4f}}<extra></extra>",
            hoverongaps=False,
        )
    )
    _layout(figure, title, x_title, y_title, _heatmap_height(len(row_labels)))
    _heatmap_margins(figure)
    _label_axis(figure, "y", row_labels, "row")
    _label_axis(figure, "x", column_labels, "column", READABLE_COLUMNS)
    figure.update_yaxes(autorange="reversed")
    figure.update_xaxes(tickangle=-60)
    return figure


def layer_lines(
    values: np.ndarray, tokens: Sequence[str], title: str, y_title: str, first_layer: int = 0
) -> go.Figure:
    """[layers, T] one line per token across layers (e.g. vector norms)."""
    figure = go.Figure()
    x = [
        ("embeddings" if i == 0 else f"layer {i}") for i in range(first_layer, first_layer + values.shape[0])
    ]
    for t, token in enumerate(tokens):
        figure.add_trace(
            go.Scatter(x=x, y=np.round(values[:, t], 4), mode="lines+markers", name=label(t, token))
        )
    _layout(figure, title, "layer", y_title, 420)
    figure.update_layout(plot_bgcolor="white")
    return figure


def loss_curve(
    steps: Sequence[int], losses: Sequence[float], evaluations: Sequence[dict], steps_per_epoch: float
) -> go.Figure:
    """Training loss per step and validation accuracy per epoch, both against epochs."""
    per_epoch = max(steps_per_epoch, 1e-9)
    figure = go.Figure(
        go.Scatter(
            x=[s / per_epoch for s in steps], y=list(losses), mode="lines+markers", name="training loss"
        )
    )
    if evaluations:
        figure.add_trace(
            go.Scatter(
                x=[e["epoch"] for e in evaluations],
                y=[e["accuracy"] for e in evaluations],
                mode="lines+markers",
                name="validation accuracy",
                yaxis="y2",
            )
        )
    _layout(figure, "Fine-tuning: loss and validation accuracy", "epoch", "training loss", 380)
    figure.update_layout(
        plot_bgcolor="white",
        yaxis={"rangemode": "tozero"},
        yaxis2={
            "title": {"text": "validation accuracy"},
            "overlaying": "y",
            "side": "right",
            "range": [0, 1.02],
            "tickformat": ".0%",
            "showgrid": False,
        },
        legend={"orientation": "h", "y": -0.25},
    )
    return figure


def candidate_bars(
    texts: Sequence[str],
    raw: Sequence[float],
    reshaped: Sequence[float],
    title: str,
    pieces: Sequence[str] | None = None,
) -> go.Figure:
    """The most likely next tokens: probability before and after temperature / top-k / top-p.
    ``texts``: the tokens as shown (token_display); ``pieces``: the raw pieces, on hover."""
    labels = [f"{i + 1}. {visible(t, quote=False)}" for i, t in enumerate(texts)]
    hover = [visible(p, quote=False) for p in (pieces if pieces is not None else texts)]
    template = "%{x}<br>raw piece %{customdata}<br>%{y:.3f}<extra>%{fullData.name}</extra>"
    series = (("softmax(logits)", "#9aa5b1", raw), ("after temperature, top-k, top-p", "#2b6cb0", reshaped))
    figure = go.Figure(
        [
            go.Bar(
                x=labels,
                y=list(values),
                name=name,
                marker_color=colour,
                customdata=hover,
                hovertemplate=template,
                text=[f"{float(v):.2f}" for v in values],  # the value on each bar
                textposition="outside",
                cliponaxis=False,
            )
            for name, colour, values in series
        ]
    )
    _layout(figure, title, "candidate next token", "probability", 380)
    figure.update_layout(
        barmode="group",
        plot_bgcolor="white",
        xaxis={"type": "category"},  # "1. 1", "2. 3": labels Plotly would otherwise read as numbers
        yaxis={"range": [0, axis_top(max([*raw, *reshaped], default=0.0))]},
        legend={"orientation": "h", "y": -0.35},
    )
    return figure


def axis_top(largest: float) -> float:
    """The top of a probability axis: a quarter above the largest bar (room for its value
    label), rounded up to 0.01 below 0.1 and to 0.05 above, never above 1.15."""
    step = 0.01 if largest < 0.1 else 0.05
    return round(min(1.15, max(step, math.ceil(largest * 1.25 / step - 1e-9) * step)), 2)


def logit_lens_grid(
    predicted: Sequence[Sequence[str]], probability: np.ndarray, tokens: Sequence[str]
) -> go.Figure:
    """[L + 1, T] the token each layer would predict after each position, coloured by probability."""
    rows = [("embeddings" if i == 0 else f"layer {i}") for i in range(len(predicted))]
    columns = [label(t, token) for t, token in enumerate(tokens)]
    text = [[visible(p, quote=False) for p in row] for row in predicted]  # shown tokens (token_display)
    figure = go.Figure(
        go.Heatmap(
            z=np.round(probability.astype(np.float32), 3),
            x=columns,
            y=rows,
            text=text,
            texttemplate="%{text}",
            textfont={"size": BASE_FONT},
            colorscale="Viridis",
            zmin=0,
            zmax=1,
            # above the grid, so the cells get the page's whole width
            colorbar={
                "title": {"text": "probability", "side": "top"},
                "orientation": "h",
                "x": 1.0,
                "xanchor": "right",
                "y": 1.0,
                "yanchor": "bottom",
                "len": 0.4,
                "thickness": 10,
            },
            hovertemplate="after %{x}<br>%{y} predicts %{text}<br>probability %{z:.2f}<extra></extra>",
        )
    )
    _layout(
        figure,
        "Logit lens: the next token each layer would predict",
        "position (predicting the token after it)",
        "layer",
        _heatmap_height(len(rows), LENS_ROW_PX, top=_LENS_TOP_PX),
    )
    figure.update_layout(margin={"t": _LENS_TOP_PX})
    _heatmap_margins(figure)
    _label_axis(figure, "y", rows, "layer")
    _label_axis(figure, "x", columns, "position")
    figure.update_xaxes(tickangle=-60)
    return figure


def part_heatmap(
    matrix: np.ndarray,
    query_labels: Sequence[str],
    key_labels: Sequence[str],
    title: str,
    x_title: str,
    y_title: str,
    max_labels: int = READABLE_ROWS,
) -> go.Figure:
    """[Tq, Tk] attention weights whose queries and keys may be different sequences (an
    encoder-decoder's cross-attention: decoder rows, encoder columns); NaN cells are masked.
    Labels are made with :func:`label` by the caller."""
    z = np.round(matrix.astype(np.float32), 4)  # [Tq, Tk]
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=list(key_labels),
            y=list(query_labels),
            zmin=0.0,
            zmax=float(np.nanmax(z)) if np.isfinite(z).any() else 1.0,
            colorscale=SEQUENTIAL,
            colorbar={"title": {"text": "weight"}},
            hovertemplate="query %{y}<br>key %{x}<br>weight %{z:.3f}<extra></extra>",
            hoverongaps=False,
        )
    )
    _layout(figure, title, x_title, y_title, _heatmap_height(len(query_labels)))
    _heatmap_margins(figure)
    _label_axis(figure, "y", query_labels, "row", max_labels)
    _label_axis(figure, "x", key_labels, "column", min(max_labels, READABLE_COLUMNS))
    figure.update_yaxes(autorange="reversed")
    figure.update_xaxes(tickangle=-60)
    return figure

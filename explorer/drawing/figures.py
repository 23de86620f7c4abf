"""Pure functions from arrays to Plotly figures (no streamlit). Every figure has a title, axis
titles and a colour scale that colour-blind viewers can read (Cividis / Viridis).

User text reaches Plotly only through :func:`label`, which escapes the characters Plotly would
read as markup, so a token like ``<b>`` or ``</script>`` is drawn as those characters."""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from explorer.drawing.render import visible

SEQUENTIAL = "Cividis"
DIVERGING = "RdBu"


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


def attention_heatmap(
    matrix: np.ndarray,
    positions: Sequence[int] | np.ndarray,
    tokens: Sequence[str],
    title: str,
    max_labels: int = 80,
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
    _layout(figure, title, x_title, y_title, max(300, min(800, 18 * len(row_labels) + 160)))
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
    figure = go.Figure(
        [
            go.Bar(
                x=labels,
                y=list(raw),
                name="softmax(logits)",
                marker_color="#9aa5b1",
                customdata=hover,
                hovertemplate=template,
            ),
            go.Bar(
                x=labels,
                y=list(reshaped),
                name="after temperature, top-k, top-p",
                marker_color="#2b6cb0",
                customdata=hover,
                hovertemplate=template,
            ),
        ]
    )
    _layout(figure, title, "candidate next token", "probability", 380)
    figure.update_layout(
        barmode="group",
        plot_bgcolor="white",
        yaxis={"range": [0, 1]},
        legend={"orientation": "h", "y": -0.35},
    )
    return figure


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
            textfont={"size": 10},
            colorscale="Viridis",
            zmin=0,
            zmax=1,
            colorbar={"title": {"text": "probability"}},
            hovertemplate="after %{x}<br>%{y} predicts %{text}<br>probability %{z:.2f}<extra></extra>",
        )
    )
    _layout(
        figure,
        "Logit lens: the next token each layer would predict",
        "position (predicting the token after it)",
        "layer",
        max(400, 22 * len(rows) + 160),
    )
    figure.update_xaxes(tickangle=-60)
    return figure


def part_heatmap(
    matrix: np.ndarray,
    query_labels: Sequence[str],
    key_labels: Sequence[str],
    title: str,
    x_title: str,
    y_title: str,
    max_labels: int = 80,
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
    size = max(360, min(900, 18 * len(query_labels) + 160))
    _layout(figure, title, x_title, y_title, size)
    figure.update_yaxes(autorange="reversed", showticklabels=len(query_labels) <= max_labels)
    figure.update_xaxes(showticklabels=len(key_labels) <= max_labels, tickangle=-60)
    return figure

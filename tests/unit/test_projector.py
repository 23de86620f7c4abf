"""Charts readable on a projector (issue 21, item 4): every heatmap row labelled up to a stated
limit (a said subset beyond it), rows tall enough for their labels in both text sizes, bars that
carry their values on an axis that fits them, a readable logit lens, bertviz's model view as wide
as its column, and Large text carried by a link."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

import numpy as np
import pytest

from explorer.drawing import bertviz_html as bv
from explorer.drawing import figures
from explorer.drawing.render import BAR_PX, probability_bars_html
from explorer.views import display, links
from explorer.views.settings import link_params, state_key


def _pitch(figure) -> float:
    """Pixels per heatmap row: the plot area's height (height less the margins) over the rows."""
    layout = figure.layout
    rows = len(figure.data[0].y)
    return (layout.height - layout.margin.t - layout.margin.b) / rows


def _font(figure) -> float:
    return figure.layout.font.size or figures.BASE_FONT


@pytest.mark.parametrize("n", [2, 16, 48, figures.READABLE_ROWS])
def test_every_row_and_column_of_a_heatmap_up_to_the_limit_has_its_label(n):
    tokens = [f"tok{i}" for i in range(n)]
    figure = figures.attention_heatmap(np.full((n, n), 1 / n), list(range(n)), tokens, "attention")
    labels = [figures.label(i, t) for i, t in enumerate(tokens)]
    rows, columns = figure.layout.yaxis, figure.layout.xaxis
    assert rows.tickmode == "array" and rows.showticklabels is not False
    assert list(rows.tickvals) == labels and list(rows.ticktext) == labels
    assert "every" not in rows.title.text  # nothing left out, nothing said
    step = -(-n // figures.READABLE_COLUMNS)  # columns share the page's width: every k-th past 24
    assert list(columns.tickvals) == labels[::step]
    assert ("every" in columns.title.text) == (step > 1)
    assert _pitch(figure) >= figures.ROW_PX


def test_a_longer_heatmap_labels_a_regular_subset_and_its_axis_says_which():
    n = 3 * figures.READABLE_ROWS + 1
    labels = [f"row {i}" for i in range(n)]
    figure = figures.matrix_heatmap(np.ones((n, 4)), labels, list("abcd"), "long", "dimension", "token")
    shown = list(figure.layout.yaxis.tickvals)
    assert 0 < len(shown) <= figures.READABLE_ROWS
    assert shown == labels[::4]  # every 4th row: the smallest step that fits the limit
    assert "every 4th row labelled" in figure.layout.yaxis.title.text
    assert list(figure.layout.xaxis.tickvals) == list("abcd")
    wide = figures.matrix_heatmap(
        np.ones((2, 64)), ["a", "b"], [str(i) for i in range(64)], "w", "dimension", "t"
    )
    assert list(wide.layout.xaxis.tickvals) == [str(i) for i in range(0, 64, 3)]
    assert "every 3rd column labelled" in wide.layout.xaxis.title.text


def test_a_view_that_squeezed_a_heatmap_gets_rows_tall_enough_for_its_labels_in_both_text_sizes():
    n = 40
    figure = figures.matrix_heatmap(
        np.ones((n, 8)), [str(i) for i in range(n)], list("abcdefgh"), "t", "d", "tok"
    )
    figure.update_layout(height=360)  # what the layer page did: 6 px per row
    normal = figures.readable(go_copy(figure), large=False)
    assert _pitch(normal) >= _font(normal) + 4
    large = figures.readable(go_copy(figure), large=True)
    assert _font(large) == figures.LARGE_FONT
    assert _pitch(large) >= figures.LARGE_FONT + 4
    assert large.layout.height > normal.layout.height
    assert list(large.layout.yaxis.tickvals) == [str(i) for i in range(n)]


def go_copy(figure):
    import plotly.graph_objects as go

    return go.Figure(figure)


def test_next_token_bars_carry_their_values_on_an_axis_that_fits_the_tallest():
    raw, reshaped = [0.12, 0.07, 0.03], [0.5, 0.3, 0.2]
    figure = figures.candidate_bars(["a", "b", "c"], raw, reshaped, "next")
    for trace, values in zip(figure.data, (raw, reshaped), strict=True):
        assert list(trace.text) == [f"{v:.2f}" for v in values]
        assert trace.textposition == "outside"
    low, high = figure.layout.yaxis.range
    assert low == 0 and 0.5 < high <= 0.75  # room for the label above the tallest bar, no 0–1 axis
    only_small = figures.candidate_bars(["a", "b"], [0.12, 0.1], [0.12, 0.1], "chat template")
    assert 0.12 < only_small.layout.yaxis.range[1] <= 0.2


def test_probability_bar_tables_scale_to_a_round_top_that_fits_and_say_it():
    html = probability_bars_html(["Paris", "Lyon"], [0.12, 0.06])
    widths = [float(w) for w in re.findall(r'class="tx-bar" style="width:([0-9.]+)px', html)]
    assert widths == [pytest.approx(0.12 / 0.2 * BAR_PX), pytest.approx(0.06 / 0.2 * BAR_PX)]
    assert "0.120" in html and "0.060" in html
    assert "full bar = 0.2" in html  # the axis: what a full-width bar means
    assert "full bar = 1" in probability_bars_html(["POS", "NEG"], [0.75, 0.25])


def test_the_logit_lens_shows_as_many_positions_as_it_has_readable_columns():
    from explorer.views import generation

    assert generation.LENS_POSITIONS == figures.LENS_COLUMNS <= 12


def test_the_logit_lens_is_drawn_at_a_readable_size():
    layers, positions = 31, figures.LENS_COLUMNS
    predicted = [["Paris"] * positions for _ in range(layers)]
    figure = figures.logit_lens_grid(predicted, np.full((layers, positions), 0.5), ["t"] * positions)
    assert _pitch(figure) >= 24
    assert figure.data[0].textfont.size >= 12
    assert figure.data[0].colorbar.orientation == "h"  # above the grid: the cells get the whole width
    assert list(figure.layout.yaxis.tickvals) == [
        ("embeddings" if i == 0 else f"layer {i}") for i in range(layers)
    ]


@pytest.mark.parametrize("heads", [4, 9, 12, 16])
def test_the_model_view_is_as_wide_as_its_column_and_every_head_column_fits(heads):
    narrowest, widest = bv.model_view_width(heads)
    assert narrowest == bv.AXIS_PX + heads * bv.MIN_THUMBNAIL_PX
    assert widest == min(bv.BERTVIZ_WIDTH, bv.AXIS_PX + heads * bv.MAX_THUMBNAIL_PX)
    attentions = np.full((2, heads, 5, 5), 0.2, dtype=np.float32)
    parts = bv.square(attentions, ["t"] * 5)
    page = bv.bertviz_html("model", parts, bv.plan_view("model", parts)).html
    assert "const DIV_WIDTH = 970;" not in page  # bertviz's fixed width clipped the last heads
    match = re.search(r"const DIV_WIDTH = __explorerWidth\((\d+), (\d+)\);", page)
    assert match and (int(match.group(1)), int(match.group(2))) == (narrowest, widest)
    for column in (480, 700, 940, 1400):  # the iframe's width: the page's column
        drawn = bv.fitted_width(narrowest, widest, column)
        assert drawn <= column - bv.PAGE_PADDING_PX or drawn == narrowest  # narrower: it scrolls
        assert (drawn - bv.AXIS_PX) / heads >= bv.MIN_THUMBNAIL_PX


def test_large_text_is_one_declared_setting_carried_by_a_link():
    params = link_params(display.Settings)
    assert state_key(display.Settings, "large") == "display.large"
    link = links.encode({"display.large": True}, params, "r")
    assert dict(parse_qsl(link.query)) == {"large": "1"}
    updates, problems = links.decode({"large": "1"}, params, "r")
    assert updates == {"display.large": True} and problems == []
    _, problems = links.decode({"large": "big"}, params, "r")
    assert problems  # a link is user input: a wrong value is said and ignored


def test_candidates_that_look_like_numbers_stay_one_bar_each():
    """Digits as next tokens ("1", "3", "2") made labels "1. 1", "2. 3" that Plotly read as the
    numbers 1.1 and 2.3: the bars moved along a numeric axis and lost their labels."""
    figure = figures.candidate_bars(["1", "3", "2"], [0.2, 0.14, 0.12], [0.2, 0.14, 0.12], "next")
    assert figure.layout.xaxis.type == "category"
    assert list(figure.data[0].x) == ["1. 1", "2. 3", "3. 2"]

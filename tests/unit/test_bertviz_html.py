import json
import re

import numpy as np
import pytest

from explorer.drawing.bertviz_html import (
    THRESHOLD,
    WEIGHT_BUDGET,
    bertviz_html,
    plan_view,
    script_json,
    sparse_rows,
    square,
    stock_head_view,
)

TOKENS = ["[CLS]", "</script>alert(1)", "<img src=x onerror=y>", "Ġworld", "[SEP]"]


def _attentions(L=2, H=3, T=5, seed=0):  # T = len(TOKENS)
    rng = np.random.default_rng(seed)
    a = rng.random((L, H, T, T)).astype(np.float32)
    return a / a.sum(-1, keepdims=True)


def _one(attentions: np.ndarray, tokens: list[str] | None = None) -> tuple:
    """A self-attention's one part: ``attentions`` [L, H, T, T] with its T tokens."""
    return square(attentions, tokens if tokens is not None else ["t"] * attentions.shape[-1])


def _params(html: str) -> dict:
    match = re.search(r"const params = __explorerDense\((\{.*?\})\);", html, flags=re.DOTALL)
    assert match, "bertviz params not found"
    return json.loads(match.group(1))


def _dense(part: dict) -> np.ndarray:
    """[L, H, Q, K] from the sparse rows: (key, weight in thousandths) pairs, 0 elsewhere."""
    out = np.zeros(
        (len(part["sparse"]), len(part["sparse"][0]), len(part["left_text"]), len(part["right_text"]))
    )
    for a, layer in enumerate(part["sparse"]):
        for h, head in enumerate(layer):
            for q, row in enumerate(head):
                for k, w in zip(row[0::2], row[1::2], strict=True):
                    out[a, h, q, k] = w / 1000
    return out


@pytest.mark.parametrize("kind", ["head", "model"])
def test_no_outside_scripts_or_require_paths(kind):
    page = bertviz_html(kind, _one(_attentions(), TOKENS), plan_view(kind, _one(_attentions()))).html
    assert not re.search(r"<script[^>]+src=", page)
    assert "require.config({" not in page and "paths:" not in page  # no require paths
    assert "cdnjs" not in page and "cdn." not in page
    assert "window.d3" in page and "jQuery" in page  # the inlined libraries and our require


@pytest.mark.parametrize("kind", ["head", "model"])
def test_tokens_cannot_close_the_script(kind):
    page = bertviz_html(kind, _one(_attentions(), TOKENS), plan_view(kind, _one(_attentions()))).html
    # four script blocks (jQuery, d3, our require, bertviz): no token adds a closing tag
    assert page.count("</script>") == 4
    assert "alert(1)" in page and "<img src" not in page
    params = _params(page)
    assert params["attention"][0]["left_text"][1] == TOKENS[1]  # JSON decodes back to the literal token
    assert (
        params["attention"][0]["left_text"][3] == "Ġworld"
    )  # as given: tokens arrive already shown (token_display)


def test_visible_weights_are_sent_rounded_and_faint_ones_left_out():
    attentions = _attentions()
    attentions[0, 0, 0] = [0.0, 0.019, 0.02, 0.3, 0.661]  # one row around the threshold
    page = bertviz_html("head", _one(attentions, TOKENS), plan_view("head", _one(attentions)))
    part = _params(page.html)["attention"][0]
    assert part["sparse"][0][0][0] == [2, 20, 3, 300, 4, 661]  # keys 0 and 1 are too faint to draw
    sent = _dense(part)
    np.testing.assert_allclose(sent, np.where(attentions >= 0.02, attentions, 0), atol=5e-4)
    assert np.array_equal(sent, np.round(sent, 3))
    assert page.plan.kept == int((attentions >= THRESHOLD).sum()) and page.plan.total == attentions.size


def test_sparse_rows_keep_each_rows_order():
    weights = np.array([[[[0.5, 0.0, 0.5], [0.01, 0.98, 0.01]]]])  # [1, 1, 2, 3]
    assert sparse_rows(weights, 0.02) == [[[[0, 500, 2, 500], [1, 980]]]]


@pytest.mark.parametrize("kind", ["head", "model"])
def test_bertviz_draws_lines_for_the_kept_weights_only(kind):
    page = bertviz_html(kind, _one(_attentions(), TOKENS), plan_view(kind, _one(_attentions()))).html
    assert "function __explorerDense" in page and "__explorerKept(d)" in page  # line data: kept weights
    assert "d.j" in page  # each line ends at its own key
    assert page.count('"sparse":') == 1 and "PYTHON_PARAMS" not in page  # the data once, no marker left
    assert "rightTokenIndex * BOXHEIGHT" not in page and "(targetIndex + .5)" not in page


def test_script_json_escapes_markup_characters():
    text = script_json({"t": "</script>&<b>\u2028"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"t": "</script>&<b>\u2028"}


def _uniform(L: int, H: int, T: int) -> np.ndarray:
    """Rows of equal weights 1 / T: every weight visible while T <= 50."""
    return np.full((L, H, T, T), 1.0 / T, dtype=np.float32)


def test_plans_fit_the_budget_and_say_what_they_leave_out():
    small = plan_view("head", _one(_uniform(6, 12, 16)), first=1)
    assert small.note is None and small.layers == tuple(range(1, 7)) and (small.start, small.stop) == (0, 16)
    assert small.kept == small.total == 6 * 12 * 16**2
    # 6 x 12 x 40² = 115,200 visible weights: all layers do not fit 50,000, one layer does
    one_layer = plan_view("head", _one(_uniform(6, 12, 40)), layer=3, first=1, budget=50_000)
    assert one_layer.layers == (3,) and (one_layer.start, one_layer.stop) == (0, 40)
    assert "layer 3 only" in one_layer.note and one_layer.kept == 12 * 40**2
    window = plan_view("model", _one(_uniform(6, 12, 40)), start=10, budget=20_000)
    width = window.stop - window.start
    assert window.start == 10 and window.kept <= 20_000 and "tokens 10–" in window.note
    end = plan_view("head", _one(_uniform(2, 3, 40)), start=10_000, budget=1_000)
    assert end.stop == 40 and end.kept <= 1_000
    assert width >= 4


def test_faint_weights_do_not_count_and_a_window_fits_wherever_it_starts():
    rng = np.random.default_rng(1)
    T = 300
    logits = rng.normal(0, 3, (2, 4, T, T))
    weights = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)  # peaked rows, most weights faint
    visible = int((weights >= THRESHOLD).sum())
    assert visible < weights.size // 10
    assert plan_view("head", _one(weights), budget=visible).note is None  # faint ones left out: all fits
    for start in (0, 97, 250):
        plan = plan_view("model", _one(weights), start=start, budget=visible // 3)
        assert plan.kept <= visible // 3 and plan.stop - plan.start < T


def test_a_128_token_view_draws_every_token_within_2_mb():
    """The worst case of 6 layers x 12 heads (MiniLM) at 128 tokens: rows as flat as can be while
    every weight stays visible (50 weights of 0.02). Every token is drawn and the data fits 2 MB."""
    T = 128
    weights = np.zeros((6, 12, T, T), dtype=np.float32)
    for q in range(T):
        weights[:, :, q, [(q + k) % T for k in range(50)]] = 0.02
    page = bertviz_html(
        "head", _one(weights, ["tok"] * T), plan_view("head", _one(weights), first=1), layer=1
    )
    assert (page.plan.start, page.plan.stop) == (0, T)
    assert page.payload_bytes <= 2_000_000 and page.plan.kept <= WEIGHT_BUDGET


def test_our_payload_is_smaller_than_stock_bertviz():
    attentions = _attentions(L=2, H=4, T=5)
    ours = bertviz_html("head", _one(attentions, TOKENS), plan_view("head", _one(attentions)))
    stock = stock_head_view(attentions, TOKENS)
    assert ours.payload_bytes < len(stock.encode())
    assert "cdnjs" in stock  # the stock page loads its libraries from a CDN


def test_long_tokens_are_shortened_for_the_layout():
    tokens = ["a" * 40, "b"]
    page = bertviz_html(
        "head", _one(_attentions(T=2), tokens), plan_view("head", _one(_attentions(T=2)))
    ).html
    assert _params(page)["attention"][0]["left_text"][0] == "a" * 23 + "…"

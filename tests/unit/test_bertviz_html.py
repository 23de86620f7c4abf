import json
import re

import numpy as np
import pytest

from explorer.bertviz_html import CELL_BUDGET, bertviz_html, plan_view, script_json, stock_head_view

TOKENS = ["[CLS]", "</script>alert(1)", "<img src=x onerror=y>", "Ġworld", "[SEP]"]


def _attentions(L=2, H=3, T=5, seed=0):  # T = len(TOKENS)
    rng = np.random.default_rng(seed)
    a = rng.random((L, H, T, T)).astype(np.float32)
    return a / a.sum(-1, keepdims=True)


def _params(html: str) -> dict:
    match = re.search(r"const params = (\{.*?\}); // HACK", html, flags=re.DOTALL)
    assert match, "bertviz params not found"
    return json.loads(match.group(1))


@pytest.mark.parametrize("kind", ["head", "model"])
def test_no_outside_scripts_or_require_paths(kind):
    page = bertviz_html(kind, _attentions(), TOKENS, plan_view(kind, 2, 3, len(TOKENS))).html
    assert not re.search(r"<script[^>]+src=", page)
    assert "require.config({" not in page and "paths:" not in page  # no require paths
    assert "cdnjs" not in page and "cdn." not in page
    assert "window.d3" in page and "jQuery" in page  # the inlined libraries and our require


@pytest.mark.parametrize("kind", ["head", "model"])
def test_tokens_cannot_close_the_script(kind):
    page = bertviz_html(kind, _attentions(), TOKENS, plan_view(kind, 2, 3, len(TOKENS))).html
    # four script blocks (jQuery, d3, our require, bertviz): no token adds a closing tag
    assert page.count("</script>") == 4
    assert "alert(1)" in page and "<img src" not in page
    params = _params(page)
    assert params["attention"][0]["left_text"][1] == TOKENS[1]  # JSON decodes back to the literal token
    assert params["attention"][0]["left_text"][3] == " world"  # bertviz's own clean-up of Ġ


def test_weights_are_rounded_and_equal_to_the_input():
    attentions = _attentions()
    page = bertviz_html("head", attentions, TOKENS, plan_view("head", 2, 3, len(TOKENS)))
    sent = np.array(_params(page.html)["attention"][0]["attn"])
    np.testing.assert_allclose(sent, attentions, atol=5e-4)
    assert np.array_equal(sent, np.round(sent, 3))


def test_script_json_escapes_markup_characters():
    text = script_json({"t": "</script>&<b>\u2028"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"t": "</script>&<b>\u2028"}


def test_plans_fit_the_budget_and_say_what_they_leave_out():
    small = plan_view("head", 6, 12, 16)
    assert small.note is None and small.layers == tuple(range(6)) and (small.start, small.stop) == (0, 16)
    one_layer = plan_view("head", 6, 12, 100, layer=3)
    assert (
        one_layer.layers == (3,)
        and (one_layer.start, one_layer.stop) == (0, 100)
        and "layer 3" in one_layer.note
    )
    window = plan_view("model", 6, 12, 512, start=100)
    width = window.stop - window.start
    assert window.start == 100 and 6 * 12 * width**2 <= CELL_BUDGET and "tokens 100–" in window.note
    end = plan_view("head", 30, 9, 512, start=10_000)
    assert end.stop == 512 and len(end.layers) * 9 * (end.stop - end.start) ** 2 <= CELL_BUDGET


def test_our_payload_is_smaller_than_stock_bertviz():
    attentions = _attentions(L=2, H=4, T=5)
    ours = bertviz_html("head", attentions, TOKENS, plan_view("head", 2, 4, 5))
    stock = stock_head_view(attentions, TOKENS)
    assert ours.payload_bytes < len(stock.encode())
    assert "cdnjs" in stock  # the stock page loads its libraries from a CDN


def test_long_tokens_are_shortened_for_the_layout():
    tokens = ["a" * 40, "b"]
    page = bertviz_html("head", _attentions(T=2), tokens, plan_view("head", 2, 3, 2)).html
    assert _params(page)["attention"][0]["left_text"][0] == "a" * 23 + "…"

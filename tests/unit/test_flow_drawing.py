"""The flow picture and the layer page's width strip as HTML (explorer.drawing.flow): every label
escaped exactly once, links only where a page has one, widths drawn to scale."""

from __future__ import annotations

import re

from explorer.drawing.flow import WidthRow, box_html, flow_html, width_strip_html
from explorer.explain.flow import Box, Flow, Sizes, Stack

EVIL = '<script>alert("x")</script> & <b>'


def _flow(name: str = "Attention") -> Flow:
    attention = Box(
        "attention", name, "[2, 4, 9, 9]", EVIL, module="encoder.layer.0…1.attention", page="attention"
    )
    return Flow(
        kind="encoder",
        sizes=Sizes(B=2, S=9, D=32, N=2, H=4, F=64),
        before=(Box("text", EVIL, "", "2 sentences", page="tokenizer"),),
        stacks=(Stack("", 2, "encoder.layer", (attention,), page="layer"),),
        decoder_before=(),
        after=(Box("result", "Probabilities", "[2, 3]", "softmax"),),
    )


def test_a_malicious_label_is_escaped_once():
    page = flow_html(_flow(), {("tokenizer", ""): 'tokenizer?ckpt=a&text="><script>'})
    assert "<script>" not in page and "<b>" not in page
    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;"
    assert page.count(escaped) == 2  # the text box's name and the attention box's detail
    assert "&amp;lt;" not in page and "&amp;amp;" not in page  # not twice
    assert 'href="tokenizer?ckpt=a&amp;text=&quot;&gt;&lt;script&gt;"' in page


def test_boxes_link_only_to_pages_that_have_a_link():
    hrefs = {("attention", ""): "attention?ckpt=x"}
    page = flow_html(_flow(), hrefs)
    assert page.count("<a ") == 1 and 'href="attention?ckpt=x"' in page
    assert "2 × layer" in page  # the stack, drawn once with its count
    assert box_html(Box("result", "Probabilities", "[2, 3]", "softmax"), hrefs).startswith("<div")


def test_the_width_strip_is_to_scale():
    page = width_strip_html(
        [
            WidthRow("1. Input", "[9, 384]", 384, 64),
            WidthRow("2. Widen", "[9, 1536]", 1536, 64),
            WidthRow(EVIL, "[9]", 3, 3),
        ]
    )
    wholes = [float(w) for w in re.findall(r'fx-whole" style="width:([\d.]+)%', page)]
    drawn = [float(w) for w in re.findall(r'fx-drawn" style="width:([\d.]+)%', page)]
    assert wholes[:2] == [25.0, 100.0]  # 384 is a quarter of 1536
    assert abs(drawn[1] - 100 * 64 / 1536) < 0.01 and drawn[0] == drawn[1]  # the same 64 drawn of each
    assert "<script>" not in page and "&lt;script&gt;" in page

"""bertviz's head view and model view as self-contained HTML, with nothing loaded from a CDN.

bertviz's own HTML loads require.js, d3 and jQuery from CDNs (so offline it draws nothing) and
serialises every layer x head x token² weight at full float precision. Here we keep bertviz's
drawing code (its head_view.js / model_view.js, read from the installed package), inline d3 v5 and
jQuery from installed PyPI packages (mpld3, XStatic-jQuery: read as files, never imported), add a
five-line ``require`` of our own, and send only what the view needs: weights rounded to 3
decimals, and for long inputs a token window or one layer, with a note that says so.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Literal

import numpy as np

from explorer.errors import ExplorerError

ViewKind = Literal["head", "model"]
# Weights one view draws at most: bertviz draws one SVG line per weight (a 12-head view of 110
# tokens is ~150,000 lines, ~1 MB of JSON at 3 decimals); more makes the browser stall.
CELL_BUDGET = 150_000
DECIMALS = 3

_REQUIRE_SHIM = """
(function () {
  var modules = {jquery: window.jQuery, d3: window.d3};
  window.requirejs = window.require = function (names, callback) {
    callback.apply(null, names.map(function (name) { return modules[name]; }));
  };
  window.require.config = function () {};
})();
"""


def _asset(distribution: str, path: str) -> str:
    try:
        located = Path(str(metadata.distribution(distribution).locate_file(path)))
    except metadata.PackageNotFoundError:
        located = None
    if located is None or not located.is_file():
        raise ExplorerError(
            f"The bertviz views need the '{distribution}' package for {Path(path).name}. Run `make run`, "
            "or `pip install --no-deps -r requirements-data.txt`."
        )
    return located.read_text(encoding="utf-8")


@functools.cache
def _libraries() -> str:
    d3 = _asset("mpld3", "mpld3/js/d3.v5.min.js")
    jquery = _asset("XStatic-jQuery", "xstatic/pkg/jquery/data/jquery.min.js")
    return "".join(f"<script>{source}</script>\n" for source in (jquery, d3, _REQUIRE_SHIM))


@functools.cache
def _bertviz_js(kind: ViewKind) -> str:
    source = _asset("bertviz", f"bertviz/{kind}_view.js")
    # Drop bertviz's require.config block: it only names CDN paths, which our require never reads.
    return re.sub(r"require\.config\(\{.*?\}\);", "", source, count=1, flags=re.DOTALL)


def script_json(value: object) -> str:
    """JSON that is safe inside <script>: no '<', '>' or '&' can end the script or open a tag."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for char, escape in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escape)
    return text


@dataclass(frozen=True)
class Plan:
    """What a bertviz view will show, within the cell budget."""

    layers: tuple[int, ...]
    heads: tuple[int, ...]
    start: int  # first token of the window
    stop: int  # one past the last token
    note: str | None  # what was left out, for the user


def plan_view(
    kind: ViewKind,
    layers: int,
    heads: int,
    tokens: int,
    *,
    layer: int = 0,
    start: int = 0,
    budget: int = CELL_BUDGET,
) -> Plan:
    """Choose layers and a token window so that layers x heads x window² fits the budget."""
    all_layers, all_heads = tuple(range(layers)), tuple(range(heads))
    if layers * heads * tokens**2 <= budget:
        return Plan(all_layers, all_heads, 0, tokens, None)
    if kind == "head" and heads * tokens**2 <= budget:
        return Plan(
            (layer,),
            all_heads,
            0,
            tokens,
            f"{tokens} tokens: this view shows layer {layer} only "
            "(choose the layer above); all layers at once would be too heavy for the browser.",
        )
    per_layer = heads * (1 if kind == "head" else layers)
    window = max(4, min(tokens, int((budget / per_layer) ** 0.5)))
    start = max(0, min(start, tokens - window))
    chosen = (layer,) if kind == "head" else all_layers
    where = f"layer {layer}, " if kind == "head" else ""
    return Plan(
        chosen,
        all_heads,
        start,
        start + window,
        f"{tokens} tokens are too many to draw at once: showing {where}tokens {start}–{start + window - 1} "
        f"({window} tokens). Move the window to see the rest.",
    )


def _prettify(tokens: list[str], limit: int = 24) -> list[str]:
    """bertviz's own clean-up of subword markers, and long tokens shortened to fit its layout."""
    cleaned = [t.replace("Ġ", " ").replace("▁", " ").replace("</w>", "") for t in tokens]
    return [t if len(t) <= limit else t[: limit - 1] + "…" for t in cleaned]


@dataclass(frozen=True)
class BertvizHtml:
    html: str
    plan: Plan
    payload_bytes: int  # bytes of the attention JSON the page sends


def bertviz_html(
    kind: ViewKind,
    attentions: np.ndarray,
    tokens: list[str],
    plan: Plan,
    *,
    layer: int = 0,
    dark: bool = False,
) -> BertvizHtml:
    """A self-contained page drawing bertviz's view of ``attentions`` [L, H, T, T] (one sentence,
    real tokens only) for what ``plan`` chose."""
    window = slice(plan.start, plan.stop)
    chosen = attentions[list(plan.layers)][:, list(plan.heads)][:, :, window, window]  # [l, h, w, w]
    shown = _prettify(list(tokens[window]))
    data = [
        {
            "name": None,
            "attn": np.round(chosen.astype(np.float64), DECIMALS).tolist(),
            "left_text": shown,
            "right_text": shown,
        }
    ]
    vis_id = "bertviz-" + hashlib.sha1(f"{kind}{plan}{shown}".encode()).hexdigest()[:12]
    if kind == "head":
        params = {
            "attention": data,
            "default_filter": "0",
            "root_div_id": vis_id,
            "layer": layer if layer in plan.layers else plan.layers[0],
            "heads": None,
            "include_layers": list(plan.layers),
        }
        controls = 'Layer: <select id="layer"></select>'
    else:
        params = {
            "attention": data,
            "default_filter": "0",
            "display_mode": "dark" if dark else "light",
            "root_div_id": vis_id,
            "include_layers": list(plan.layers),
            "include_heads": list(plan.heads),
            "total_heads": len(plan.heads),
        }
        controls = ""
    payload = script_json(params)
    body = (
        f'<div id="{vis_id}" style="font-family:\'Helvetica Neue\', Helvetica, Arial, sans-serif;">'
        f'<span style="user-select:none">{controls}</span><div id="vis"></div></div>'
    )
    script = _bertviz_js(kind).replace("PYTHON_PARAMS", payload)
    page = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
        f'<body style="margin:0;padding:4px 4px 4px 200px;background:{"#000" if dark else "#fff"}">'
        f"{_libraries()}{body}<script>{script}</script></body></html>"
    )
    return BertvizHtml(page, plan, len(payload.encode("utf-8")))


def stock_head_view(attentions: np.ndarray, tokens: list[str]) -> str:
    """bertviz's own head_view HTML for the same attentions (for the benchmark)."""
    import torch
    from bertviz import head_view

    per_layer = [torch.from_numpy(np.array(layer))[None] for layer in attentions]  # L x [1, H, T, T]
    return head_view(per_layer, tokens, html_action="return").data


# --- Encoder-decoders: bertviz's three attentions (Encoder, Decoder, Cross) in one view -------------

PART_NAMES = ("Encoder", "Decoder", "Cross")  # bertviz's names, in bertviz's order


@dataclass(frozen=True)
class EncoderDecoderPart:
    """One of bertviz's encoder-decoder attentions for one sentence: [L, H, queries, keys]."""

    name: str  # "Encoder", "Decoder" or "Cross"
    attentions: np.ndarray  # [L, H, Q, K]: layer l of its stack is index l - 1
    left: tuple[str, ...]  # [Q] query tokens (bertviz draws them on the left)
    right: tuple[str, ...]  # [K] key tokens


def plan_encoder_decoder(
    kind: ViewKind, parts: tuple[EncoderDecoderPart, ...], *, layer: int = 1, budget: int = CELL_BUDGET
) -> Plan:
    """Layers (numbered 1 … L) an encoder-decoder view can draw within the budget: all of them, or
    for the head view the chosen layer only. Raises ExplorerError when even that is too heavy
    (bertviz's encoder-decoder view has no token window)."""
    L = min(p.attentions.shape[0] for p in parts)  # bertviz shows one layer list for all three parts
    H = parts[0].attentions.shape[1]
    per_layer = sum(p.attentions.shape[1] * p.attentions.shape[2] * p.attentions.shape[3] for p in parts)
    uneven = len({p.attentions.shape[0] for p in parts}) > 1
    note = (
        f"The encoder and decoder have different numbers of layers; bertviz shows one layer list for all "
        f"three attentions, so this view shows layers 1 … {L}."
        if uneven
        else None
    )
    layer = layer if 1 <= layer <= L else 1
    if L * per_layer <= budget:
        return Plan(tuple(range(1, L + 1)), tuple(range(H)), 0, 0, note)
    if kind == "head" and per_layer <= budget:
        only = f"This view shows layer {layer} only (choose the layer above); all layers at once would be too heavy for the browser."
        return Plan((layer,), tuple(range(H)), 0, 0, f"{note} {only}" if note else only)
    raise ExplorerError(
        "This encoder-decoder input is too long for bertviz's encoder-decoder view "
        f"({per_layer:,} weights per layer; at most {budget:,} can be drawn at once): the heatmaps above "
        "show every weight. Use a shorter sentence to see bertviz's view."
    )


def encoder_decoder_html(
    kind: ViewKind,
    parts: tuple[EncoderDecoderPart, ...],
    plan: Plan,
    *,
    layer: int = 1,
    shown_part: int = 0,
    dark: bool = False,
) -> BertvizHtml:
    """A self-contained page drawing bertviz's encoder-decoder head or model view: its 'Attention'
    menu switches between the Encoder, Decoder and Cross attentions (``shown_part`` first).
    ``plan.layers`` are layer numbers 1 … L: bertviz labels its menu and rows with them."""
    index = [number - 1 for number in plan.layers]
    data = [
        {
            "name": part.name,
            "attn": np.round(part.attentions[index].astype(np.float64), DECIMALS).tolist(),  # [l, H, Q, K]
            "left_text": _prettify(list(part.left)),
            "right_text": _prettify(list(part.right)),
        }
        for part in parts
    ]
    shown_part = shown_part if 0 <= shown_part < len(parts) else 0
    key = f"{kind}{plan}{[d['left_text'] for d in data]}{[d['right_text'] for d in data]}"
    vis_id = "bertviz-" + hashlib.sha1(key.encode()).hexdigest()[:12]
    options = "".join(
        f'<option value="{i}"{" selected" if i == shown_part else ""}>{part.name}</option>'
        for i, part in enumerate(parts)
    )
    menu = f'Attention: <select id="filter">{options}</select>'
    if kind == "head":
        params = {
            "attention": data,
            "default_filter": str(shown_part),
            "root_div_id": vis_id,
            "layer": layer if layer in plan.layers else plan.layers[0],
            "heads": None,
            "include_layers": list(plan.layers),
        }
        controls = f'Layer: <select id="layer"></select> {menu}'
    else:
        params = {
            "attention": data,
            "default_filter": str(shown_part),
            "display_mode": "dark" if dark else "light",
            "root_div_id": vis_id,
            "include_layers": list(plan.layers),
            "include_heads": list(plan.heads),
            "total_heads": len(plan.heads),
        }
        controls = menu
    payload = script_json(params)
    body = (
        f'<div id="{vis_id}" style="font-family:\'Helvetica Neue\', Helvetica, Arial, sans-serif;">'
        f'<span style="user-select:none">{controls}</span><div id="vis"></div></div>'
    )
    script = _bertviz_js(kind).replace("PYTHON_PARAMS", payload)
    page = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
        f'<body style="margin:0;padding:4px 4px 4px 200px;background:{"#000" if dark else "#fff"}">'
        f"{_libraries()}{body}<script>{script}</script></body></html>"
    )
    return BertvizHtml(page, plan, len(payload.encode("utf-8")))

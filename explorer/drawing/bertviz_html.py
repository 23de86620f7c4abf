"""bertviz's head view and model view as self-contained HTML, with nothing loaded from a CDN.

bertviz's own HTML loads require.js, d3 and jQuery from CDNs (so offline it draws nothing) and
serialises every layer x head x token² weight at full float precision. Here we keep bertviz's
drawing code (its head_view.js / model_view.js, read from the installed package), inline d3 v5 and
jQuery from installed PyPI packages (mpld3, XStatic-jQuery: read as files, never imported), add a
five-line ``require`` of our own, and send only what the view can show: the weights at or above
THRESHOLD (fainter lines cannot be seen), as sparse rows of (key, weight in thousandths) that a
few lines of JavaScript expand again before bertviz reads them, and bertviz draws no line for a
weight that was left out. Every token is drawn; only an input whose visible weights would not fit
the budget gets one layer or a token window, with a note that says so.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Literal

import numpy as np

from explorer.errors import ExplorerError

ViewKind = Literal["head", "model"]
# A line's opacity is its weight (divided by the number of heads shown): below 0.02 a 2-pixel line
# is under 2 % opaque even with one head shown, too faint to see. Those weights are not sent.
THRESHOLD = 0.02
# Weights one page carries at most (each about 8 bytes of JSON: "511,999,"): <= ~1.6 MB of data.
WEIGHT_BUDGET = 200_000
MODEL_VIEW_TOKENS = 64  # the model view (every layer and head at once) for inputs up to this long
DECIMALS = 3
# The model view's width: bertviz draws it 970 pixels wide whatever the column, so a column narrower
# than that cut its last heads off (MiniLM's head 11, SmolLM2's head 8). Here it is the iframe's
# width (the page's column), between a narrowest and a widest made from the number of heads.
BERTVIZ_WIDTH = 970  # bertviz's own DIV_WIDTH: the widest it is drawn
AXIS_PX = 15 + 5 + 13 + 5  # its layer axis: HEADING_TEXT_SIZE + HEADING_PADDING + TEXT_SIZE + TEXT_PADDING
MIN_THUMBNAIL_PX = 30  # a head's column at least this wide (narrower columns: the view scrolls sideways)
MAX_THUMBNAIL_PX = 80  # …and at most this wide (few heads are not stretched across a wide page)
PAGE_PADDING_PX = 8  # the model view page's left and right padding (4 + 4)
_SCALE = 10**DECIMALS  # weights travel as integers in thousandths

_REQUIRE_SHIM = """
(function () {
  var modules = {jquery: window.jQuery, d3: window.d3};
  window.requirejs = window.require = function (names, callback) {
    callback.apply(null, names.map(function (name) { return modules[name]; }));
  };
  window.require.config = function () {};
})();
"""

# Expands the sparse rows into the dense [layer][head][query][key] arrays bertviz reads (weights
# left out are 0), and gives bertviz's line drawing only the kept weights of a row, each a Number
# that remembers its key (.j), so a line still ends at its own token.
_SPARSE = """
function __explorerDense(params) {
  params.attention.forEach(function (part) {
    var n = part.right_text.length;
    part.attn = part.sparse.map(function (layer) {
      return layer.map(function (head) {
        return head.map(function (row) {
          var dense = new Array(n).fill(0);
          for (var k = 0; k < row.length; k += 2) dense[row[k]] = row[k + 1] / SCALE;
          return dense;
        });
      });
    });
    delete part.sparse;
  });
  return params;
}
function __explorerWidth(narrowest, widest) {
  var room = document.documentElement.clientWidth - PADDING;
  return Math.max(narrowest, Math.min(widest, room));
}
function __explorerKept(row) {
  var kept = [];
  for (var j = 0; j < row.length; j++) {
    if (row[j] > 0) { var weight = new Number(row[j]); weight.j = j; kept.push(weight); }
  }
  return kept;
}
""".replace("SCALE", str(_SCALE)).replace("PADDING", str(PAGE_PADDING_PX))

# bertviz's line drawing, patched to draw only the kept weights (each: (pattern, replacement, count)).
_PATCHES = {
    "head": (
        (
            r'\.selectAll\("line"\)(\s*)\.data\(d => d\)',
            r'.selectAll("line")\1.data(d => __explorerKept(d))',
            1,
        ),
        (
            r"\(d, rightTokenIndex\) => TEXT_TOP \+ rightTokenIndex \* BOXHEIGHT",
            "(d) => TEXT_TOP + d.j * BOXHEIGHT",
            1,
        ),
        (r'\.attr\("right-token-index", \(d, i\) => i\)', '.attr("right-token-index", (d) => d.j)', 1),
    ),
    "model": (
        (
            r"\.data\(function \(d\) \{ // Loop over all target tokens\s*return d;\s*\}\)",
            ".data(function (d) { return __explorerKept(d); })",
            2,
        ),
        (r"\(targetIndex \+ \.5\)", "(d.j + .5)", 2),
        (r"const DIV_WIDTH = 970;", "const DIV_WIDTH = __explorerWidth(NARROWEST, WIDEST);", 1),
    ),
}


def model_view_width(heads: int) -> tuple[int, int]:
    """The narrowest and widest the model view is drawn for ``heads`` head columns: each column
    MIN_THUMBNAIL_PX to MAX_THUMBNAIL_PX wide, beside the layer axis, never wider than bertviz's own."""
    return AXIS_PX + heads * MIN_THUMBNAIL_PX, min(BERTVIZ_WIDTH, AXIS_PX + heads * MAX_THUMBNAIL_PX)


def fitted_width(narrowest: int, widest: int, column: int) -> int:
    """The width the model view takes in a column ``column`` pixels wide (its page computes the
    same in JavaScript, __explorerWidth, from the iframe's width)."""
    return max(narrowest, min(widest, column - PAGE_PADDING_PX))


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
    return "".join(f"<script>{source}</script>\n" for source in (jquery, d3, _REQUIRE_SHIM + _SPARSE))


@functools.cache
def _bertviz_js(kind: ViewKind) -> str:
    source = _asset("bertviz", f"bertviz/{kind}_view.js")
    # Drop bertviz's require.config block: it only names CDN paths, which our require never reads.
    source = re.sub(r"require\.config\(\{.*?\}\);", "", source, count=1, flags=re.DOTALL)
    # Its comment names the marker too: a plain replace would put a second copy of the data there.
    source = re.sub(r" *// HACK: PYTHON_PARAMS is a template marker[^\n]*", "", source, count=1)
    for pattern, replacement, count in _PATCHES[kind]:
        source, made = re.subn(pattern, replacement, source)
        if made != count:
            raise ExplorerError(
                f"The installed bertviz's {kind}_view.js is not the one this app knows how to draw sparsely "
                f"(bertviz {metadata.version('bertviz')}; the app was written for 1.4.1)."
            )
    return source


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


@dataclass(frozen=True, kw_only=True)
class Plan:
    """What a bertviz view will show, within the weight budget. ``layers`` are layer numbers:
    index i of the attentions is layer ``first + i``."""

    layers: tuple[int, ...]
    heads: tuple[int, ...]
    start: int  # first token of the window
    stop: int  # one past the last token
    note: str | None  # what was left out (beyond the faint lines), for the user
    first: int = 0  # the number of the attentions' first layer (1 when numbered 1 … L)
    kept: int = 0  # weights sent and drawn (at or above the threshold)
    total: int = 0  # weights in the chosen layers, heads and window


def kept(attentions: np.ndarray, threshold: float = THRESHOLD) -> np.ndarray:
    """[L] how many weights of each layer are at or above the threshold (attentions [L, H, Q, K])."""
    return (attentions >= threshold).sum(axis=(1, 2, 3))


def _window(layers: int, heads: int, tokens: int, threshold: float, budget: int) -> int:
    """A token window whose kept weights fit the budget wherever it starts: a row of weights summing
    to 1 has at most 1 / threshold of them at or above the threshold."""
    per_row = int(1 / threshold)
    width = budget // (layers * heads * per_row)
    if width < per_row:  # rows shorter than per_row: at most width² weights per head
        width = int((budget / (layers * heads)) ** 0.5)
    return max(4, min(tokens, width))


@dataclass(frozen=True, kw_only=True)
class BertvizPart:
    """One attention as bertviz records it ({name, attn, left_text, right_text}), for one sentence:
    [L, H, queries, keys], real tokens only. An encoder or decoder has one (name None: bertviz
    draws no Attention menu); an encoder-decoder three, "Encoder", "Decoder" and "Cross"."""

    name: str | None
    attentions: np.ndarray  # [L, H, Q, K]: index i is layer number plan.first + i
    left: tuple[str, ...]  # [Q] query tokens (bertviz draws them on the left)
    right: tuple[str, ...]  # [K] key tokens


def square(attentions: np.ndarray, tokens: Sequence[str]) -> tuple[BertvizPart, ...]:
    """The one part of a self-attention: ``attentions`` [L, H, T, T], ``tokens`` [T]."""
    return (BertvizPart(name=None, attentions=attentions, left=tuple(tokens), right=tuple(tokens)),)


def _one_layer_note(parts: tuple[BertvizPart, ...], layer: int, uneven: str | None) -> str:
    only = (
        f"this view shows layer {layer} only (choose the layer above); all layers at once would be too "
        "heavy for the browser."
    )
    if len(parts) == 1:
        return f"{len(parts[0].right)} tokens: {only}"
    only = only[0].upper() + only[1:]
    return f"{uneven} {only}" if uneven else only


def plan_view(
    kind: ViewKind,
    parts: tuple[BertvizPart, ...],
    *,
    layer: int | None = None,
    start: int = 0,
    first: int = 0,
    threshold: float = THRESHOLD,
    budget: int = WEIGHT_BUDGET,
) -> Plan:
    """Choose layers (and, for one part, tokens) of ``parts`` so that the weights at or above the
    threshold fit the budget: all layers and tokens when they do; for the head view, the chosen
    ``layer`` (a number, counted from ``first``) with every token; else, for one part, a token
    window starting at ``start``. Several parts (an encoder-decoder) share one layer list, the
    shortest stack's; bertviz's encoder-decoder view has no token window: ExplorerError when even
    one layer is too heavy."""
    L = min(p.attentions.shape[0] for p in parts)  # bertviz shows one layer list for all parts
    H = parts[0].attentions.shape[1]
    T = max(max(len(p.left), len(p.right)) for p in parts)
    layer = first if layer is None or not first <= layer < first + L else layer
    counts = sum((kept(p.attentions[:L], threshold) for p in parts), np.zeros(L, np.int64))  # [L]
    cells = sum(p.attentions[0].size for p in parts)  # weights in one layer: H × Q × K per part
    uneven = (
        "The encoder and decoder have different numbers of layers; bertviz shows one layer list for all "
        f"three attentions, so this view shows layers 1 … {L}."
        if len({p.attentions.shape[0] for p in parts}) > 1
        else None
    )
    all_layers, all_heads = tuple(range(first, first + L)), tuple(range(H))
    if counts.sum() <= budget:
        return Plan(
            layers=all_layers,
            heads=all_heads,
            start=0,
            stop=T,
            note=uneven,
            first=first,
            kept=int(counts.sum()),
            total=L * cells,
        )
    if kind == "head" and counts[layer - first] <= budget:
        note = _one_layer_note(parts, layer, uneven)
        return Plan(
            layers=(layer,),
            heads=all_heads,
            start=0,
            stop=T,
            note=note,
            first=first,
            kept=int(counts[layer - first]),
            total=cells,
        )
    if len(parts) > 1:
        raise ExplorerError(
            "This encoder-decoder input is too long for bertviz's encoder-decoder view "
            f"({int(counts.max()):,} visible weights in a layer; at most {budget:,} can be drawn at once): "
            "the heatmaps above show every weight. Use a shorter sentence to see bertviz's view."
        )
    return _windowed(kind, parts[0].attentions, layer, start, first, threshold, budget)


def _windowed(
    kind: ViewKind, attentions: np.ndarray, layer: int, start: int, first: int, threshold: float, budget: int
) -> Plan:
    """A token window of one part's ``attentions`` [L, H, T, T] (all layers, or the head view's one)."""
    L, H, T, _ = attentions.shape
    chosen = (layer,) if kind == "head" else tuple(range(first, first + L))
    window = _window(len(chosen), H, T, threshold, budget)
    start = max(0, min(start, T - window))
    shown = attentions[[n - first for n in chosen]][:, :, start : start + window, start : start + window]
    where = f"layer {layer}, " if kind == "head" else ""
    return Plan(
        layers=chosen,
        heads=tuple(range(H)),
        start=start,
        stop=start + window,
        note=f"{T} tokens are too many to draw at once: showing {where}tokens {start}–{start + window - 1} "
        f"({window} tokens). Move the window to see the rest.",
        first=first,
        kept=int(kept(shown, threshold).sum()),
        total=shown.size,
    )


def sparse_rows(weights: np.ndarray, threshold: float = THRESHOLD) -> list:
    """[l][h][q] -> [k0, w0, k1, w1, …]: each row's keys with a weight at or above the threshold and
    that weight in thousandths (weights [l, h, Q, K])."""
    n_layers, h, q, k = weights.shape
    flat = weights.reshape(-1, k)  # [l·h·q, K]
    mask = flat >= threshold
    rows, keys = np.nonzero(mask)
    values = np.rint(flat[rows, keys].astype(np.float64) * _SCALE).astype(np.int64)
    pairs = np.stack([keys, values], axis=1).reshape(-1).tolist()  # k0, w0, k1, w1, …
    ends = np.concatenate([[0], np.cumsum(mask.sum(axis=1) * 2)]).tolist()
    split = [pairs[a:b] for a, b in zip(ends[:-1], ends[1:], strict=True)]  # l·h·q rows
    return [[split[(a * h + b) * q : (a * h + b + 1) * q] for b in range(h)] for a in range(n_layers)]


def _prettify(tokens: list[str], limit: int = 24) -> list[str]:
    """Long tokens shortened to fit bertviz's layout (the tokens come already shown by
    explorer.pipeline.token_display: ␣ for a space, no raw Ġ or ▁)."""
    return [t if len(t) <= limit else t[: limit - 1] + "…" for t in tokens]


@dataclass(frozen=True)
class BertvizHtml:
    html: str
    plan: Plan
    payload_bytes: int  # bytes of the attention JSON the page sends


def _page(kind: ViewKind, params: dict, controls: str, vis_id: str, dark: bool) -> tuple[str, int]:
    payload = script_json(params)
    body = (
        f'<div id="{vis_id}" style="font-family:\'Helvetica Neue\', Helvetica, Arial, sans-serif;">'
        f'<span style="user-select:none">{controls}</span><div id="vis"></div></div>'
    )
    script = _bertviz_js(kind).replace("PYTHON_PARAMS", f"__explorerDense({payload})", 1)
    if kind == "model":
        narrowest, widest = model_view_width(params["total_heads"])
        script = script.replace("NARROWEST, WIDEST", f"{narrowest}, {widest}", 1)
    left = 200 if kind == "head" else 4  # the model view's grid is 970 pixels wide: no room to spare
    page = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
        f'<body style="margin:0;padding:4px 4px 4px {left}px;background:{"#000" if dark else "#fff"}">'
        f"{_libraries()}{body}<script>{script}</script></body></html>"
    )
    return page, len(payload.encode("utf-8"))


def _params(
    kind: ViewKind, data: list, plan: Plan, *, layer: int | None, shown_part: int, dark: bool, vis_id: str
) -> dict:
    """bertviz's parameters for its head or model view."""
    common = {"attention": data, "default_filter": str(shown_part)}
    if kind == "head":
        return {
            **common,
            "root_div_id": vis_id,
            "layer": layer if layer in plan.layers else plan.layers[0],
            "heads": None,
            "include_layers": list(plan.layers),
        }
    return {
        **common,
        "display_mode": "dark" if dark else "light",
        "root_div_id": vis_id,
        "include_layers": list(plan.layers),
        "include_heads": list(plan.heads),
        "total_heads": len(plan.heads),
    }


def bertviz_html(
    kind: ViewKind,
    parts: tuple[BertvizPart, ...],
    plan: Plan,
    *,
    layer: int | None = None,
    shown_part: int = 0,
    threshold: float = THRESHOLD,
    dark: bool = False,
) -> BertvizHtml:
    """A self-contained page drawing bertviz's view of ``parts`` (one sentence, real tokens only;
    index i of their layers is layer ``plan.first + i``) for what ``plan`` chose, opening on layer
    number ``layer``. With several parts, bertviz's Attention menu switches between them
    (``shown_part`` first). Weights below ``threshold`` are neither sent nor drawn."""
    window = slice(plan.start, plan.stop)
    index = [number - plan.first for number in plan.layers]
    data = [
        {
            "name": part.name,
            # [l][h][q]: kept keys and weights, of the chosen layers, heads and window
            "sparse": sparse_rows(
                part.attentions[index][:, list(plan.heads)][:, :, window, window], threshold
            ),
            "left_text": _prettify(list(part.left[window])),
            "right_text": _prettify(list(part.right[window])),
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
    menu = f'Attention: <select id="filter">{options}</select>' if len(parts) > 1 else ""
    params = _params(kind, data, plan, layer=layer, shown_part=shown_part, dark=dark, vis_id=vis_id)
    controls = (f'Layer: <select id="layer"></select> {menu}' if kind == "head" else menu).rstrip()
    page, size = _page(kind, params, controls, vis_id, dark)
    return BertvizHtml(page, plan, size)


def stock_head_view(attentions: np.ndarray, tokens: list[str]) -> str:
    """bertviz's own head_view HTML for the same attentions (for the benchmark)."""
    import torch
    from bertviz import head_view

    per_layer = [torch.from_numpy(np.array(layer))[None] for layer in attentions]  # L x [1, H, T, T]
    return head_view(per_layer, tokens, html_action="return").data

"""The flow picture: an explain.flow.Flow -> one self-contained HTML string (no script, no CDN).

Boxes in rows that wrap to the column's width, the N identical layers drawn once inside a dashed
frame marked "N ×", each box a link to the page that explains it. Colours are set on every box
(light boxes, dark text), so the picture reads the same in the light and the dark theme. Every
label is escaped exactly once, here (:func:`html.escape`)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from explorer.explain.flow import Box, Flow, Stack

# Where a box's link goes: (page, focus) -> href. A box whose page has no href is drawn unlinked.
Hrefs = Mapping[tuple[str, str], str]

_STYLE = """
<style>
.fx-flow{display:flex;flex-direction:column;gap:10px;margin:6px 0 14px 0;max-width:100%}
.fx-row{display:flex;flex-wrap:wrap;align-items:center;gap:6px 4px}
.fx-box{display:flex;flex-direction:column;gap:1px;min-width:7.5rem;max-width:15rem;padding:6px 10px;
  border:2px solid #2b6cb0;border-radius:8px;background:#eef4fb;color:#10243e;text-decoration:none;
  line-height:1.25}
a.fx-box:hover,a.fx-box:focus{background:#d6e6f8;outline:2px solid #10243e}
.fx-box.fx-tok{border-color:#b7791f;background:#fff6dc}
a.fx-box.fx-tok:hover{background:#fdebb8}
.fx-box.fx-out{border-color:#2f855a;background:#e8f6ec}
a.fx-box.fx-out:hover{background:#cdeed8}
.fx-name{font-weight:700;font-size:1.05rem;color:#10243e}
.fx-shape{font-family:monospace;font-size:1rem;color:#0b3d91;font-weight:600}
.fx-detail{font-size:.85rem;color:#26384d}
.fx-module{font-family:monospace;font-size:.72rem;color:#44515f;overflow-wrap:break-word}
.fx-arrow{font-size:1.5rem;color:#8a96a3;padding:0 2px}
.fx-stack{display:flex;flex-direction:column;gap:4px;border:2px dashed #8a96a3;border-radius:10px;
  padding:6px 8px;background:rgba(138,150,163,.12)}
.fx-times{font-weight:700;font-size:1.05rem}
.fx-times a{color:inherit}
.fx-times .fx-module{color:inherit;opacity:.8}
.fx-label{font-weight:700;font-size:.95rem;opacity:.85}
</style>
"""

_ARROW = '<span class="fx-arrow" aria-hidden="true">→</span>'
_TOKENIZER = frozenset({"text", "tokens", "input_ids", "decoder_input_ids"})
_OUTPUT = frozenset({"head", "logits", "result", "output"})


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _breakable(path: str) -> str:
    """A module path, escaped, that may wrap after each dot (not inside "0…5")."""
    return _e(path).replace(".", ".<wbr>")


def box_html(box: Box, hrefs: Hrefs) -> str:
    """One box: name, shape, detail, module; a link when its page has an href."""
    kind = " fx-tok" if box.key in _TOKENIZER else " fx-out" if box.key in _OUTPUT else ""
    parts = [f'<span class="fx-name">{_e(box.name)}</span>']
    if box.shape:
        parts.append(f'<span class="fx-shape">{_e(box.shape)}</span>')
    if box.detail:
        parts.append(f'<span class="fx-detail">{_e(box.detail)}</span>')
    if box.module:
        parts.append(f'<span class="fx-module">{_breakable(box.module)}</span>')
    inner = "".join(parts)
    href = hrefs.get((box.page, box.focus)) if box.page else None
    if href is None:
        return f'<div class="fx-box{kind}">{inner}</div>'
    title = f"Open the page that explains it: {box.page}"
    return f'<a class="fx-box{kind}" href="{_e(href)}" target="_self" title="{_e(title)}">{inner}</a>'


def _chain(boxes: tuple[Box, ...], hrefs: Hrefs) -> list[str]:
    return [box_html(box, hrefs) for box in boxes]


def stack_html(stack: Stack, hrefs: Hrefs) -> str:
    """The N layers, drawn once in a dashed frame: "6 × layer" and its boxes."""
    title = f"{stack.name} " if stack.name else ""
    times = f"{title}{stack.layers} × layer"
    href = hrefs.get((stack.page, "")) if stack.page else None
    head = f'<a href="{_e(href)}" target="_self">{_e(times)}</a>' if href else _e(times)
    module = f' <span class="fx-module">{_e(stack.module)}</span>' if stack.module else ""
    row = _ARROW.join(_chain(stack.boxes, hrefs))
    return f'<div class="fx-stack"><div class="fx-times">{head}{module}</div><div class="fx-row">{row}</div></div>'


def flow_html(flow: Flow, hrefs: Hrefs, label: str = "The flow of this run through the model") -> str:
    """The whole picture. An encoder-decoder: the encoder's row, then the decoder's (its
    cross-attention reads the encoder's output), ending in the head."""
    if flow.kind == "encoder-decoder" and len(flow.stacks) == 2:
        encoder, decoder = flow.stacks
        rows = [
            [*_chain(flow.before, hrefs), stack_html(encoder, hrefs)],
            [*_chain(flow.decoder_before, hrefs), stack_html(decoder, hrefs), *_chain(flow.after, hrefs)],
        ]
        labels = ["Encoder: reads the text", "Decoder: writes the output, reading the encoder's vectors"]
    else:
        rows = [
            [
                *_chain(flow.before, hrefs),
                *(stack_html(s, hrefs) for s in flow.stacks),
                *_chain(flow.after, hrefs),
            ]
        ]
        labels = [""]
    body = "".join(
        (f'<div class="fx-label">{_e(text)}</div>' if text else "")
        + f'<div class="fx-row">{_ARROW.join(row)}</div>'
        for text, row in zip(labels, rows, strict=True)
    )
    return f'{_STYLE}<div class="fx-flow" role="figure" aria-label="{_e(label)}">{body}</div>'


# --- The layer page's shape strip: each step's width per position, to scale --------------------


@dataclass(frozen=True)
class WidthRow:
    label: str  # "9. Feed-forward: widen"
    shape: str  # "[12, 1536]"
    width: int  # numbers per position (1536)
    drawn: int  # how many of them a heatmap draws (64)


_STRIP_STYLE = """
<style>
.fx-scroll{overflow-x:auto;max-width:100%}
.fx-strip{border-collapse:collapse;width:100%;margin:4px 0 12px 0;background:#fff;border-radius:6px}
.fx-strip td{padding:2px 8px;color:#10243e;font-size:.9rem;vertical-align:middle}
.fx-strip td.fx-what{white-space:nowrap;width:1%}
.fx-strip td.fx-dims{font-family:monospace;white-space:nowrap;width:1%;text-align:right}
.fx-track{position:relative;height:16px;background:#eef1f4}
.fx-whole{position:absolute;left:0;top:0;bottom:0;background:#9cc3ea}
.fx-drawn{position:absolute;left:0;top:0;bottom:0;background:#1f4e8c}
</style>
"""


def width_strip_html(rows: Sequence[WidthRow]) -> str:
    """One bar per step, its length in proportion to the widest step's: 384 → 1536 → 384 shows as
    a bar four times longer; the darker start of each bar is what that step's heatmap draws."""
    widest = max((row.width for row in rows), default=1) or 1
    cells = []
    for row in rows:
        whole = 100 * row.width / widest
        drawn = 100 * min(row.drawn, row.width) / widest
        cells.append(
            f'<tr><td class="fx-what">{_e(row.label)}</td>'
            f'<td><div class="fx-track" title="{_e(f"{row.drawn} of {row.width:,} drawn")}">'
            f'<div class="fx-whole" style="width:{whole:.2f}%"></div>'
            f'<div class="fx-drawn" style="width:{drawn:.2f}%"></div></div></td>'
            f'<td class="fx-dims">{row.width:,} {_e(row.shape)}</td></tr>'
        )
    caption = "Numbers per position at each step, to scale (darker: the part a heatmap draws)"
    return (
        f'{_STRIP_STYLE}<div class="fx-scroll"><table class="fx-strip" aria-label="{_e(caption)}">'
        f"{''.join(cells)}</table></div>"
    )

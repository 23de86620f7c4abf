"""Pure functions from an Encoding to HTML strings (no Streamlit): token chips and the batch grid.

All user text passes through :func:`visible`, which escapes HTML and makes invisible characters
visible, so a sentence containing ``<script>`` shows as those characters and runs nothing.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence

from explorer.pipeline.encoding import Encoding

_STYLE = """
<style>
.tx-chips{display:flex;flex-wrap:wrap;gap:6px;margin:4px 0 12px 0}
.tx-chip{display:inline-flex;flex-direction:column;align-items:center;border-radius:6px;
  padding:3px 7px;border:1px solid #9aa5b1;background:#eef4fb;color:#10243e;font-size:1rem;
  unicode-bidi:isolate}
.tx-chip .tx-id{font-size:.72rem;color:#3b4a5a;font-family:monospace}
.tx-chip.tx-special{background:#fff1d6;border-color:#c58a00}
.tx-chip.tx-pad{background:#eceff1;border-style:dashed;color:#6b7785}
.tx-chip.tx-unk{background:#fde2e2;border-color:#b3261e}
.tx-chip.tx-cut{background:#fff;border-color:#b3261e;border-style:dotted;color:#b3261e}
.tx-grid{border-collapse:collapse;font-family:monospace;font-size:.85rem;margin-bottom:10px;background:#fff}
.tx-grid th,.tx-grid td{border:1px solid #c5ccd3;padding:2px 6px;text-align:center;
  unicode-bidi:isolate;color:#10243e}
.tx-grid th{background:#f3f5f7;text-align:left;font-weight:600}
.tx-grid td.tx-pad{background:#eceff1;color:#6b7785}
.tx-grid td.tx-special{background:#fff1d6}
.tx-legend{font-size:.8rem;opacity:.8}
.tx-scroll{overflow-x:auto;max-width:100%;padding-bottom:2px;scrollbar-width:auto;scrollbar-color:#8a96a3 #eceff1}
.tx-grid tr>th:first-child{position:sticky;left:0;z-index:1}
.tx-blocks{display:flex;flex-wrap:wrap;gap:0 14px;align-items:flex-start;max-width:100%}
.tx-blocks>.tx-scroll{flex:0 1 auto;min-width:0}
.tx-bars td.tx-axis{font-size:.75rem;opacity:.75;text-align:right;padding-top:0}
.tx-bars{border-collapse:collapse;margin:4px 0 14px 0;min-width:320px;background:#fff;border-radius:6px}
.tx-bars td{padding:3px 8px;color:#10243e;unicode-bidi:isolate}
.tx-bars td.tx-label{font-family:monospace;white-space:pre}
.tx-bar{height:14px;background:#2b6cb0;border-radius:3px}
.tx-bars td.tx-value{font-family:monospace;text-align:right}
</style>
"""

# Characters that print nothing or move text: shown as ⟨U+XXXX⟩ so the user sees they are there.
_INVISIBLE_CATEGORIES = {"Cc", "Cf", "Zl", "Zp"}


def readable(text: str) -> str:
    """``text`` with control / format / zero-width characters shown as ⟨U+XXXX⟩, not escaped (for
    places that show text as text, such as a markdown code span)."""
    out = []
    for char in text:
        if unicodedata.category(char) in _INVISIBLE_CATEGORIES or (char.isspace() and char != " "):
            out.append(f"⟨U+{ord(char):04X}⟩")
        else:
            out.append(char)
    return "".join(out)


def visible(text: str, quote: bool = True) -> str:
    """HTML-escape ``text`` and show control / format / zero-width characters as ⟨U+XXXX⟩.
    ``quote=False`` leaves quotes alone (for Plotly labels, which are text, not attributes)."""
    return html.escape(readable(text), quote=quote)


# emphasis, code, strike-through, maths, HTML, an entity (&amp;), the ] of a link [x](y) and a [
# right after a word, as in Streamlit's :red[x] colours (an underscore inside a word, from_config,
# never emphasises, and a lone [2, 16] is no link, so they are left as they are)
_MARKDOWN_INLINE = re.compile(r"[\\`*~$<&]|(?<!\w)_|_(?!\w)|\](?=\()|(?<=[\w-])\[")
# what starts a block when a cell begins with it: a bullet (- + followed by a space), a heading
# (# and a space), a quote (>), a numbered item (1. or 1) and a space)
_MARKDOWN_BLOCK = re.compile(r"^(\s*)(?:([-+#])(?=\s|$)|(>)|(\d+)([.)])(?=\s|$))")


def markdown_literal(text: str) -> str:
    """``text`` as itself in Markdown (st.table reads every cell as Markdown, st.caption its text):
    a token ``-`` or ``*`` would start a bullet list, ``_x_`` italics, ``$`` maths. Backslash
    escapes, which Markdown removes again."""
    escaped = _MARKDOWN_INLINE.sub(lambda m: "\\" + m.group(0), text)

    def block(m: re.Match[str]) -> str:
        space, mark, quote, number, dot = m.groups()
        return space + ("\\" + (mark or quote) if (mark or quote) else f"{number}\\{dot}")

    return _MARKDOWN_BLOCK.sub(block, escaped, count=1)


def _chip_class(encoding: Encoding, b: int, s: int, unk_id: int | None) -> str:
    if encoding.attention_mask[b, s] == 0:
        return "tx-chip tx-pad"
    if encoding.special_tokens_mask[b, s]:
        return "tx-chip tx-special"
    if unk_id is not None and encoding.input_ids[b, s] == unk_id:
        return "tx-chip tx-unk"
    return "tx-chip"


def _tooltip(encoding: Encoding, b: int, s: int) -> str:
    parts = [f"position {s}", f"id {int(encoding.input_ids[b, s])}"]
    if encoding.shown[b][s] != encoding.tokens[b][s]:
        parts.append(f"raw piece {encoding.tokens[b][s]}")
    if encoding.attention_mask[b, s] == 0:
        parts.append("padding (attention_mask 0)")
    elif encoding.offsets is not None and not encoding.special_tokens_mask[b, s]:
        start, end = (int(x) for x in encoding.offsets[b, s])
        parts.append(f"characters {start}–{end}")
    elif encoding.special_tokens_mask[b, s]:
        parts.append("special token")
    return html.escape(" · ".join(parts), quote=True)


def _raw_titled(encoding: Encoding, b: int, s: int) -> str:
    """A token as shown, escaped; with its raw piece on hover when that differs."""
    text, raw = encoding.shown[b][s], encoding.tokens[b][s]
    if text == raw:
        return visible(text)
    return f'<span title="{html.escape("raw piece " + raw, quote=True)}">{visible(text)}</span>'


def token_chips_html(encoding: Encoding, b: int, unk_id: int | None = None, padding: bool = False) -> str:
    """One sentence of the batch as chips: token above, input ID below; specials, unknown tokens
    and (if ``padding``) pad cells marked; a last chip says how many tokens truncation cut.
    Hovering a chip shows its position, ID and character span."""
    chips = []
    for s, token in enumerate(encoding.shown[b]):
        if encoding.attention_mask[b, s] == 0 and (not padding or not encoding.padded):
            continue
        chips.append(
            f'<span class="{_chip_class(encoding, b, s, unk_id)}" title="{_tooltip(encoding, b, s)}">'
            f'<span class="tx-tok">{visible(token)}</span>'
            f'<span class="tx-id">{int(encoding.input_ids[b, s])}</span></span>'
        )
    if encoding.truncated[b]:
        chips.append(
            f'<span class="tx-chip tx-cut" title="removed by truncation">'
            f'<span class="tx-tok">✂ {encoding.truncated[b]:,}</span><span class="tx-id">cut</span></span>'
        )
    return _STYLE + f'<div class="tx-chips" data-testid="token-chips">{"".join(chips)}</div>'


def plain_chips_html(
    tokens: Sequence[str], unknown: Sequence[str] = ("[UNK]", "<unk>"), shown: Sequence[str] | None = None
) -> str:
    """Tokens without IDs (tokenizer families): unknown tokens flagged. ``shown``: the tokens as
    the screen shows them (token_display), the raw ``tokens`` then on hover."""
    texts = tokens if shown is None else shown
    chips = "".join(
        f'<span class="tx-chip{" tx-unk" if token in unknown else ""}"'
        + (f' title="{html.escape("raw piece " + token, quote=True)}"' if text != token else "")
        + f'><span class="tx-tok">{visible(text)}</span></span>'
        for token, text in zip(tokens, texts, strict=True)
    )
    return _STYLE + f'<div class="tx-chips" data-testid="family-chips">{chips}</div>'


GRID_BLOCK = 6  # positions per block of the batch grid: blocks wrap to the column's width


def _grid_block(encoding: Encoding, positions: range) -> str:
    """One block of the batch grid: the position header, then for each sentence its rows (tokens,
    input_ids, attention_mask, token_type_ids) over ``positions``."""
    header = "".join(f"<th>{s}</th>" for s in positions)
    body = []
    for b in range(encoding.shape[0]):
        rows = [("token", [_raw_titled(encoding, b, s) for s in positions])]
        rows.append(("input_ids", [str(int(encoding.input_ids[b, s])) for s in positions]))
        rows.append(("attention_mask", [str(int(encoding.attention_mask[b, s])) for s in positions]))
        if encoding.token_type_ids is not None:
            rows.append(("token_type_ids", [str(int(encoding.token_type_ids[b, s])) for s in positions]))
        for r, (name, cells) in enumerate(rows):
            label = f"sentence {b}: {name}" if r == 0 else name
            tds = []
            for s, cell in zip(positions, cells, strict=True):
                cls = ""
                if encoding.attention_mask[b, s] == 0 and not encoding.padded:
                    cell, cls = "", ' class="tx-none"'  # past the end of an unpadded row
                elif encoding.attention_mask[b, s] == 0:
                    cls = ' class="tx-pad"'
                elif encoding.special_tokens_mask[b, s]:
                    cls = ' class="tx-special"'
                tds.append(f"<td{cls}>{cell}</td>")
            body.append(f"<tr><th>{label}</th>{''.join(tds)}</tr>")
    return (
        f'<div class="tx-scroll"><table class="tx-grid">'
        f"<tr><th>position</th>{header}</tr>{''.join(body)}</table></div>"
    )


def batch_grid_html(encoding: Encoding, max_columns: int = 64, block: int = GRID_BLOCK) -> str:
    """The batch tensor as the model receives it: for each sentence, rows of tokens, input_ids,
    attention_mask (and token_type_ids), one column per position. Padding cells are greyed.
    Positions come in blocks of ``block``, each with its position header and row names, side by
    side while they fit and wrapped to the next line when they do not (one wide table was cut at
    the column's edge, its scrollbar invisible until hovered); a block still wider than the page
    (long tokens, a projector's large text) scrolls, with its scrollbar drawn."""
    S = encoding.shape[1]
    shown = min(S, max_columns)
    blocks = "".join(_grid_block(encoding, range(a, min(a + block, shown))) for a in range(0, shown, block))
    more = f'<div class="tx-legend">Showing positions 0–{shown - 1} of {S}.</div>' if shown < S else ""
    legend = (
        '<div class="tx-legend">Yellow: special tokens. Grey: padding: the attention mask (0) keeps '
        "every token's attention off it (padding positions still get vectors of their own)."
        + (f" Positions {block} at a time: left to right, then on the next line." if shown > block else "")
        + "</div>"
    )
    return _STYLE + f'<div class="tx-blocks" data-testid="batch-grid">{blocks}</div>' + more + legend


BAR_PX = 160  # a full bar
_BAR_TOPS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)  # the round values a full bar can stand for


def bar_top(largest: float) -> float:
    """What a full bar stands for: the smallest round value at least the largest probability."""
    return next((top for top in _BAR_TOPS if largest <= top), max(1.0, largest))


def probability_bars_html(
    labels: Sequence[str], probabilities: Sequence[float], raw: Sequence[str] | None = None
) -> str:
    """Labelled probabilities as a bar table, best first as given: label, bar, value. A full bar
    stands for a round value just above the largest (said under the bars), so a top probability
    of 0.12 is not a sliver on a 0–1 scale. ``raw``: the tokenizer's pieces behind token labels,
    shown on hover where they differ."""
    top = bar_top(max((float(p) for p in probabilities), default=1.0))
    rows = []
    for i, (label, probability) in enumerate(zip(labels, probabilities, strict=True)):
        width = max(0.0, min(1.0, float(probability) / top)) * BAR_PX
        piece = raw[i] if raw is not None else label
        title = f' title="{html.escape("raw piece " + piece, quote=True)}"' if piece != label else ""
        rows.append(
            f'<tr><td class="tx-label"{title}>{visible(label)}</td>'
            f'<td><div class="tx-bar" style="width:{width:.1f}px"></div></td>'
            f'<td class="tx-value">{float(probability):.3f}</td></tr>'
        )
    rows.append(f'<tr><td></td><td class="tx-axis">full bar = {top:g}</td><td></td></tr>')
    return _STYLE + f'<table class="tx-bars" data-testid="probabilities">{"".join(rows)}</table>'

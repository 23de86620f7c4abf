"""Projector-mode check in Chromium (issue 21, item 4): screenshots and element measurements of the
pages a class reads from a projector, at 1024x768 and 1400x900, with Large text on and off.

Not a test (it needs a running server and the bundled checkpoints): run the app yourself, then
    python bench/projector_check.py http://127.0.0.1:8612 OUT_FOLDER
It writes OUT_FOLDER/*.png and OUT_FOLDER/measurements.json, and prints the measurements."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from urllib.parse import quote

from playwright.sync_api import Page, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
from conftest import CHROMIUM_ARGS, IDLE  # noqa: E402  (the browser tests' launch flags and idle mark)

MINILM = "bundled:minilm-l6"
SMOLLM2 = "bundled:smollm2"
CLASSIFIER = "saved:minilm-sentiment"
PAIR_TEXT = "The weather was cold, so I wore my coat."
PAIR_SECOND = "I also took a scarf and gloves."

# Measured in the page: the first element matching a selector, its box, and for a Plotly chart
# its tick labels and bar texts.
MEASURE_JS = """
(selector) => {
  const el = document.querySelector(selector);
  if (!el) return null;
  const box = el.getBoundingClientRect();
  const out = {top: Math.round(box.top + window.scrollY), height: Math.round(box.height),
               width: Math.round(box.width), left: Math.round(box.left)};
  const plot = el.querySelector('.js-plotly-plot') || (el.classList.contains('js-plotly-plot') ? el : null);
  if (plot) {
    out.yticks = plot.querySelectorAll('.yaxislayer-above .ytick text, .yaxislayer-below .ytick text').length;
    out.xticks = plot.querySelectorAll('.xaxislayer-above .xtick text').length;
    out.bar_texts = Array.from(plot.querySelectorAll('.bartext')).length;
    const layout = plot._fullLayout || {};
    if (layout.yaxis) out.yrange = layout.yaxis.range.map(v => Math.round(v * 1000) / 1000);
    const trace = (plot._fullData || [])[0];
    if (trace && trace.type === 'heatmap') {
      out.rows = trace.z.length;
      out.columns = trace.z[0].length;
      const area = plot.querySelector('.nsewdrag');
      if (area) {
        const a = area.getBoundingClientRect();
        out.cell_height = Math.round(10 * a.height / out.rows) / 10;
        out.cell_width = Math.round(10 * a.width / out.columns) / 10;
      }
    }
  }
  return out;
}
"""

GRID_JS = """
() => {
  const grid = document.querySelector('[data-testid="batch-grid"]');
  if (!grid) return null;
  const main = document.querySelector('[data-testid="stMainBlockContainer"]') || document.body;
  const box = main.getBoundingClientRect();
  const mainBox = {right: box.right - parseFloat(getComputedStyle(main).paddingRight)};  // the column's edge
  const heads = Array.from(grid.querySelectorAll('tr:first-child th')).filter(th => th.textContent !== 'position');
  const last = heads.reduce((a, b) => (+b.textContent > +a.textContent ? b : a));
  const lastBox = last.getBoundingClientRect();
  const chips = document.querySelector('.tx-chips');
  const tables = grid.querySelectorAll('table');
  const scrolls = Array.from(grid.querySelectorAll('.tx-scroll, div')).filter(d => d.scrollWidth > d.clientWidth + 1);
  return {
    top: Math.round(grid.getBoundingClientRect().top + window.scrollY),
    chips_top: chips ? Math.round(chips.getBoundingClientRect().top + window.scrollY) : null,
    positions: heads.length,
    last_position: last.textContent,
    last_right: Math.round(lastBox.right),
    column_right: Math.round(mainBox.right),
    last_visible_without_scrolling: lastBox.right <= mainBox.right + 1,
    blocks: tables.length,
    overflowing_blocks: scrolls.length,
    grid_height: Math.round(grid.getBoundingClientRect().height),
    type_ids_1_visible: Array.from(grid.querySelectorAll('tr'))
      .filter(tr => (tr.querySelector('th') || {}).textContent === 'token_type_ids')
      .map(tr => Array.from(tr.querySelectorAll('td')).filter(td => td.textContent === '1')
        .map(td => td.getBoundingClientRect().right <= mainBox.right + 1))
      .flat(),
  };
}
"""


def url(base: str, path: str, ckpt: str, large: bool, **params: str) -> str:
    query = [f"ckpt={quote(ckpt, safe=':')}"] + [f"{k}={quote(v)}" for k, v in params.items()]
    if large:
        query.append("large=1")
    return f"{base}/{path}?{'&'.join(query)}"


def wait_idle(page: Page, timeout: float = 240_000) -> None:
    page.wait_for_selector(IDLE, timeout=timeout)
    page.wait_for_timeout(1_500)  # Plotly draws after the run ends
    page.wait_for_selector(IDLE, timeout=timeout)


def large_on(page: Page) -> bool:
    return page.evaluate("() => getComputedStyle(document.documentElement).fontSize") == "20px"


def ensure_large(page: Page, large: bool) -> None:
    """Large text as asked: a link with large=1 should already have set it; else the sidebar toggle."""
    if large_on(page) == large:
        return
    page.get_by_text("Display", exact=True).click()
    page.get_by_text("Large text (for a projector)").click()
    wait_idle(page)


def scroll_to(page: Page, selector: str) -> None:
    """Scroll the first element matching ``selector`` to the top of the window (if there is one)."""
    page.evaluate(
        "(s) => { const e = document.querySelector(s); if (e) e.scrollIntoView({block: 'start'}); }", selector
    )
    page.wait_for_timeout(500)


def key_selector(key: str) -> str:
    return f"[class*='st-key-{key.replace('.', '-')}']"


def main(base: str, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, object] = {}
    with sync_playwright() as play:
        browser = play.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for width, height in ((1024, 768), (1400, 900)):
            for large in (False, True):
                tag = f"{width}x{height}-{'large' if large else 'normal'}"
                page = browser.new_page(viewport={"width": width, "height": height})

                def shot(name: str, tag: str = tag, page: Page = page) -> None:
                    page.screenshot(path=str(out / f"{name}-{tag}.png"), full_page=False)

                # Pipeline page: the batch grid (default text: 16 positions for MiniLM).
                page.goto(url(base, "", MINILM, large))
                wait_idle(page)
                ensure_large(page, large)
                results[f"pipeline-{tag}"] = {"large": large_on(page), "grid": page.evaluate(GRID_JS)}
                scroll_to(page, "[data-testid='batch-grid']")
                shot("pipeline-grid")
                # Tokenizer page, a sentence pair (lesson 13): the token_type_ids = 1 cells.
                page.goto(url(base, "tokenizer", MINILM, large, text=PAIR_TEXT, pairs=PAIR_SECOND))
                wait_idle(page)
                ensure_large(page, large)
                page.get_by_role("tab").nth(2).click()  # the batch tab
                page.wait_for_timeout(500)
                results[f"pairs-{tag}"] = {"large": large_on(page), "grid": page.evaluate(GRID_JS)}
                scroll_to(page, "[data-testid='batch-grid']")
                shot("pairs-grid")
                # Attention: the heatmap's top and its row labels.
                page.goto(url(base, "attention", MINILM, large))
                wait_idle(page)
                ensure_large(page, large)
                results[f"attention-{tag}"] = page.evaluate(MEASURE_JS, key_selector("att.heatmap"))
                shot("attention")
                # bertviz model view.
                page.goto(url(base, "attention", MINILM, large, bertviz="model view"))
                wait_idle(page)
                ensure_large(page, large)
                frame_el = page.locator("iframe").last
                scroll_to(page, "iframe")
                page.wait_for_timeout(2_000)
                handle = frame_el.element_handle()
                frame = handle.content_frame() if handle else None
                box = frame_el.bounding_box()
                inner = (
                    {}
                    if frame is None
                    else frame.evaluate(
                        "() => { const s = document.querySelector('svg'); const r = s ? s.getBoundingClientRect() : null;"
                        " return {svg_width: r ? Math.round(r.width) : null, svg_right: r ? Math.round(r.right) : null,"
                        " doc_width: document.documentElement.scrollWidth, view_width: window.innerWidth}; }"
                    )
                )
                results[f"modelview-{tag}"] = {"iframe_width": round(box["width"]) if box else None, **inner}
                shot("modelview")
                # Layer page: the heatmaps' row labels.
                page.goto(url(base, "layer", MINILM, large))
                wait_idle(page)
                ensure_large(page, large)
                results[f"layer-{tag}"] = page.evaluate(MEASURE_JS, ".js-plotly-plot")
                scroll_to(page, ".js-plotly-plot")
                shot("layer")
                # Classification: the probability bars' top.
                page.goto(url(base, "classification", CLASSIFIER, large))
                wait_idle(page)
                ensure_large(page, large)
                results[f"classification-{tag}"] = page.evaluate(MEASURE_JS, "[data-testid='probabilities']")
                shot("classification")
                # Generation with SmolLM2 and its chat template: bars and logit lens.
                page.goto(url(base, "generation", SMOLLM2, large, text="The capital of France is", chat="1"))
                wait_idle(page)
                ensure_large(page, large)
                results[f"generation-{tag}"] = {
                    "bars": page.evaluate(MEASURE_JS, key_selector("gen.bars")),
                    "lens": page.evaluate(MEASURE_JS, key_selector("gen.lens")),
                }
                shot("generation")
                scroll_to(page, key_selector("gen.lens"))
                shot("lens")
                page.close()
        # Large text kept on reload.
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(url(base, "attention", MINILM, False))
        wait_idle(page)
        ensure_large(page, True)
        before = large_on(page)
        page.reload()
        wait_idle(page)
        results["reload"] = {"large_before": before, "large_after_reload": large_on(page), "url": page.url}
        browser.close()
    (out / "measurements.json").write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))

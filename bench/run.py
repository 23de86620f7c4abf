"""`make bench`: measurements on this machine, written to bench/results.json and bench/README.md.

Sections:
- attention_views: payload bytes and build time of our attention views (the Plotly heatmap of one
  head, and bertviz's head view as we build it) against stock bertviz `head_view` on the same
  attentions of the bundled MiniLM encoder, at 16, 128 and 512 tokens.
- attention_views also gives the bertviz payload at 128 tokens without a window (weights below the
  threshold left out) and the model view at 64 tokens.
- browser: the Attention page in Chromium at 128 and 512 tokens: time from committing the text until
  the page has drawn its heatmap and its bertviz view and finished running.
- layer/head change: on the Attention page at 128 tokens, from choosing another layer or head until
  its heatmap is drawn and the (fragment) run is over, median and p95.
- decoder: time to first token and tokens per second of the bundled SmolLM2.
- browser_decoder: the Generation page with SmolLM2 in Chromium: first switch to SmolLM2, a new
  prompt typed until drawn, one "Next token" click, one "Generate 10" click, and switching back to
  SmolLM2 once loaded (median and p95).
- memory: peak RSS of the app process with the bundled encoder, with both bundled models, and after
  50 different texts, in local and in cloud mode.
- long_text_memory: RSS of the app process after each of 20 long texts on the Attention page
  (goal: flat within 100 MB from text 5 on); long_text_memory_smollm2_cloud: the same on SmolLM2 in
  cloud mode (20 texts of ~700 words; issue 22 reported 8); long_text_memory_layer: the layer page.
- overhead: encode_batch / run_model against direct tokenizer / forward calls, as ratios.
- page latency: every page's first render and its time to settle after a new 10- or 128-token
  text, median and p95.
- tasks: each task section of the Pipeline page (feature extraction, NER, zero-shot, question
  answering, multiple choice) at 128 tokens: the server's build and typed -> drawn in Chromium.

Run from the repository root: `.venv/bin/python bench/run.py [--quick] [--only SECTION ...]`.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

RESULTS = ROOT / "bench" / "results.json"
README = ROOT / "bench" / "README.md"

from streamlit import config as streamlit_config  # noqa: E402 (after the paths above)

from explorer.ui.memory import FIRST_WAIT  # noqa: E402

# how long Streamlit keeps a closed tab's session (.streamlit/config.toml leaves the default)
SESSION_TTL = streamlit_config.get_option("server.disconnectedSessionTTL")


# A MutationObserver sees every change of the app's script state, even a rerun shorter than one
# animation frame, which polling for the 'running' state can miss.
WATCH_RUN = """() => {
    const app = document.querySelector("[data-testid='stApp']");
    window.__explorerRan = app.getAttribute('data-test-script-state') === 'running';  // a run in progress takes the new text too
    new MutationObserver(() => {
        if (app.getAttribute('data-test-script-state') === 'running') window.__explorerRan = true;
    }).observe(app, {attributes: true});
}"""


def commit_and_wait(page, area) -> float:
    """Press Ctrl+Enter in ``area`` and wait until the app has rerun and settled; seconds taken."""
    from conftest import IDLE

    page.wait_for_selector(IDLE, timeout=180_000)  # the previous run (e.g. a page's own st.rerun) is over
    page.evaluate(WATCH_RUN)
    started = time.perf_counter()
    area.press("Control+Enter")
    page.wait_for_function("window.__explorerRan === true", timeout=30_000)
    page.wait_for_selector(IDLE, timeout=180_000)
    return time.perf_counter() - started


def median_time(function, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def text_of_tokens(tokenizer, tokens: int) -> str:
    """A natural text that is exactly `tokens` long with [CLS] and [SEP] (cut from the sample text)."""
    from explorer.explain.tokenizer_lab import sample_corpus

    corpus = " ".join([sample_corpus().replace("\n", " ")] * 4)
    ids = tokenizer(corpus, add_special_tokens=False)["input_ids"][: tokens - 2]
    return tokenizer.decode(ids)


def attention_views(repeats: int) -> list[dict]:
    import plotly.io

    from explorer.drawing.bertviz_html import bertviz_html, plan_view, square, stock_head_view
    from explorer.drawing.figures import attention_heatmap
    from explorer.explain.attention import attention_parts, attention_view
    from explorer.pipeline import checkpoints
    from explorer.pipeline.encoding import encode_batch
    from explorer.pipeline.loading import load_checkpoint
    from explorer.pipeline.run import run_model

    loaded = load_checkpoint(checkpoints.resolve(checkpoints.MINILM))
    rows = []
    for tokens in (16, 128, 512):
        text = text_of_tokens(loaded.tokenizer, tokens)
        encoding = encode_batch(loaded.batch_tokenizer, [text], max_length=512)
        assert encoding.shape[1] == tokens, encoding.shape
        run = run_model(loaded, encoding, attentions=True)
        attentions = run.attentions[:, 0]  # [L, H, T, T]
        L, H = attentions.shape[:2]
        token_list = list(encoding.tokens[0])

        def heatmap(run=run, encoding=encoding):
            view = attention_view(attention_parts(run, encoding)[0], sentence=0, layer=0, head=0)
            figure = attention_heatmap(view.matrix, view.query_positions, view.query_tokens, view.title)
            return plotly.io.to_json(figure)

        def ours(attentions=attentions, token_list=token_list):
            parts = square(attentions, token_list)
            return bertviz_html("head", parts, plan_view("head", parts, first=1)).html

        def stock(attentions=attentions, token_list=token_list):
            return stock_head_view(attentions, token_list)

        heat_s, heat_json = median_time(heatmap, repeats)
        ours_s, ours_html = median_time(ours, repeats)
        stock_s, stock_html = median_time(stock, 1 if tokens >= 512 else repeats)
        plan = plan_view("head", square(attentions, token_list), first=1)
        page = bertviz_html("head", square(attentions, token_list), plan)
        rows.append(
            {
                "tokens": tokens,
                "plotly_heatmap_bytes": len(heat_json.encode()),
                "plotly_heatmap_build_s": round(heat_s, 4),
                "our_head_view_bytes": len(ours_html.encode()),
                "our_head_view_build_s": round(ours_s, 4),
                "our_head_view_shows": plan.note or "all layers and tokens",
                "our_head_view_payload_bytes": page.payload_bytes,
                "our_head_view_tokens_drawn": plan.stop - plan.start,
                "our_head_view_layers": len(plan.layers),
                "weights_drawn": plan.kept,
                "weights_total": plan.total,
                "stock_head_view_bytes": len(stock_html.encode()),
                "stock_head_view_build_s": round(stock_s, 4),
                "bytes_ratio_stock_over_ours": round(len(stock_html.encode()) / len(ours_html.encode()), 1),
                "time_ratio_stock_over_ours": round(stock_s / ours_s, 1) if ours_s else None,
            }
        )
        del stock_html
        print(f"attention views at {tokens} tokens: {rows[-1]}", flush=True)
    return rows


def model_view_payload(tokens: int = 64) -> dict:
    """bertviz's model view (every layer and head) of the bundled MiniLM at ``tokens`` tokens."""
    from explorer.drawing.bertviz_html import bertviz_html, plan_view, square
    from explorer.pipeline import checkpoints
    from explorer.pipeline.encoding import encode_batch
    from explorer.pipeline.loading import load_checkpoint
    from explorer.pipeline.run import run_model

    loaded = load_checkpoint(checkpoints.resolve(checkpoints.MINILM))
    encoding = encode_batch(
        loaded.batch_tokenizer, [text_of_tokens(loaded.tokenizer, tokens)], max_length=512
    )
    attentions = run_model(loaded, encoding, attentions=True).attentions[:, 0]  # [L, H, T, T]
    started = time.perf_counter()
    parts = square(attentions, encoding.tokens[0])
    plan = plan_view("model", parts, first=1)
    page = bertviz_html("model", parts, plan)
    return {
        "tokens": tokens,
        "payload_bytes": page.payload_bytes,
        "page_bytes": len(page.html.encode()),
        "build_s": round(time.perf_counter() - started, 4),
        "layers": len(plan.layers),
        "tokens_drawn": plan.stop - plan.start,
        "weights_drawn": plan.kept,
        "weights_total": plan.total,
    }


def browser_attention_page(tokens: int = 512, repeats: int = 3) -> dict:
    """Seconds from committing a `tokens`-token text on the Attention page until it has run and
    drawn its heatmap and its bertviz view."""
    import tempfile

    from conftest import CHROMIUM_ARGS, IDLE, chromium_path, serve
    from playwright.sync_api import sync_playwright
    from transformers import AutoTokenizer

    from explorer.pipeline.checkpoints import minilm_folder

    tokenizer = AutoTokenizer.from_pretrained(str(minilm_folder()))
    texts = [text_of_tokens(tokenizer, tokens - i) for i in range(repeats + 1)]  # distinct: no cache hits
    log = Path(tempfile.mkdtemp()) / "streamlit.log"
    timings, first = [], None
    with serve(log) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        started = time.perf_counter()
        page.goto(f"{url}/attention")
        page.locator(".js-plotly-plot").first.wait_for(timeout=180_000)
        page.wait_for_selector(IDLE, timeout=180_000)
        page.frame_locator("iframe").first.locator("svg text").first.wait_for(timeout=60_000)
        first = time.perf_counter() - started
        area = page.get_by_role("textbox", name="Your text: one sentence per line")
        for text in texts[1:]:
            area.fill(text)
            started = time.perf_counter()
            commit_and_wait(page, area)
            page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
            page.frame_locator("iframe").first.locator("svg text").first.wait_for(timeout=60_000)
            timings.append(time.perf_counter() - started)
        browser.close()
    ordered = sorted(timings)
    return {
        "tokens": tokens,
        "first_visit_s": round(first, 2),
        "new_text_median_s": round(statistics.median(timings), 2),
        "new_text_p95_s": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
        "new_text_runs_s": [round(t, 2) for t in timings],
    }


def browser_layer_head(tokens: int = 128, repeats: int = 7) -> dict:
    """Seconds from choosing another layer (or head) on the Attention page, with a ``tokens``-token
    text, until its heatmap is drawn and the run (a fragment run: only what depends on them) is over."""
    import tempfile

    from conftest import CHROMIUM_ARGS, IDLE, chromium_path, serve
    from playwright.sync_api import sync_playwright
    from transformers import AutoTokenizer

    from explorer.pipeline.checkpoints import minilm_folder

    tokenizer = AutoTokenizer.from_pretrained(str(minilm_folder()))
    log = Path(tempfile.mkdtemp()) / "streamlit.log"
    timings: dict[str, list[float]] = {"layer": [], "head": []}
    with serve(log) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.goto(f"{url}/attention")
        page.locator(".js-plotly-plot").first.wait_for(timeout=180_000)
        area = page.get_by_role("textbox", name="Your text: one sentence per line")
        area.fill(text_of_tokens(tokenizer, tokens))
        commit_and_wait(page, area)
        page.frame_locator("iframe").first.locator("svg text").first.wait_for(timeout=60_000)
        main = page.get_by_test_id("stMain")
        layer, head = 1, 0
        for _ in range(repeats):
            for name in ("layer", "head"):
                if name == "layer":
                    layer = layer % 6 + 1
                    value = layer
                else:
                    head = (head + 5) % 12
                    value = head
                page.wait_for_selector(IDLE, timeout=60_000)
                main.get_by_test_id("stSelectbox").filter(has_text=name.title()).first.click()
                option = page.get_by_role("option", name=str(value), exact=True)
                started = time.perf_counter()
                option.click()
                # A fragment run does not mark the app as running: wait for the new title, then idle.
                main.locator(".js-plotly-plot .gtitle").filter(
                    has_text=f"Layer {layer}, head {head}"
                ).first.wait_for(timeout=60_000)
                page.wait_for_selector(IDLE, timeout=60_000)
                timings[name].append(time.perf_counter() - started)
        browser.close()
    result: dict = {"tokens": tokens}
    for name, values in timings.items():
        ordered = sorted(values)
        result[f"{name}_median_s"] = round(statistics.median(ordered), 3)
        result[f"{name}_p95_s"] = round(ordered[int(0.95 * (len(ordered) - 1))], 3)
        result[f"{name}_runs_s"] = [round(v, 3) for v in values]
    return result


def decoder(repeats: int) -> dict:
    """The bundled SmolLM2 on this machine: time to first token and tokens per second."""
    from explorer.explain import generation as gen
    from explorer.pipeline import checkpoints
    from explorer.pipeline.bundled import prepare_smollm2
    from explorer.pipeline.loading import load_checkpoint

    prepare_smollm2()
    loaded = load_checkpoint(checkpoints.resolve(checkpoints.SMOLLM2))
    ids = gen.prompt_ids(loaded, "The capital of France is", chat=False)
    first, _ = median_time(lambda: gen.generate(loaded, ids, 1, gen.Sampling()), repeats)
    new_tokens = gen.MAX_NEW_TOKENS
    total, steps = median_time(
        lambda: gen.generate(loaded, ids, new_tokens, gen.Sampling(greedy=False, seed=1)),
        max(1, repeats // 2),
    )
    return {
        "prompt_tokens": len(ids),
        "time_to_first_token_s": round(first, 3),
        "new_tokens": len(steps),
        "tokens_per_second": round(len(steps) / total, 1),
    }


def _settle_after(page, action, shown=None) -> float:
    """Do ``action`` (a click or Ctrl+Enter) and wait until the app has rerun and settled; seconds.
    ``shown``: a locator the new run draws, waited for instead of the running state (a run shorter
    than one frame, e.g. a switch to a checkpoint already loaded, may never show it)."""
    from conftest import IDLE

    page.wait_for_selector(IDLE, timeout=180_000)
    page.evaluate(WATCH_RUN)
    started = time.perf_counter()
    action()
    if shown is None:
        page.wait_for_function("window.__explorerRan === true", timeout=60_000)
    else:
        shown.first.wait_for(timeout=180_000)
    page.wait_for_selector(IDLE, timeout=180_000)
    return time.perf_counter() - started


def _spread(values: list[float]) -> dict:
    """Median and p95 (nearest rank: the smallest value at or above 95% of the runs) in seconds."""
    ordered = sorted(values)
    return {
        "median_s": round(statistics.median(ordered), 2),
        "p95_s": round(ordered[math.ceil(0.95 * len(ordered)) - 1], 2),
        "runs_s": [round(v, 2) for v in values],
    }


def browser_decoder(repeats: int = 5) -> dict:
    """The Generation page with the bundled SmolLM2 in Chromium (default settings: the logit lens,
    the causal-mask comparison and "Why this next token?" off), seconds until the page has settled:
    the first switch to SmolLM2 (its load), a new prompt typed (Ctrl+Enter) until drawn, one "Next
    token" click, one "Generate 10" click, and switching back to SmolLM2 from MiniLM once loaded."""
    import tempfile

    from conftest import CHROMIUM_ARGS, IDLE, chromium_path, serve
    from playwright.sync_api import sync_playwright

    from explorer.pipeline import checkpoints

    prompts = [f"The capital of {country} is" for country in ("France", "Italy", "Spain", "Japan", "Peru")]
    prompts += [f"My favourite {thing} is" for thing in ("food", "song", "city", "book", "game")]
    labels = {entry.ref: entry.label for entry in checkpoints.catalog()}
    log = Path(tempfile.mkdtemp()) / "streamlit.log"
    found: dict = {}
    with serve(log) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.goto(f"{url}/generation")
        page.get_by_role("heading", name="Generation").first.wait_for(timeout=180_000)
        page.wait_for_selector(IDLE, timeout=180_000)
        use = page.get_by_role("button", name="Use SmolLM2-135M-Instruct (bundled)")
        drawn = page.get_by_role("heading", name="The next token")
        found["first_switch_s"] = round(_settle_after(page, use.click, shown=drawn), 2)
        area = page.get_by_role("textbox", name="Your text: one sentence per line")
        typed = []
        for prompt in prompts[: repeats + 1]:  # the first one warms up
            area.fill(prompt)
            typed.append(_settle_after(page, lambda: area.press("Control+Enter")))
            page.get_by_text("Most likely next:").first.wait_for(timeout=60_000)
        found["typed"] = _spread(typed[1:])
        print(f"browser_decoder: {found}", flush=True)
        rows = page.locator("table").filter(has_text="runners-up").locator("tbody tr")
        clicks = []
        for step in range(1, repeats + 1):
            clicks.append(_settle_after(page, page.get_by_role("button", name="Next token").click))
            rows.nth(step - 1).wait_for(timeout=60_000)
        found["next_token"] = _spread(clicks)
        many = []
        for _ in range(repeats):
            many.append(_settle_after(page, page.get_by_role("button", name="Generate 10").click))
        found["generate_10"] = _spread(many)
        found["generated_rows"] = rows.count()
        print(f"browser_decoder: {found}", flush=True)
        picker = page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").first
        switches = []
        for _ in range(repeats):
            for ref in (checkpoints.MINILM, checkpoints.SMOLLM2):
                page.wait_for_selector(IDLE, timeout=60_000)
                picker.click()
                page.keyboard.type(labels[ref][:12])  # filter the long list: the option is in view
                option = page.get_by_role("option", name=labels[ref], exact=True)
                option.wait_for(timeout=30_000)
                drawn = (
                    page.get_by_role("heading", name="The next token")
                    if ref == checkpoints.SMOLLM2
                    else page.get_by_text("is not a causal language model")
                )
                seconds = _settle_after(page, option.click, shown=drawn)
                if ref == checkpoints.SMOLLM2:
                    switches.append(seconds)
        found["switch_back"] = _spread(switches)
        browser.close()
    return found


def _memory_mb(pid: int) -> dict[str, float]:
    """Current (VmRSS) and peak (VmHWM) resident memory of a process, in MB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    return {
        name: round(int(fields[key].split()[0]) / 1024, 1)
        for name, key in (("rss_mb", "VmRSS"), ("peak_mb", "VmHWM"))
    }


def memory(inputs: int = 50) -> dict:
    """Peak memory of the app process: the bundled encoder, both bundled models, and after
    `inputs` different texts (caches are bounded, so it must level off); also in cloud mode."""
    import tempfile

    from conftest import CHROMIUM_ARGS, IDLE, SERVER_PIDS, chromium_path, serve
    from playwright.sync_api import sync_playwright

    results = {}
    for mode, entry in (("local", "streamlit_app.py"), ("cloud", "cloud/streamlit_app.py")):
        log = Path(tempfile.mkdtemp()) / "streamlit.log"
        with serve(log, entry=entry) as url, sync_playwright() as playwright:
            pid = SERVER_PIDS[url]
            browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            started = _memory_mb(pid)
            page.goto(url)
            page.locator("[data-testid='batch-grid']").wait_for(timeout=180_000)
            page.wait_for_selector(IDLE, timeout=180_000)
            encoder = _memory_mb(pid)
            area = page.get_by_role("textbox", name="Your text: one sentence per line")
            for i in range(inputs):
                area.fill(
                    f"Sentence number {i} about {['cats', 'trains', 'music', 'rain', 'maths'][i % 5]} and more."
                )
                area.press("Control+Enter")
                page.locator("[data-testid='token-chips']").filter(has_text=f"{i}").first.wait_for(
                    timeout=60_000
                )
                page.wait_for_selector(IDLE, timeout=60_000)
                if i == 9:
                    after_10 = _memory_mb(pid)
            after_inputs = _memory_mb(pid)
            page.goto(f"{url}/generation")
            page.get_by_role("button", name="Use SmolLM2-135M-Instruct (bundled)").click()
            page.get_by_role("heading", name="The next token").wait_for(timeout=180_000)
            page.wait_for_selector(IDLE, timeout=180_000)
            both = _memory_mb(pid)
            browser.close()
        results[mode] = {
            "server_started": started,
            "bundled_encoder": encoder,
            "after_10_inputs": after_10,
            f"after_{inputs}_inputs": after_inputs,
            "both_bundled_models": both,
        }
        print(f"memory ({mode}): {results[mode]}", flush=True)
    return results


LONG_TEXT_CASES = {
    # name: (page, page heading, checkpoint for the URL or None for the default, lines per text,
    #        words per line, cloud mode)
    "attention": ("attention", "Attention", None, 4, 400, False),
    "attention_smollm2_cloud": ("attention", "Attention", "bundled:smollm2", 1, 700, True),
    "layer": ("layer", "A layer, step by step", None, 4, 400, False),
}


def long_text_memory(texts: int = 20, case: str = "attention") -> dict:
    """Resident memory of the app process on a page while a student types `texts` long texts (by
    default 4 lines of about 400 words each on the Attention page, cut to the model's 512 tokens: the
    largest attention runs the caches hold), and after the tab is closed. RSS is read after every
    text once the page has settled and the app has been idle FIRST_WAIT + 2 s. Goal (issue 22): flat within 100 MB after 20 long texts, read as
    RSS after the last text minus RSS after text 5 <= 100 MB. The spread of the readings from text 5
    on (highest minus lowest) is given too."""
    import tempfile

    from conftest import CHROMIUM_ARGS, IDLE, SERVER_PIDS, chromium_path, serve
    from playwright.sync_api import sync_playwright

    page_path, heading, ckpt, lines_per_text, words_per_line, cloud = LONG_TEXT_CASES[case]
    words = (ROOT / "explorer" / "data" / "sample_corpus.txt").read_text().split()
    log = Path(tempfile.mkdtemp()) / "streamlit.log"
    after: dict[int, dict[str, float]] = {}
    with serve(log, **({"EXPLORER_CLOUD": "1"} if cloud else {})) as url, sync_playwright() as playwright:
        pid = SERVER_PIDS[url]
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.goto(f"{url}/{page_path}" + (f"?ckpt={ckpt}" if ckpt else ""))
        page.get_by_role("heading", name=heading).first.wait_for(timeout=180_000)
        page.wait_for_selector(IDLE, timeout=180_000)
        loaded = _memory_mb(pid)
        area = page.get_by_role("textbox", name="Your text: one sentence per line")
        for i in range(texts):
            lines = [
                " ".join(words[(i * 97 + j * 401 + k) % len(words)] for k in range(words_per_line))
                + f" text {i}"
                for j in range(lines_per_text)
            ]
            area.fill("\n".join(lines))
            commit_and_wait(page, area)
            # what stays once the app is idle: the collector frees dropped runs FIRST_WAIT after
            # the drop, once no page is running (the peak shows what a fast typist costs)
            time.sleep(FIRST_WAIT + 2)
            after[i + 1] = _memory_mb(pid)
        page.close()
        time.sleep(5)  # a measuring point: 5 s after the tab closed
        closed = _memory_mb(pid)
        browser.close()
        # Streamlit ends a closed tab's session after server.disconnectedSessionTTL; the collector
        # then frees what it held (its first try FIRST_WAIT after a drop, later tries further apart)
        time.sleep(SESSION_TTL + FIRST_WAIT + 10 - 5)
        ended = _memory_mb(pid)
    settled = [after[k]["rss_mb"] for k in after if k >= min(5, texts)]
    spread = max(settled) - min(settled)
    result = {
        "case": case,
        "page": page_path,
        "checkpoint": ckpt or "default",
        "cloud": cloud,
        "texts": texts,
        "lines_per_text": lines_per_text,
        "words_per_line": words_per_line,
        "page_loaded": loaded,
        "after": {str(k): v for k, v in after.items()},
        "tab_closed": closed,
        "session_ended": ended,
        "growth_5_to_last_mb": round(after[texts]["rss_mb"] - after[min(5, texts)]["rss_mb"], 1),
        "spread_from_5_mb": round(spread, 1),
        "peak_mb": max(v["peak_mb"] for v in (*after.values(), closed, ended)),
        "goal_met": after[texts]["rss_mb"] - after[min(5, texts)]["rss_mb"] <= 100,
    }
    print(f"long texts ({case}): {result}", flush=True)
    return result


def long_text_lines(long_texts: dict) -> list[str]:
    """The README block of one long_text_memory case."""
    n = long_texts["texts"]
    shown = [k for k in long_texts["after"] if int(k) in (1, 5, 10, 15, n)]
    ended = [long_texts["session_ended"]] if "session_ended" in long_texts else []
    cells = [
        long_texts["page_loaded"],
        *(long_texts["after"][k] for k in shown),
        long_texts["tab_closed"],
        *ended,
    ]
    page = {"attention": "Attention", "layer": "A layer, step by step"}.get(
        long_texts.get("page", ""), "Attention"
    )
    where = f"{page} page, {long_texts.get('checkpoint', 'default')} checkpoint" + (
        ", cloud mode" if long_texts.get("cloud") else ""
    )
    size = f"{long_texts.get('lines_per_text', 4)} x {long_texts.get('words_per_line', 400)} words"
    spread = long_texts.get("spread_from_5_mb")
    return [
        "",
        f"## Memory with long texts ({where}; {n} texts of {size}; MB: current RSS / peak RSS)",
        "",
        "| page loaded | "
        + " | ".join(f"after text {k}" for k in shown)
        + " | 5 s after the tab closed |"
        + (f" {SESSION_TTL + FIRST_WAIT + 10:.0f} s after (its session ended) |" if ended else ""),
        "|" + "---|" * len(cells),
        "| " + " | ".join(f"{c['rss_mb']:.0f} / {c['peak_mb']:.0f}" for c in cells) + " |",
        "",
        f"Growth from text 5 to text {n}: {long_texts['growth_5_to_last_mb']:.0f} MB; peak "
        f"{long_texts.get('peak_mb', cells[-1]['peak_mb']):.0f} MB (goal: flat within 100 MB: "
        + ("met" if long_texts["goal_met"] else "not met")
        + ")."
        + (
            f" From text 5 on the readings spread over {spread:.0f} MB (highest minus lowest)."
            if spread is not None
            else ""
        )
        + " Runs kept per process are bounded by the bytes of their arrays; runs they drop are "
        "freed in the background a few seconds after, or before the next run at the latest "
        "(explorer/ui/memory.py); Streamlit keeps a closed tab's session for "
        f"`server.disconnectedSessionTTL` ({SESSION_TTL} s).",
    ]


def overhead(repeats: int) -> dict:
    """The explorer's cost over raw transformers calls on the same inputs (median of repeats)."""
    import torch

    from explorer.pipeline import checkpoints
    from explorer.pipeline.encoding import encode_batch
    from explorer.pipeline.loading import load_checkpoint
    from explorer.pipeline.run import run_model

    loaded = load_checkpoint(checkpoints.resolve(checkpoints.MINILM))
    sentences = ["I've been waiting for a HuggingFace course my whole life.", "I hate this so much!"]
    tokenizer, model = loaded.tokenizer, loaded.model
    ours_encode, encoding = median_time(lambda: encode_batch(tokenizer, sentences, max_length=512), repeats)
    direct_encode, batch = median_time(
        lambda: tokenizer(sentences, padding=True, truncation=True, max_length=512, return_tensors="pt"),
        repeats,
    )

    def forward():
        with torch.inference_mode():
            return model(**batch)

    ours_run, _ = median_time(lambda: run_model(loaded, encoding), repeats)
    direct_run, _ = median_time(forward, repeats)
    ours_full, _ = median_time(
        lambda: run_model(loaded, encoding, hidden_states=True, attentions=True), repeats
    )
    return {
        "encode_ms": round(ours_encode * 1000, 3),
        "direct_tokenizer_ms": round(direct_encode * 1000, 3),
        "encode_ratio": round(ours_encode / direct_encode, 2),
        "run_ms": round(ours_run * 1000, 2),
        "direct_forward_ms": round(direct_run * 1000, 2),
        "run_ratio": round(ours_run / direct_run, 2),
        "run_with_hidden_states_and_attentions_ms": round(ours_full * 1000, 2),
    }


def page_latency(repeats: int) -> dict:
    """Each page in Chromium with the bundled encoder: first render, and from committing a new text
    until the page has settled, at 10 and 128 tokens (median and p95)."""
    import tempfile

    from conftest import CHROMIUM_ARGS, IDLE, chromium_path, serve
    from playwright.sync_api import sync_playwright
    from transformers import AutoTokenizer

    from explorer import ui
    from explorer.pipeline.checkpoints import minilm_folder

    tokenizer = AutoTokenizer.from_pretrained(str(minilm_folder()))
    pages = [spec for spec in ui.PAGES if spec.url_path not in ("lessons", "save-load")]
    results = {}
    log = Path(tempfile.mkdtemp()) / "streamlit.log"
    with serve(log) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        warm = browser.new_page()
        warm.goto(url)
        warm.locator("[data-testid='batch-grid']").wait_for(timeout=180_000)  # load the model once
        warm.close()
        for spec in pages:
            address = f"{url}/{'' if spec is ui.PAGES[0] else spec.url_path}"
            row = {}
            context = browser.new_context(viewport={"width": 1400, "height": 1600})
            page = context.new_page()
            started = time.perf_counter()
            page.goto(address)
            page.get_by_role(
                "heading", name=spec.title if spec is not ui.PAGES[0] else "Transformer Explorer"
            ).first.wait_for(timeout=180_000)
            page.wait_for_selector(IDLE, timeout=180_000)
            row["first_render_s"] = round(time.perf_counter() - started, 2)
            area = page.get_by_role("textbox", name="Your text: one sentence per line")
            for tokens in (10, 128):
                timings = []
                for attempt in range(repeats):
                    area.fill(text_of_tokens(tokenizer, tokens - attempt % 3) + f" {spec.url_path} {attempt}")
                    timings.append(commit_and_wait(page, area))
                ordered = sorted(timings)
                row[f"type_{tokens}_tokens_median_s"] = round(statistics.median(ordered), 2)
                row[f"type_{tokens}_tokens_p95_s"] = round(ordered[int(0.95 * (len(ordered) - 1))], 2)
            context.close()
            results[spec.title] = row
            print(f"page latency {spec.title}: {row}", flush=True)
        browser.close()
    return results


def attribution_times() -> dict:
    """bench/attributions.py: each method at 16 and 128 tokens on the bundled classifier and decoder."""
    from attributions import measure

    found = measure()
    for run in found["runs"]:
        print(f"attributions: {run['checkpoint']} {run['tokens']} tokens: {run['seconds']}", flush=True)
    return found


def task_sections(repeats: int) -> dict:
    """bench/tasks.py: each task section of the Pipeline page at 128 tokens, server and Chromium."""
    from tasks import measure

    return measure(repeats)


def versions() -> dict:
    from importlib import metadata

    return {
        name: metadata.version(name) for name in ("torch", "transformers", "streamlit", "plotly", "bertviz")
    }


def write_readme(results: dict) -> None:
    lines = [
        "# Benchmarks",
        "",
        f"Measured {results['date']} on {results['machine']} with Python {results['python']}; "
        + ", ".join(f"{k} {v}" for k, v in results["versions"].items())
        + ". Regenerate with `make bench`.",
        "",
        "## Overhead of the explorer over raw transformers calls (bundled MiniLM, 2 short sentences)",
        "",
        f"- encode_batch {results['overhead']['encode_ms']} ms vs tokenizer(...) {results['overhead']['direct_tokenizer_ms']} ms: "
        f"**{results['overhead']['encode_ratio']}x** (one tokenizer call that keeps offsets and token strings; only a sentence that fills the whole limit is tokenized again, untruncated, to count what was cut; goal 1.2x)",
        f"- run_model {results['overhead']['run_ms']} ms vs model(**inputs) {results['overhead']['direct_forward_ms']} ms: "
        f"**{results['overhead']['run_ratio']}x**; with hidden states and attentions kept as arrays: "
        f"{results['overhead']['run_with_hidden_states_and_attentions_ms']} ms",
        "",
        "## Attention views vs stock bertviz (bundled MiniLM, 6 layers x 12 heads)",
        "",
        "| tokens | Plotly heatmap (one head) | our bertviz head view | stock bertviz head_view | stock / ours (bytes) | stock / ours (time) | our head view shows |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in results["attention_views"]:
        lines.append(
            f"| {row['tokens']} | {row['plotly_heatmap_bytes'] / 1e6:.2f} MB, {row['plotly_heatmap_build_s'] * 1000:.0f} ms "
            f"| {row['our_head_view_bytes'] / 1e6:.2f} MB, {row['our_head_view_build_s'] * 1000:.0f} ms "
            f"| {row['stock_head_view_bytes'] / 1e6:.2f} MB, {row['stock_head_view_build_s'] * 1000:.0f} ms "
            f"| {row['bytes_ratio_stock_over_ours']}x | {row['time_ratio_stock_over_ours']}x | {row['our_head_view_shows']} |"
        )
    for row in results["attention_views"]:
        if row["tokens"] == 128 and "our_head_view_payload_bytes" in row:
            lines += [
                "",
                f"bertviz head view at 128 tokens: {row['our_head_view_tokens_drawn']} tokens and "
                f"{row['our_head_view_layers']} layers drawn, {row['weights_drawn']:,} of {row['weights_total']:,} "
                f"weights (those below the threshold are too faint to see), "
                f"{row['our_head_view_payload_bytes'] / 1e6:.2f} MB of attention data "
                f"({row['our_head_view_bytes'] / 1e6:.2f} MB with the inlined d3 and jQuery).",
            ]
    model = results.get("model_view_payload")
    if model:
        lines.append(
            f"bertviz model view at {model['tokens']} tokens: {model['layers']} layers, {model['tokens_drawn']} "
            f"tokens, {model['weights_drawn']:,} of {model['weights_total']:,} weights drawn, "
            f"{model['payload_bytes'] / 1e6:.2f} MB of attention data, built in {model['build_s'] * 1000:.0f} ms."
        )
    for key in ("browser_attention_page_128", "browser_attention_page"):
        browser = results.get(key)
        if not browser:
            continue
        p95 = f", p95 {browser['new_text_p95_s']} s" if "new_text_p95_s" in browser else ""
        lines += [
            "",
            f"## Attention page in Chromium at {browser['tokens']} tokens",
            "",
            f"- first visit to /attention on a fresh server (imports, model load, run, draw): {browser['first_visit_s']} s",
            f"- a new {browser['tokens']}-token text, from Ctrl+Enter until the page has run and drawn (heatmap "
            f"and bertviz): median {browser['new_text_median_s']} s{p95} "
            f"(runs: {', '.join(str(t) for t in browser['new_text_runs_s'])})",
        ]
    switch = results.get("browser_layer_head")
    if switch:
        lines += [
            f"- another layer or head at {switch['tokens']} tokens, from the click until its heatmap is drawn "
            f"(a fragment run: only the heatmap and step by step): layer median {switch['layer_median_s']} s, "
            f"p95 {switch['layer_p95_s']} s; head median {switch['head_median_s']} s, p95 {switch['head_p95_s']} s",
        ]
    decoder = results.get("decoder")
    if decoder:
        lines += [
            "",
            "## Bundled decoder (SmolLM2-135M-Instruct, float32, CPU)",
            "",
            f"- time to first token for a {decoder['prompt_tokens']}-token prompt: {decoder['time_to_first_token_s']} s",
            f"- {decoder['tokens_per_second']} tokens per second over {decoder['new_tokens']} new tokens "
            "(sampled, key/value cache; the page allows at most this many per click)",
        ]
    page = results.get("browser_decoder")
    if page:

        def spread(name: str) -> str:
            return f"median {page[name]['median_s']} s, p95 {page[name]['p95_s']} s"

        lines += [
            "",
            "The Generation page in Chromium with SmolLM2 (default settings: logit lens, causal-mask comparison "
            "and 'Why this next token?' are off until asked for), seconds until the page has settled "
            "(goals: typed 1.0, next token 0.5, Generate 10 1.5, switch back 2.0; measured while other "
            "programs shared the 2 cores, load average 3-10: one slow run sets the p95):",
            "",
            f"- first switch to SmolLM2 on a fresh server (its load): {page['first_switch_s']} s",
            f"- a new prompt, Ctrl+Enter until drawn: {spread('typed')}",
            f"- one 'Next token' click: {spread('next_token')}",
            f"- one 'Generate 10' click: {spread('generate_10')}",
            f"- switching back to SmolLM2 from MiniLM once loaded: {spread('switch_back')}",
            "",
            "Where the time went before (issue 21; the page's server time per click, same machine and load): "
            "the logit lens, recomputed on every rerun, was 70-85% of it (0.8-1.7 s of 1.2-2.2 s); a "
            "'Next token' click ran the model twice; and on busy cores PyTorch's spinning OpenMP threads "
            "made one SmolLM2 pass take 1.5-6.7 s instead of 0.12 s (20 tokens: 14-35 s instead of 1.7 s). "
            "Now the lens and the causal-mask comparison run when asked for, a click reuses the logits "
            "the page showed, and waiting threads sleep (OMP_WAIT_POLICY=PASSIVE, explorer/__init__.py).",
        ]
    latency = results.get("page_latency")
    if latency:
        lines += [
            "",
            "## Pages in Chromium (bundled MiniLM; seconds; median / p95 of several new texts)",
            "",
            "| page | first render | new text, 10 tokens | new text, 128 tokens |",
            "|---|---|---|---|",
        ]
        for title, row in latency.items():
            lines.append(
                f"| {title} | {row['first_render_s']} | {row['type_10_tokens_median_s']} / {row['type_10_tokens_p95_s']} "
                f"| {row['type_128_tokens_median_s']} / {row['type_128_tokens_p95_s']} |"
            )
    for key in ("long_text_memory", "long_text_memory_smollm2_cloud", "long_text_memory_layer"):
        if results.get(key):
            lines += long_text_lines(results[key])
    memory_results = results.get("memory")
    if memory_results:
        lines += [
            "",
            "## Memory of the app process (MB: current RSS / peak RSS)",
            "",
            "| mode | server started | bundled encoder loaded | after 10 texts | after 50 texts | both bundled models |",
            "|---|---|---|---|---|---|",
        ]
        for mode, m in memory_results.items():
            cells = [
                m["server_started"],
                m["bundled_encoder"],
                m["after_10_inputs"],
                m[next(k for k in m if k.startswith("after_") and k != "after_10_inputs")],
                m["both_bundled_models"],
            ]
            lines.append(
                f"| {mode} | " + " | ".join(f"{c['rss_mb']:.0f} / {c['peak_mb']:.0f}" for c in cells) + " |"
            )
        lines.append("")
        lines.append(
            "Cloud mode keeps fewer models and runs in its caches (explorer/deployment.py); Streamlit "
            "Community Cloud's largest tier has 2.7 GB."
        )
    if results.get("tasks"):
        from tasks import markdown as tasks_table  # bench/tasks.py

        lines += ["", tasks_table(results["tasks"])]
    if results.get("attributions"):
        from attributions import markdown as attribution_table  # bench/attributions.py

        lines += [
            "",
            "## Why this prediction? Each attribution method (one sentence; goal: Integrated Gradients at 16 tokens under 2 s)",
            "",
            attribution_table(results["attributions"]),
        ]
    # `make load` keeps its own block between these markers (bench/load.py): carried over as it is.
    existing = README.read_text() if README.is_file() else ""
    begin, end = "<!-- load -->", "<!-- /load -->"
    if begin in existing and end in existing:
        lines += ["", existing[existing.index(begin) : existing.index(end) + len(end)]]
    lines.append("")
    README.write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one repeat each (a smoke run)")
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="SECTION",
        help="measure only these sections (e.g. tasks memory) and keep the others from results.json",
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    repeats = 1 if args.quick else 5
    sections = {
        "overhead": lambda: overhead(30 if not args.quick else 5),
        "attention_views": lambda: attention_views(repeats),
        "browser_attention_page": lambda: browser_attention_page(repeats=1 if args.quick else 3),
        "browser_attention_page_128": lambda: browser_attention_page(
            tokens=128, repeats=2 if args.quick else 5
        ),
        "browser_layer_head": lambda: browser_layer_head(repeats=2 if args.quick else 7),
        "model_view_payload": model_view_payload,
        "decoder": lambda: decoder(repeats),
        "browser_decoder": lambda: browser_decoder(repeats=2 if args.quick else 7),
        "memory": lambda: memory(10 if args.quick else 50),
        "long_text_memory": lambda: long_text_memory(5 if args.quick else 20),
        # the case reported in issue 22 (eight ~700-word texts), and the layer page
        "long_text_memory_smollm2_cloud": lambda: long_text_memory(
            5 if args.quick else 20, case="attention_smollm2_cloud"
        ),
        "long_text_memory_layer": lambda: long_text_memory(5 if args.quick else 10, case="layer"),
        "page_latency": lambda: page_latency(3 if args.quick else 7),
        "tasks": lambda: task_sections(2 if args.quick else 7),
        "attributions": attribution_times,
    }
    unknown = set(args.only or ()) - set(sections)
    if unknown:
        parser.error(f"no such section: {', '.join(sorted(unknown))} (sections: {', '.join(sections)})")
    results = json.loads(RESULTS.read_text()) if args.only and RESULTS.is_file() else {}
    results.update(
        {
            "date": datetime.date.today().isoformat(),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
            "python": platform.python_version(),
            "versions": versions(),
        }
    )
    results.pop("browser_next_token", None)  # replaced by browser_decoder
    for name, measure in sections.items():
        if not args.only or name in args.only:
            results[name] = measure()
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    write_readme(results)
    print(README.read_text())


if __name__ == "__main__":
    main()

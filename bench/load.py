"""`make load`: a classroom against one app process on this machine, loopback only, bounded.

30 simulated students (browser contexts of one headless Chromium, driven concurrently) each open a
page (Pipeline, Tokenizer lab or Attention, in turn) and type three sentences of their own; we time
each sentence from Ctrl+Enter until that student's page shows it, count errors, and check that no
page ever shows another student's words. Writes bench/load.json and appends to bench/README.md.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

STUDENTS = 30
ROUNDS = 3
DEADLINE_S = 600  # the whole run stops by itself after this
# Each student's own word. Only words the bundled MiniLM keeps whole (one token) are used, so
# that the word itself appears on the page (an 'aardvark' would show as 'aa ##rd ##var ##k').
CANDIDATES = (
    "badger camel eagle tiger lion horse sheep goat mouse rabbit wolf bear fox deer duck goose swan owl "
    "frog snake shark whale dolphin monkey zebra panda otter beaver donkey cobra falcon parrot spider"
).split()
WORDS: list[str] = []


def whole_words(count: int) -> list[str]:
    from transformers import AutoTokenizer

    from explorer.checkpoints import minilm_folder

    tokenizer = AutoTokenizer.from_pretrained(str(minilm_folder()))
    words = [w for w in CANDIDATES if tokenizer.tokenize(w) == [w]]
    if len(words) < count:
        raise SystemExit(f"only {len(words)} one-token words for {count} students")
    return words[:count]


PAGES = ("", "tokenizer", "attention")
# True once the page's token chips or charts contain the word (JavaScript, run in the page).
SHOWS_WORD = """word => [...document.querySelectorAll("[data-testid='token-chips'], .js-plotly-plot")]
    .some(element => element.textContent.includes(word))"""


async def student(browser, url: str, index: int, results: list, problems: list) -> None:
    from conftest import IDLE

    word = WORDS[index]
    others = [w for w in WORDS if w != word]
    context = await browser.new_context(viewport={"width": 1200, "height": 1000})
    page = await context.new_page()
    try:
        await page.goto(f"{url}/{PAGES[index % len(PAGES)]}", timeout=300_000)
        # like a student, wait until the page has drawn its content before typing
        await page.locator("[data-testid='token-chips'], .js-plotly-plot").first.wait_for(timeout=300_000)
        await page.wait_for_selector(IDLE, timeout=300_000)
        area = page.get_by_role("textbox", name="Your text: one sentence per line")
        for round_ in range(ROUNDS):
            sentence = f"The {word} went to class number {round_ + 1}"
            await area.fill(sentence)
            started = time.perf_counter()
            await area.press("Control+Enter")
            await page.wait_for_function(
                SHOWS_WORD,
                arg=word,
                polling=250,  # a timer, not animation frames: those pause in pages in the background
                timeout=240_000,
            )
            await page.wait_for_selector(IDLE, timeout=300_000)
            results.append(time.perf_counter() - started)
            shown = (await page.content()).lower()
            leaked = [w for w in others if f">{w}<" in shown or f" {w} " in shown]
            if leaked:
                problems.append(f"student {index} saw {leaked[:3]}")
    except Exception as error:  # counted, reported; the run goes on
        problems.append(f"student {index}: {type(error).__name__}: {str(error).splitlines()[0][:120]}")
    finally:
        await context.close()


async def classroom(url: str) -> dict:
    from conftest import CHROMIUM_ARGS, chromium_path
    from playwright.async_api import async_playwright

    results: list[float] = []
    problems: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        started = time.perf_counter()
        tasks = [student(browser, url, i, results, problems) for i in range(STUDENTS)]
        try:
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=DEADLINE_S)
        except TimeoutError:
            problems.append(f"stopped at the {DEADLINE_S} s deadline")
        elapsed = time.perf_counter() - started
        await browser.close()
    ordered = sorted(results)
    return {
        "students": STUDENTS,
        "sentences_each": ROUNDS,
        "sentences_done": len(results),
        "seconds": round(elapsed, 1),
        "throughput_sentences_per_s": round(len(results) / elapsed, 2),
        "latency_median_s": round(statistics.median(ordered), 2) if ordered else None,
        "latency_p95_s": round(ordered[int(0.95 * (len(ordered) - 1))], 2) if ordered else None,
        "errors": [p for p in problems if "saw" not in p],
        "sessions_that_saw_another_students_text": [p for p in problems if "saw" in p],
    }


def main() -> None:
    from conftest import serve

    WORDS.extend(whole_words(STUDENTS))
    log = Path(tempfile.mkdtemp()) / "streamlit.log"
    with serve(log) as url:
        report = asyncio.run(classroom(url))
    (ROOT / "bench" / "load.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

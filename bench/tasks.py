"""`make bench`, the task sections of the Pipeline page (issue 19): for each task, typed -> drawn
in Chromium at 128 tokens (median and p95), and the server's own time to build the section.

Checkpoints: the bundled MiniLM (feature extraction, real weights), the NER model fine-tuned here
(`saved:minilm-ner`, when built), and MiniLM with an untrained question-answering, multiple-choice
or NLI head, written here into a temporary folder: the same size and speed as a trained head of
that kind (the numbers they print mean nothing; only the time is measured).

Run alone: `.venv/bin/python bench/tasks.py [--quick]`; bench/run.py calls :func:`measure`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(ROOT / "bench"))

TOKENS = 128
NLI_LABELS = {0: "contradiction", 1: "neutral", 2: "entailment"}


def _untrained_heads(folder: Path) -> dict[str, str]:
    """MiniLM with an untrained QA, multiple-choice and NLI head: {task: checkpoint ref}."""
    import torch
    from transformers import (
        AutoModelForMultipleChoice,
        AutoModelForQuestionAnswering,
        AutoModelForSequenceClassification,
        AutoTokenizer,
    )

    from explorer.pipeline.checkpoints import local_ref, minilm_folder

    base = str(minilm_folder())
    torch.manual_seed(0)
    heads = {
        "question-answering": (AutoModelForQuestionAnswering, {}),
        "multiple-choice": (AutoModelForMultipleChoice, {}),
        "zero-shot-classification": (
            AutoModelForSequenceClassification,
            {"id2label": NLI_LABELS, "label2id": {v: k for k, v in NLI_LABELS.items()}},
        ),
    }
    refs = {}
    tokenizer = AutoTokenizer.from_pretrained(base)
    for task, (auto, extra) in heads.items():
        target = folder / task
        auto.from_pretrained(base, **extra).save_pretrained(target)
        tokenizer.save_pretrained(target)
        refs[task] = local_ref(str(target))
    return refs


def _checkpoints(folder: Path) -> dict[str, tuple[str, dict[str, str]]]:
    """{task: (checkpoint ref, the link's task inputs)} for every task with a section."""
    from explorer.pipeline import checkpoints

    found = {"feature-extraction": (checkpoints.MINILM, {"labels": "sports, politics, science"})}
    ner = checkpoints.classifier_folder().parent / "minilm-ner"  # saved checkpoints live side by side
    if (ner / "config.json").is_file():
        found["token-classification"] = ("saved:minilm-ner", {"aggregation": "simple"})
    heads = _untrained_heads(folder)
    found["question-answering"] = (heads["question-answering"], {"question": "Where do I work?"})
    found["multiple-choice"] = (
        heads["multiple-choice"],
        {"choices": "it was wonderful|it was terrible|it was about cooking"},
    )
    found["zero-shot-classification"] = (
        heads["zero-shot-classification"],
        {"labels": "education, politics, business"},
    )
    return found


def _percentiles(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "median_s": round(statistics.median(ordered), 3),
        "p95_s": round(ordered[int(0.95 * (len(ordered) - 1))], 3),
        "runs": len(ordered),
    }


def server_build(ref: str, inputs: dict[str, str], text: str, repeats: int) -> dict[str, float]:
    """encode -> run_model -> the task's section, in this process (what one rerun computes)."""
    from explorer.pipeline import checkpoints, tasks
    from explorer.pipeline.encoding import encode_batch
    from explorer.pipeline.loading import load_checkpoint
    from explorer.pipeline.run import run_model
    from explorer.views.tasks import build_section

    loaded = load_checkpoint(checkpoints.resolve(ref))
    task_inputs = tasks.TaskInputs(
        **{k: (v if k != "multi_label" else v == "true") for k, v in inputs.items()}
    )
    times = []
    for attempt in range(repeats + 1):
        started = time.perf_counter()
        encoding = encode_batch(loaded.batch_tokenizer, [f"{text} {attempt}"], max_length=loaded.max_tokens)
        run = run_model(loaded, encoding)
        build_section(loaded, encoding, run, task_inputs)
        if attempt:  # the first call warms caches (e.g. the embedding map's bundled vectors)
            times.append(time.perf_counter() - started)
    return _percentiles(times)


def _embedding_map_note() -> str:
    """How long the embedding map's bundled sentence vectors take, once per checkpoint and server."""
    from explorer.pipeline import checkpoints
    from explorer.pipeline.loading import load_checkpoint
    from explorer.pipeline.tasks import feature_extraction as fe
    from explorer.views.tasks import feature_extraction as fe_view

    loaded = load_checkpoint(checkpoints.resolve(checkpoints.MINILM))
    found = fe_view.bundled_vectors(loaded, fe.pooling_for(loaded))
    return (
        f"The embedding map embeds the {len(found.texts)} bundled sentences once per checkpoint and "
        f"server process: {found.seconds:.1f} s on the bundled MiniLM; every later view reuses them."
    )


def measure(repeats: int = 7) -> dict:
    """Server and browser timings of every task section at TOKENS tokens."""
    from conftest import CHROMIUM_ARGS, IDLE, chromium_path, serve
    from playwright.sync_api import sync_playwright
    from run import commit_and_wait, text_of_tokens
    from transformers import AutoTokenizer

    from explorer.pipeline.checkpoints import minilm_folder

    tokenizer = AutoTokenizer.from_pretrained(str(minilm_folder()))
    folder = Path(tempfile.mkdtemp(prefix="bench-tasks-"))
    found = _checkpoints(folder)
    results: dict[str, dict] = {}
    for task, (ref, inputs) in found.items():
        text = text_of_tokens(tokenizer, TOKENS)
        results[task] = {"checkpoint": ref.split("/")[-1], "server": server_build(ref, inputs, text, repeats)}
        print(f"tasks: {task} server {results[task]['server']}", flush=True)
    notes = [_embedding_map_note()]
    print(f"tasks: {notes[0]}", flush=True)
    log = folder / "streamlit.log"
    with serve(log) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        for task, (ref, inputs) in found.items():
            context = browser.new_context(viewport={"width": 1400, "height": 1600})
            page = context.new_page()
            query = "ckpt=" + quote(ref, safe=":/") + "&" + urlencode(inputs)
            started = time.perf_counter()
            page.goto(f"{url}/?{query}")
            page.get_by_role("heading", name="③ Postprocessing", exact=False).first.wait_for(timeout=180_000)
            page.wait_for_selector(IDLE, timeout=180_000)
            first = round(time.perf_counter() - started, 2)
            area = page.get_by_role("textbox", name="Your text: one sentence per line")
            timings = []
            for attempt in range(repeats):
                area.fill(text_of_tokens(tokenizer, TOKENS - attempt % 3) + f" {attempt}")
                timings.append(commit_and_wait(page, area))
            page.get_by_role("heading", name="③ Postprocessing", exact=False).first.wait_for(timeout=30_000)
            results[task]["browser"] = {"first_render_s": first, **_percentiles(timings)}
            print(f"tasks: {task} browser {results[task]['browser']}", flush=True)
            context.close()
        browser.close()
    return {"tokens": TOKENS, "tasks": results, "notes": notes}


def markdown(found: dict) -> str:
    """The README block: one row per task."""
    lines = [
        f"## Task sections of the Pipeline page ({found['tokens']} tokens; seconds, median / p95)",
        "",
        "Goal: each section ≤ 1 s typed → drawn. QA, multiple choice and zero-shot run MiniLM under an "
        "untrained head (the same size and speed as a trained one); NER is the model `make models` fine-tunes.",
        "",
        "| task | checkpoint | server: encode + run + section | Chromium: typed → drawn | first render |",
        "|---|---|---|---|---|",
    ]
    for task, row in found["tasks"].items():
        server, browser = row["server"], row.get("browser", {})
        drawn = f"{browser['median_s']} / {browser['p95_s']}" if browser else "not measured"
        lines.append(
            f"| {task} | {row['checkpoint']} | {server['median_s']} / {server['p95_s']} | {drawn} "
            f"| {browser.get('first_render_s', '')} |"
        )
    for note in found.get("notes", ()):
        lines += ["", note]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="two repeats each (a smoke run)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    print(measure(2 if args.quick else 7))


if __name__ == "__main__":
    main()

"""Time of each attribution method ("Why this prediction?") at 16 and 128 tokens on the bundled
classifier and the bundled decoder. ``measure() -> dict`` for bench/run.py, ``markdown(results)``
for bench/README.md; ``python bench/attributions.py`` prints both.

Integrated Gradients is timed as the app runs it: steps doubled from attribution.FIRST_STEPS until
the completeness error is under 5% (or the step cap), so its time includes every step count tried;
the steps used and the error reached are reported beside it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LENGTHS = (16, 128)


def _text(tokenizer, tokens: int, specials: int) -> str:
    from explorer.explain.tokenizer_lab import sample_corpus

    corpus = " ".join([sample_corpus().replace("\n", " ")] * 8)
    ids = tokenizer(corpus, add_special_tokens=False)["input_ids"][: tokens - specials]
    return tokenizer.decode(ids)


def _one(loaded, tokens: int) -> dict:
    from explorer.explain import attribution as at
    from explorer.pipeline.encoding import encode_batch

    tokenizer = loaded.batch_tokenizer
    specials = len(tokenizer("a")["input_ids"]) - len(tokenizer("a", add_special_tokens=False)["input_ids"])
    encoding = at.row(
        encode_batch(tokenizer, [_text(tokenizer, tokens, specials)], max_length=loaded.max_tokens), 0
    )
    if loaded.head_class == "AutoModelForSequenceClassification":
        target = at.classifier_target(loaded, encoding, None)
    else:
        target = at.token_target(loaded, encoding, at.last_position(encoding), None, "next token")
    started = time.perf_counter()
    result = at.compute(loaded, encoding, target, at.BASELINES[0], at.usable(loaded, at.OCCLUSIONS[0]))
    total = time.perf_counter() - started
    c = result.completeness
    return {
        "checkpoint": loaded.resolved.label,
        "tokens": int(encoding.attention_mask.sum()),
        "seconds": {name: round(s, 3) for name, s in result.seconds.items()},
        "total_seconds": round(total, 3),
        "ig_steps": c.steps,
        "ig_steps_tried": [steps for steps, _ in c.history],
        "ig_relative_error": c.relative_error,
        "ig_converged": c.converged,
        "words_occluded": len(result.word_texts),
    }


def measure() -> dict:
    """{"runs": [one dict per checkpoint and length]}: each method's seconds, IG's steps and error."""
    from explorer.pipeline import checkpoints
    from explorer.pipeline.loading import load_checkpoint

    runs = []
    for ref in (checkpoints.default_ref(), checkpoints.SMOLLM2):
        loaded = load_checkpoint(checkpoints.resolve(ref))
        _one(loaded, 16)  # warm-up: first calls allocate
        for tokens in LENGTHS:
            runs.append(_one(loaded, tokens))
    return {"runs": runs}


def markdown(results: dict) -> str:
    """A table for bench/README.md."""
    lines = [
        "| checkpoint | tokens | Integrated Gradients (s) | steps tried → used | completeness error | "
        "Gradient × input (s) | Occlusion (s) | attention + rollout (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in results["runs"]:
        s = run["seconds"]
        tried = ", ".join(str(n) for n in run["ig_steps_tried"])
        error = f"{run['ig_relative_error']:.2%}" + ("" if run["ig_converged"] else " (not under 5%)")
        lines.append(
            f"| {run['checkpoint']} | {run['tokens']} | {s['Integrated Gradients']:.2f} | {tried} → "
            f"{run['ig_steps']} | {error} | {s['Gradient × input']:.2f} | {s['Occlusion']:.2f} | "
            f"{s['attention']:.2f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    found = measure()
    print(markdown(found))

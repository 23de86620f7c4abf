"""Multiple choice: a ``*ForMultipleChoice`` head scores choices as continuations of a prompt.

transformers has no multiple-choice pipeline; this is what the course's SWAG example does:

1. each sentence of the batch is a prompt; the prompt, repeated once per choice, is paired with
   each choice: ``tokenizer([prompt] * C, choices, truncation=True, padding=True)``, one
   [C, S] block per prompt, stacked into input_ids of shape [B, C, S];
2. the model reads every (prompt, choice) row and its head gives one logit per row: [B, C];
3. softmax over the C choices of each prompt (they compete); the best choice is the largest.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np

from explorer.drawing.render import probability_bars_html
from explorer.pipeline import postprocess
from explorer.pipeline import run as runner
from explorer.pipeline.tasks import TaskInputs
from explorer.pipeline.tasks.zero_shot import PairChips, encode_pairs, layout_note, pair_chips
from explorer.views.common import Note, Table, shown_sentence, table
from explorer.views.tokenizer import code_span

SEPARATOR = "|"
# Choices scored per prompt: the batch is [B, C, S], so 8 sentences × 16 choices = 128 rows of the
# model's limit; SWAG has 4 choices, and more than 16 no longer fits a readable bar chart.
MAX_CHOICES = 16
EXAMPLE = "Now it is finally here. | So I will never take it. | The sky is blue."
NAMES = ("prompt", "choice")


@dataclass(frozen=True, kw_only=True)
class PromptScores:
    """One prompt against every choice."""

    prompt: str  # as typed (cut for display after 300 characters)
    best: Note  # the winning choice and its probability
    bars_html: str  # choices best first, with their probabilities (escaped)
    choices: Table  # one row per choice, in the order typed: logit, probability
    chips: tuple[PairChips, ...]  # every (prompt, choice) row as the model receives it


@dataclass(frozen=True, kw_only=True)
class View:
    """Step ③ of the Pipeline page for a multiple-choice checkpoint."""

    notes: tuple[Note, ...]  # what was done with the choices as typed (caps, problems)
    steps: tuple[Note, ...]  # prompt × choices -> [B, C, S] -> logits [B, C] -> softmax over C
    layout: Note | None  # how this tokenizer joins prompt and choice (token_type_ids or not)
    prompts: tuple[PromptScores, ...]


def parse_choices(text: str) -> tuple[tuple[str, ...], tuple[Note, ...]]:
    """The choices typed between "|", stripped, empty ones dropped, repeats counted once, at most
    MAX_CHOICES; and what was done, as notes (a refusal leaves no choices)."""
    found = [part.strip() for part in (text or "").split(SEPARATOR) if part.strip()]
    choices = tuple(dict.fromkeys(found))
    notes = []
    if len(choices) < len(found):
        notes.append(Note("caption", f"{len(found) - len(choices)} repeated choice(s) counted once."))
    if not choices:
        return (), (
            *notes,
            Note(
                "info",
                f"Type the choices separated by `{SEPARATOR}`, e.g. {code_span(EXAMPLE)}: each sentence in the "
                "sidebar is a prompt, and the model scores each choice as its continuation.",
            ),
        )
    if len(choices) == 1:
        return (), (
            *notes,
            Note(
                "warning",
                f"Only one choice ({code_span(choices[0])}): multiple choice needs at least two to compare. "
                f"Separate them with `{SEPARATOR}`, e.g. {code_span(EXAMPLE)}.",
            ),
        )
    if len(choices) > MAX_CHOICES:
        notes.append(
            Note(
                "warning",
                f"{len(choices)} choices: only the first {MAX_CHOICES} are scored (each one is another row of "
                "the batch for every prompt).",
            )
        )
        choices = choices[:MAX_CHOICES]
    return choices, tuple(notes)


def choice_batch(loaded: Any, prompts: tuple[str, ...], choices: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The model's inputs, each [B, C, S] int64: every prompt repeated beside every choice."""
    B, C = len(prompts), len(choices)
    firsts = [prompt for prompt in prompts for _ in choices]  # [B * C], choices vary fastest
    encoded = encode_pairs(
        loaded.batch_tokenizer, firsts, list(choices) * B, loaded.max_tokens, "longest_first"
    )
    return {
        name: np.array(encoded[name], dtype=np.int64).reshape(B, C, -1)  # [B, C, S]
        for name in ("input_ids", "attention_mask", "token_type_ids")
        if name in encoded
    }


def _cut_notes(loaded: Any, prompts: tuple[str, ...], choices: tuple[str, ...]) -> list[Note]:
    """Which (prompt, choice) rows truncation shortened to the model's limit."""
    tokenizer = loaded.batch_tokenizer
    notes = []
    for b, prompt in enumerate(prompts):
        full = tokenizer([prompt] * len(choices), list(choices), truncation=False)["input_ids"]
        longest = max(len(ids) for ids in full)
        if longest > loaded.max_tokens:
            notes.append(
                Note(
                    "warning",
                    f"Prompt {b} with its longest choice is {longest:,} tokens: truncation cut it to the "
                    f"model's limit of {loaded.max_tokens} (the longer of the two texts loses tokens first).",
                )
            )
    return notes


def _steps(loaded: Any, B: int, C: int, shape: tuple[int, ...]) -> tuple[Note, ...]:
    S = shape[-1]
    return (
        Note(
            "markdown",
            f"**Rows.** Each of the {B} sentence(s) is a prompt, repeated beside each of the {C} choices: "
            f"`tokenizer([prompt] * {C}, choices, truncation=True, padding=True)` gives one [{C}, {S}] block "
            f"per prompt, stacked into `input_ids` of shape **[{B}, {C}, {S}]** (prompts, choices, tokens).",
        ),
        Note(
            "markdown",
            f"**Logits.** `{loaded.model_class}` reads all {B * C} rows and its head gives one logit per "
            f"(prompt, choice) row: `logits` of shape **[{B}, {C}]**.",
        ),
        Note(
            "markdown",
            f"**Probabilities.** For each prompt, a softmax over its {C} logits: the choices compete and "
            "their probabilities add up to 1; the best choice has the largest logit.",
        ),
    )


def _prompt(
    loaded: Any,
    prompt: str,
    choices: tuple[str, ...],
    logits: np.ndarray,
    probabilities: np.ndarray,
    accepts_types: bool,
) -> PromptScores:
    """One prompt: logits [C] and probabilities [C]."""
    order = np.argsort(-probabilities, kind="stable")  # [C] best first
    best = int(order[0])
    rows = [
        {
            "choice": choice,
            "logit": round(float(logits[c]), 4),
            "probability": round(float(probabilities[c]), 4),
        }
        for c, choice in enumerate(choices)
    ]
    return PromptScores(
        prompt=shown_sentence(prompt),
        best=Note(
            "markdown", f"Best choice: {code_span(choices[best])} (probability {probabilities[best]:.3f})."
        ),
        bars_html=probability_bars_html(
            [choices[c] for c in order], [float(probabilities[c]) for c in order]
        ),
        choices=table(rows, index="choice"),
        chips=tuple(
            PairChips(
                caption=f"Row {c}: the prompt + {code_span(choice)}",
                html=pair_chips(loaded, prompt, choice, accepts_types, "longest_first", NAMES),
            )
            for c, choice in enumerate(choices)
        ),
    )


def build(loaded: Any, encoding: Any, run: Any, inputs: TaskInputs) -> View:
    """Step ③ for a multiple-choice checkpoint: each sentence of ``encoding`` as a prompt."""
    prompts = tuple(encoding.sentences)
    choices, notes = parse_choices(inputs.choices)
    if not choices:
        return View(notes=notes, steps=(), layout=None, prompts=())
    notes = (*notes, *_cut_notes(loaded, prompts, choices))
    batch = choice_batch(loaded, prompts, choices)  # each [B, C, S]
    logits = runner.task_forward(loaded, batch, ("logits",))["logits"]  # [B, C]
    probabilities = postprocess.apply("softmax", logits)  # [B, C]
    accepts_types = "token_type_ids" in inspect.signature(loaded.model.forward).parameters
    B, C = logits.shape
    # The layout is shown on a prompt and a choice that have tokens (a zero-width space has none).
    counts = loaded.batch_tokenizer([*prompts, *choices], add_special_tokens=False)["input_ids"]
    first = next((b for b in range(B) if counts[b]), 0)
    shown = next((c for c in range(C) if counts[B + c]), 0)
    return View(
        notes=notes,
        steps=_steps(loaded, B, C, batch["input_ids"].shape),
        layout=layout_note(loaded, prompts[first], choices[shown], accepts_types, NAMES),
        prompts=tuple(
            _prompt(loaded, prompts[b], choices, logits[b], probabilities[b], accepts_types) for b in range(B)
        ),
    )

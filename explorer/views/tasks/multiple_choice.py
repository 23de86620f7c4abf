"""Step ③ of the Pipeline page for a multiple-choice head: what
:mod:`explorer.pipeline.tasks.multiple_choice` computes, said and drawn (notes, bars, token chips)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from explorer.drawing.render import probability_bars_html
from explorer.pipeline.tasks import TaskInputs
from explorer.pipeline.tasks import multiple_choice as mc
from explorer.pipeline.tasks.multiple_choice import EXAMPLE, MAX_CHOICES, SEPARATOR
from explorer.views.common import Note, Table, shown_sentence, table
from explorer.views.tasks.zero_shot import PairChips, layout_note, list_notes, pair_chips
from explorer.views.tokenizer import code_span

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
    parsed = mc.parse_choices(text)
    choices = parsed.items
    notes = list_notes(  # the cap's note only comes with two or more choices (MAX_CHOICES > 1)
        parsed,
        MAX_CHOICES,
        repeated="{repeated} repeated choice(s) counted once.",
        capped="{typed} choices: only the first {cap} are scored (each one is another row of the batch for "
        "every prompt).",
    )
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
    return choices, tuple(notes)


def _cut_notes(loaded: Any, cut: tuple[tuple[int, int], ...]) -> list[Note]:
    """Which (prompt, choice) rows truncation shortened to the model's limit."""
    return [
        Note(
            "warning",
            f"Prompt {b} with its longest choice is {longest:,} tokens: truncation cut it to the "
            f"model's limit of {loaded.max_tokens} (the longer of the two texts loses tokens first).",
        )
        for b, longest in cut
    ]


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
    result = mc.score(loaded, prompts, choices)
    B, C = result.logits.shape
    first, shown = mc.shown_pair(loaded, prompts, choices)
    return View(
        notes=(*notes, *_cut_notes(loaded, result.cut)),
        steps=_steps(loaded, B, C, result.batch["input_ids"].shape),
        layout=layout_note(loaded, prompts[first], choices[shown], result.accepts_types, NAMES),
        prompts=tuple(
            _prompt(
                loaded, prompts[b], choices, result.logits[b], result.probabilities[b], result.accepts_types
            )
            for b in range(B)
        ),
    )

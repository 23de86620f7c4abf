"""Multiple choice: a ``*ForMultipleChoice`` head scores choices as continuations of a prompt.

transformers has no multiple-choice pipeline; this is what the course's SWAG example does:

1. each sentence of the batch is a prompt; the prompt, repeated once per choice, is paired with
   each choice: ``tokenizer([prompt] * C, choices, truncation=True, padding=True)``, one
   [C, S] block per prompt, stacked into input_ids of shape [B, C, S];
2. the model reads every (prompt, choice) row and its head gives one logit per row: [B, C];
3. softmax over the C choices of each prompt (they compete); the best choice is the largest.

The computation only: what step ③ of the Pipeline page says and draws of it is
:mod:`explorer.views.tasks.multiple_choice`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from explorer.pipeline import postprocess
from explorer.pipeline import run as runner
from explorer.pipeline.tasks.zero_shot import ParsedList, accepts_token_types, encode_pairs, split_list

SEPARATOR = "|"
# Choices scored per prompt: the batch is [B, C, S], so 8 sentences × 16 choices = 128 rows of the
# model's limit; SWAG has 4 choices, and more than 16 no longer fits a readable bar chart.
MAX_CHOICES = 16
EXAMPLE = "Now it is finally here. | So I will never take it. | The sky is blue."


@dataclass(frozen=True, kw_only=True)
class Choices:
    """Every prompt scored against every choice."""

    batch: dict[str, np.ndarray]  # the model's inputs, each [B, C, S] int64
    logits: np.ndarray  # [B, C] one logit per (prompt, choice) row
    probabilities: np.ndarray  # [B, C] softmax over the C choices of each prompt
    accepts_types: bool  # the model's forward reads token_type_ids
    cut: tuple[tuple[int, int], ...]  # (prompt, tokens of its longest row) for rows truncation cut


def parse_choices(text: str) -> ParsedList:
    """The choices typed between "|", stripped, empty ones dropped, repeats counted once, at most
    MAX_CHOICES."""
    return split_list(text, SEPARATOR, MAX_CHOICES)


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


def cut_rows(loaded: Any, prompts: tuple[str, ...], choices: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    """(prompt, tokens of its longest row) for each prompt whose rows truncation shortens."""
    tokenizer = loaded.batch_tokenizer
    found = []
    for b, prompt in enumerate(prompts):
        full = tokenizer([prompt] * len(choices), list(choices), truncation=False)["input_ids"]
        longest = max(len(ids) for ids in full)
        if longest > loaded.max_tokens:
            found.append((b, longest))
    return tuple(found)


def score(loaded: Any, prompts: tuple[str, ...], choices: tuple[str, ...]) -> Choices:
    """Each prompt against each choice: the batch [B, C, S], logits and probabilities [B, C]."""
    batch = choice_batch(loaded, prompts, choices)  # each [B, C, S]
    logits = runner.task_forward(loaded, batch, ("logits",))["logits"]  # [B, C]
    return Choices(
        batch=batch,
        logits=logits,
        probabilities=postprocess.apply("softmax", logits),  # [B, C]
        accepts_types=accepts_token_types(loaded),
        cut=cut_rows(loaded, prompts, choices),
    )


def shown_pair(loaded: Any, prompts: tuple[str, ...], choices: tuple[str, ...]) -> tuple[int, int]:
    """(prompt, choice) that have tokens, to show the layout on (a zero-width space has none)."""
    B, C = len(prompts), len(choices)
    counts = loaded.batch_tokenizer([*prompts, *choices], add_special_tokens=False)["input_ids"]
    return next((b for b in range(B) if counts[b]), 0), next((c for c in range(C) if counts[B + c]), 0)

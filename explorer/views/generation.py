"""Generation: the next token, generation step by step, the causal mask, the logit lens, and the
masked language model's fill-mask and masking recipe."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from explorer.generation import MAX_NEW_TOKENS
from explorer.settings import setting

MODES = ("greedy (most likely)", "sampling")


@dataclass(frozen=True)
class Settings:
    PREFIX: ClassVar[str] = "gen"

    chat: bool = setting("bool", "Apply the chat template", False, widget="toggle")
    temperature: float = setting(
        "float",
        "temperature",
        1.0,
        widget="slider",
        low=0.1,
        high=2.0,
        step=0.1,
        help="Logits are divided by the temperature: below 1 sharpens, above 1 flattens.",
    )
    top_k: int = setting(
        "int", "top-k (0 = off)", 0, widget="slider", high=100, help="Keep only the k most likely tokens."
    )
    top_p: float = setting(
        "float",
        "top-p",
        1.0,
        widget="slider",
        low=0.05,
        high=1.0,
        step=0.05,
        help="Keep the fewest tokens whose probabilities add up to p (nucleus sampling).",
    )
    mode: str = setting("choice", "Choose the next token by", MODES[0], choices=MODES, widget="radio")
    seed: int = setting("int", "seed", 0, widget="number", high=2**31 - 1)
    count: int = setting(
        "int",
        "tokens",
        10,
        widget="slider",
        low=1,
        high=MAX_NEW_TOKENS,
        linked=False,
        help=f"At most {MAX_NEW_TOKENS} per click, so one request cannot keep the server busy for long.",
    )
    mask_seed: int = setting("int", "seed for the recipe", 0, widget="number", high=2**31 - 1, linked=False)

"""Tokenizer lab: tokens, the course's tokenizer steps, padding, truncation, pairs, families."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from explorer.settings import setting

PADDING = ("longest", "max_length", "do_not_pad")
VOCAB_SIZES = (100, 300, 1000, 3000)


@dataclass(frozen=True)
class Settings:
    PREFIX: ClassVar[str] = "tok"

    padding: str = setting(
        "choice", "padding", "longest", choices=PADDING, help="tokenizer(..., padding=...)"
    )
    truncation: bool = setting("bool", "truncation", True, widget="toggle")
    # None: the model's own limit (known only once the checkpoint is loaded).
    max_length: int | None = setting(
        "int", "max_length", None, widget="number", low=2, high=8192, step=1, per_checkpoint=True
    )
    side: str = setting("choice", "padding side", "right", choices=("right", "left"), widget="radio")
    pairs: str = setting(
        "str",
        "Second sentences: line N pairs with line N of the text box",
        "",
        widget="text_area",
        help="For tasks on two sentences (question + passage, premise + hypothesis). Leave empty for single sentences.",
    )
    step_sentence: int = setting("int", "Sentence", 0, high=10_000, linked=False)
    family_text: str = setting(
        "str", "Text to tokenize", "Tokenization of transformerification", widget="text_input", linked=False
    )
    corpus: str = setting(
        "str",
        "Training text (leave empty for the sample text written for this app)",
        "",
        widget="text_area",
        linked=False,
    )
    vocab: int = setting(
        "choice",
        "Vocabulary size of the trained tokenizers",
        300,
        choices=VOCAB_SIZES,
        widget="select_slider",
        linked=False,
    )

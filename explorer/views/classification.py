"""Classification: logits -> the head's function -> labels, checked against pipeline(), and a
classifier fine-tuned here, offline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from explorer.settings import setting

SOURCES = ("Sentences written for this app", "Upload a CSV")
LEARNING_RATES = (1e-5, 2e-5, 5e-5, 1e-4)


@dataclass(frozen=True)
class Settings:
    PREFIX: ClassVar[str] = "cls"

    source: str = setting(
        "choice", "Training data", SOURCES[0], choices=SOURCES, widget="radio", linked=False
    )
    epochs: int = setting("int", "Epochs", 3, widget="slider", low=1, high=5, linked=False)
    lr: float = setting(
        "choice", "Learning rate", 5e-5, choices=LEARNING_RATES, widget="select_slider", linked=False
    )
    name: str = setting("str", "Save as", "my-classifier", widget="text_input", linked=False)

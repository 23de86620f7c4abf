"""Inside the model: the config, hidden states layer by layer, and what each head class returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from explorer.settings import setting


@dataclass(frozen=True)
class Settings:
    PREFIX: ClassVar[str] = "model"

    sentence: int = setting("int", "Sentence", 0, high=64)

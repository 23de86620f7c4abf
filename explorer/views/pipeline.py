"""The home page: the course's whole pipeline on one screen, tokenizer -> model -> postprocessing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class Settings:
    """The home page has no settings of its own: it shows the sidebar's text and checkpoint."""

    PREFIX: ClassVar[str] = "home"

"""Attention: heatmaps per layer and head, bertviz views offline, and attention step by step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from explorer.settings import setting

AGGREGATES = ("head", "head average", "layer average")
BERTVIZ = ("head view", "model view", "off")


@dataclass(frozen=True)
class Settings:
    PREFIX: ClassVar[str] = "att"

    sentence: int = setting("int", "Sentence", 0, high=64)
    layer: int = setting("int", "Layer", 0, high=1000)
    head: int = setting("int", "Head", 0, high=1000)
    aggregate: str = setting("choice", "Show", "head", choices=AGGREGATES, widget="radio", url="show")
    hide_special: bool = setting("bool", "Hide special tokens", False, widget="toggle")
    show_padding: bool = setting("bool", "Show padding positions", True, widget="toggle", url="padding")
    bertviz: str = setting("choice", "View", "head view", choices=BERTVIZ, widget="radio")
    window: int = setting("int", "Window start (token)", 0, widget="slider", linked=False)

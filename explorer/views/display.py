"""The display settings every page shares (the sidebar's *Display* box), declared once like a
page's settings: Large text's widget label, its session-state key and its link parameter
(``large=1``), so a link or a reload keeps a projector's text size."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from explorer.views.settings import link_params, setting, state_key


@dataclass(frozen=True)
class Settings:
    PREFIX: ClassVar[str] = "display"
    large: bool = setting(
        "bool",
        "Large text (for a projector)",
        False,
        widget="toggle",
        help="Larger text and charts for a room; carried by the page's link (large=1), so a reload keeps it.",
    )


LARGE_KEY = state_key(Settings, "large")  # "display.large"
PARAMS = link_params(Settings)  # what every page's link carries besides its own settings

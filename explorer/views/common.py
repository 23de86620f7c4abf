"""Pieces every View is made of: notes (a sentence with its kind) and tables (rows of plain
values). Figures are Plotly figures from explorer.figures; HTML fragments come from
explorer.render and are escaped there."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

NoteKind = Literal["info", "success", "warning", "error", "caption", "markdown"]


@dataclass(frozen=True)
class Note:
    """One sentence (Markdown) the page shows, and how: a coloured box, a caption or plain text."""

    kind: NoteKind
    text: str


@dataclass(frozen=True)
class Table:
    """A static table: one dict per row (column -> value), and which column is the index."""

    rows: tuple[dict[str, Any], ...]
    index: str | list[str] | None = None  # a list makes a multi-level index

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.rows[0]) if self.rows else ()


def table(rows: list[dict[str, Any]], index: str | list[str] | None = None) -> Table:
    return Table(tuple(rows), index)

"""Pieces every View is made of: notes (a sentence with its kind) and tables (rows of plain
values). Figures are Plotly figures from explorer.drawing.figures; HTML fragments come from
explorer.drawing.render and are escaped there."""

from __future__ import annotations

from collections.abc import Callable
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


@dataclass(frozen=True, kw_only=True)
class Download:
    """One download button: its label, what it saves (a string, or a function that makes it only
    when the button is pressed), the file's name and type, and the widget key."""

    label: str
    data: str | Callable[[], str]
    file_name: str
    mime: str
    key: str = ""


_MIME_TYPES = {"CSV": "text/csv", "JSON": "application/json"}


def download(
    kind: Literal["CSV", "JSON"], what: str, data: str | Callable[[], str], *, stem: str, key: str
) -> Download:
    """The button "Download <what> (<kind>)", saving ``<stem>.csv`` or ``<stem>.json``."""
    return Download(
        label=f"Download {what} ({kind})",
        data=data,
        file_name=f"{stem}.{kind.lower()}",
        mime=_MIME_TYPES[kind],
        key=key,
    )


def csv_and_json(
    what: str,
    *,
    stem: str,
    key: str,
    csv_data: str | Callable[[], str],
    json_data: str | Callable[[], str],
) -> tuple[Download, Download]:
    """Both buttons for one thing, CSV first; their keys are ``<key>.csv`` and ``<key>.json``."""
    return (
        download("CSV", what, csv_data, stem=stem, key=f"{key}.csv"),
        download("JSON", what, json_data, stem=stem, key=f"{key}.json"),
    )


MAX_SHOWN_CHARACTERS = 300  # a longer sentence is cut above its chips (the chips show every token)


def shown_sentence(sentence: str) -> str:
    """A sentence as a page prints it above its tokens: cut after MAX_SHOWN_CHARACTERS."""
    if len(sentence) <= MAX_SHOWN_CHARACTERS:
        return sentence
    return sentence[:MAX_SHOWN_CHARACTERS] + f"… ({len(sentence):,} characters)"


def table(rows: list[dict[str, Any]], index: str | list[str] | None = None) -> Table:
    return Table(tuple(rows), index)


@dataclass(frozen=True, kw_only=True)
class JobProgress:
    """What every fine-tuning job's live view shows; a page's ProgressView adds its own parts."""

    fraction: float  # of the steps done, 0…1
    text: str  # status, step and time
    message: Note | None
    can_stop: bool
    loss: Any | None  # the loss curve (Plotly figure), once there is a loss
    evaluations: Table | None  # per epoch: the validation scores and loss
    batches: Table | None  # the first training batches: lengths before padding, padded shape
    finished: bool
    saved: Note | None  # where the new checkpoint is, when training is done
    saved_ref: str | None  # its reference in the checkpoint picker

"""What a View holds, for tests that check every sentence a page shows: its Notes and its strings,
found by walking the nested frozen dataclasses, tuples, lists and dicts it is made of."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from explorer.views.common import Note


def _leaves(value: object, whole: tuple[type, ...] = ()) -> Iterator[object]:
    """Every value inside ``value``, depth first; instances of ``whole`` are not looked into."""
    if isinstance(value, whole):
        yield value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            yield from _leaves(getattr(value, field.name), whole)
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _leaves(item, whole)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item, whole)
    else:
        yield value


def notes(view: object) -> list[Note]:
    """Every Note inside the View."""
    return [value for value in _leaves(view, (Note,)) if isinstance(value, Note)]


def note_texts(view: object) -> list[str]:
    """The text of every Note inside the View."""
    return [note.text for note in notes(view)]


def strings(view: object) -> list[str]:
    """Every string inside the View (sentences, table cells, labels)."""
    return [value for value in _leaves(view) if isinstance(value, str)]

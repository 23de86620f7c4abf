"""Shareable links: which settings a link carries, and turning them into URL query parameters and
back, with every value checked (a link is user input). Pure functions; explorer.ui applies them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast
from urllib.parse import quote, urlencode

Kind = Literal["str", "int", "float", "bool", "choice"]
MAX_TEXT_IN_LINK = 1_500  # characters of URL-encoded text; longer texts are left out of the link
MAX_VALUE = 200  # characters of any other value


@dataclass(frozen=True, kw_only=True)
class Param:
    """One setting a link carries: the URL name, the session-state key and how to read it."""

    name: str  # in the URL, e.g. "layer"
    key: str  # widget key; "{ref}" is replaced by the checkpoint reference
    kind: Kind
    choices: tuple[str, ...] = ()  # for kind "choice"
    low: float = 0  # for int / float
    high: float = 1_000_000

    def key_for(self, ref: str) -> str:
        return self.key.replace("{ref}", ref)

    def read(self, raw: str) -> object:
        """The typed value of ``raw``; ValueError when it is not acceptable."""
        if len(raw) > (MAX_TEXT_IN_LINK * 4 if self.kind == "str" else MAX_VALUE):
            raise ValueError("too long")
        if self.kind == "str":
            return raw
        if self.kind == "bool":
            if raw not in ("0", "1", "true", "false"):
                raise ValueError("not 0 or 1")
            return raw in ("1", "true")
        if self.kind == "choice":
            if raw not in self.choices:
                raise ValueError(f"not one of {', '.join(self.choices)}")
            return raw
        value = int(raw) if self.kind == "int" else float(raw)
        if not (self.low <= value <= self.high) or value != value:  # NaN is not in range either
            raise ValueError(f"not between {self.low:g} and {self.high:g}")
        return value

    def write(self, value: object) -> str:
        if self.kind == "bool":
            return "1" if value else "0"
        if self.kind == "float":
            return f"{float(cast(float, value)):g}"  # a float setting's value is a number
        return str(value)


def decode(
    query: Mapping[str, str], params: tuple[Param, ...], ref: str
) -> tuple[dict[str, object], list[str]]:
    """Session-state updates from a link's query parameters, and what was wrong with the rest.
    Two params may share a name (keys are page-prefixed: 'padding' is a choice on the tokenizer
    page and on/off on the attention page): a value is taken by every param that can read it, and
    said to be wrong, once, only when none can."""
    updates: dict[str, object] = {}
    taken: set[str] = set()
    wrong: dict[str, str] = {}
    for param in params:
        if param.name not in query:
            continue
        try:
            updates[param.key_for(ref)] = param.read(query[param.name])
            taken.add(param.name)
        except ValueError as error:
            wrong.setdefault(param.name, f"'{param.name}' in the link is {error}; it was ignored.")
    return updates, [problem for name, problem in wrong.items() if name not in taken]


@dataclass(frozen=True)
class Link:
    query: str  # the URL query string (no '?')
    note: str | None  # what the link leaves out, for the user


def encode(state: Mapping[Any, object], params: tuple[Param, ...], ref: str) -> Link:
    """The query string for the current settings; the text is left out when it is too long."""
    values, note = {}, None
    for param in params:
        key = param.key_for(ref)
        if key not in state or state[key] is None:
            continue
        value = param.write(state[key])
        if param.kind == "str" and len(urlencode({param.name: value})) > MAX_TEXT_IN_LINK:
            note = (
                f"The text is too long for a link ({len(value):,} characters); the link carries the other "
                "settings. Share the text separately, or shorten it."
            )
            continue
        values[param.name] = value
    return Link(urlencode(values), note)


def href(url_path: str, ref: str, text: str, state: Mapping[Any, object], params: tuple[Param, ...]) -> str:
    """A relative link that opens the page at ``url_path`` with checkpoint ``ref``, the sidebar's
    ``text`` and the settings in ``state`` (session-state keys, as :func:`encode` reads them): the
    query the share box writes (``ckpt=…&text=…&…``). A text too long for a link is left out."""
    text_param = Param(name="text", key="href.text", kind="str")  # a key no page setting has
    link = encode({**state, text_param.key: text}, (text_param, *params), ref)
    query = "ckpt=" + quote(ref, safe=":/") + ("&" + link.query if link.query else "")
    return f"{url_path}?{query}"

"""Page settings, declared once (LIT's typed specs): each field of a page's frozen ``Settings``
dataclass carries a :class:`Setting` in its metadata, and everything else is made from it:

- the widget (label, help, range, choices, kind of control) in ``explorer.ui.widgets``;
- the shared link's query parameter and its validation (:func:`link_params`);
- the session-state key (:func:`state_key`), so lesson presets (:func:`presets`) and the page
  read the same value.

Pure Python: no Streamlit here.

Example::

    @dataclass(frozen=True)
    class Settings:
        PREFIX: ClassVar[str] = "att"
        layer: int = setting("int", "Layer", 0, high=1000, widget="selectbox")

    Settings.PREFIX + ".layer" is the widget's key; ``?layer=3`` in a link sets it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol

from explorer.views.links import Kind, Param

Widget = Literal[
    "selectbox", "radio", "toggle", "slider", "select_slider", "number", "text_area", "text_input"
]


@dataclass(frozen=True, kw_only=True)
class Setting:
    """One page setting: what its widget, its link parameter and its presets need."""

    kind: Kind  # the value's type: "str", "int", "float", "bool" or "choice"
    label: str  # the widget's label
    default: Any
    widget: Widget = "selectbox"
    choices: tuple[Any, ...] = ()  # for "choice" (and select_slider's steps)
    low: float = 0  # for int / float: the range a link may set
    high: float = 1_000_000
    step: float | None = None  # for sliders / number inputs
    help: str | None = None
    url: str = ""  # name in a shared link ("" = the field's name)
    linked: bool = True  # carried by a shared link
    per_checkpoint: bool = False  # one value per checkpoint (e.g. max_length)
    height: int | None = None  # for text areas: pixels
    name: str = ""  # the Settings field; filled in by specs()

    @property
    def url_name(self) -> str:
        return self.url or self.name

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is a valid value of this setting (a link or preset may be wrong)."""
        if self.kind == "bool":
            return isinstance(value, bool)
        if self.kind == "str":
            return isinstance(value, str)
        if self.kind == "choice":
            return value in self.choices
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return self.low <= value <= self.high


def setting(kind: Kind, label: str, default: Any, **options: Any) -> Any:
    """A dataclass field holding its :class:`Setting` (use as the field's default)."""
    spec = Setting(kind=kind, label=label, default=default, **options)
    return dataclasses.field(default=default, metadata={"setting": spec})


class SettingsClass(Protocol):
    PREFIX: ClassVar[str]


def specs(cls: type) -> tuple[Setting, ...]:
    """The settings of a Settings class, in declaration order, each knowing its field name."""
    return tuple(
        dataclasses.replace(f.metadata["setting"], name=f.name)
        for f in dataclasses.fields(cls)
        if "setting" in f.metadata
    )


def spec(cls: type, name: str) -> Setting:
    for one in specs(cls):
        if one.name == name:
            return one
    raise KeyError(f"{cls.__qualname__} has no setting '{name}'")


def state_key(cls: type[Any], name: str, ref: str = "") -> str:
    """The session-state (and widget) key of one setting, e.g. "att.layer"."""
    one = spec(cls, name)
    key = f"{cls.PREFIX}.{name}"
    return f"{key}.{ref}" if one.per_checkpoint else key


def link_params(cls: type[Any]) -> tuple[Param, ...]:
    """The settings a shared link carries, as link parameters ("{ref}" marks per-checkpoint keys)."""
    return tuple(
        Param(
            name=one.url_name,
            key=f"{cls.PREFIX}.{one.name}" + (".{ref}" if one.per_checkpoint else ""),
            kind=one.kind,
            choices=tuple(str(c) for c in one.choices) if one.kind == "choice" else (),
            low=one.low,
            high=one.high,
        )
        for one in specs(cls)
        if one.linked
    )


def from_state(cls: type[Any], state: Mapping[Any, Any], ref: str = "", **overrides: Any) -> Any:
    """The page's Settings from session state; missing or invalid values fall back to defaults."""
    values = {}
    for one in specs(cls):
        value = overrides.get(one.name, state.get(state_key(cls, one.name, ref), one.default))
        values[one.name] = value if one.accepts(value) else one.default
    return cls(**values)


def presets(settings: Any, ref: str = "") -> dict[str, Any]:
    """Session-state entries that make a page open with ``settings`` (for lesson steps). Every
    setting is written, defaults included, so a step also undoes what a student changed before."""
    cls = type(settings)
    return {state_key(cls, one.name, ref): getattr(settings, one.name) for one in specs(cls)}

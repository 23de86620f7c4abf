"""Save and load: save_pretrained, the files it writes, and from_pretrained giving the same outputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from explorer.settings import setting


@dataclass(frozen=True)
class Settings:
    PREFIX: ClassVar[str] = "save"

    # None: a name made from the checkpoint's label (see build()).
    name: str | None = setting(
        "str",
        "Save as (in this app's checkpoint folder)",
        None,
        widget="text_input",
        per_checkpoint=True,
        linked=False,
    )

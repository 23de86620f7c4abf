"""Step ③ of the Pipeline page for the tasks with a module of their own: the task's inputs (the
page's settings it reads) and its View, drawn by ``explorer.ui.task_views.<module>.draw``."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

import streamlit as st

from explorer.ui.widgets import widget


def task_section(settings_cls: type, view: Any, inputs: Sequence[str]) -> None:
    """The task's input widgets, then its section (nothing when the task has no section)."""
    if view is None:
        return
    if inputs:
        for name, column in zip(inputs, st.columns(len(inputs)), strict=True):
            widget(settings_cls, name, where=column)
    module = type(view).__module__.rsplit(".", 1)[-1]  # explorer.views.tasks.<module>
    importlib.import_module(f"explorer.ui.task_views.{module}").draw(view)

"""Step ③ of the Pipeline page for the tasks with a module of their own: one module per task of
:mod:`explorer.pipeline.tasks` (which computes), each with a frozen ``View`` and ``build(loaded,
encoding, run, inputs)`` that says and draws the numbers (sentences, tables, figures)."""

from __future__ import annotations

import importlib
from typing import Any

from explorer.pipeline import tasks


def build_section(loaded: Any, encoding: Any, run: Any, inputs: tasks.TaskInputs) -> Any | None:
    """Step ③'s section for the checkpoint's task: ``explorer.views.tasks.<module>.build(loaded,
    encoding, run, inputs)`` (a frozen View the page draws), or None for tasks whose step ③ is the
    Pipeline view's own predictions (classification, generation, fill-mask, text-to-text)."""
    task = tasks.task_for(loaded.head_class, loaded.config)
    if not task.module:
        return None
    return importlib.import_module(f"explorer.views.tasks.{task.module}").build(loaded, encoding, run, inputs)

"""Draw explorer.views.tasks.multiple_choice.View: step ③ of the Pipeline page for a multiple-choice head."""

from __future__ import annotations

from explorer.ui.task_views.zero_shot import draw_scored
from explorer.ui.widgets import note, notes
from explorer.views.tasks.multiple_choice import View


def draw(view: View) -> None:
    notes(view.notes)
    if not view.prompts:
        return
    notes(view.steps)
    note(view.layout)
    for b, prompt in enumerate(view.prompts):
        draw_scored(
            f"Prompt {b}",
            prompt.prompt,
            best=prompt.best,
            bars_html=prompt.bars_html,
            details="its rows and logits",
            chips=prompt.chips,
            rows=prompt.choices,
        )

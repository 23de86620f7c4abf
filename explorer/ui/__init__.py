"""The only Streamlit code of explorer/, split by concern and re-exported so pages read ``ui.x``:

- state: the shared sidebar (checkpoint, text, display) and its session-state keys;
- routing: the router, early stops, user-facing errors;
- sharing: shareable links in and out;
- cache: cached loads and runs (keyed by the checkpoint's files), page_data();
- widgets: widgets made from a view's Settings, charts, tables;
- lessons: the guided lesson's flow and banner.

The page registry and the link schema need no Streamlit: explorer.app.registry, explorer.views.links.
"""

from explorer.app.registry import PAGES, PageSpec
from explorer.ui.cache import (
    PageData,
    load,
    next_sentence_model,
    page_data,
    pipeline,
    random_model,
    tokenizer,
    trained_tokenizer,
)
from explorer.ui.lessons import (
    LESSON_GOTO_KEY,
    LESSON_KEPT_KEY,
    LESSON_STEP_KEY,
    end_lesson,
    go_to_pending_page,
    lesson_banner,
    start_step,
)
from explorer.ui.routing import (
    ensure_routed,
    navigation,
    page_file,
    page_router,
    page_spec,
    selection,
    show_error,
    stop,
)
from explorer.ui.sharing import apply_link, share_box
from explorer.ui.state import (
    DEFAULT_TEXT,
    FOLDER_KEY,
    HUB_ID_KEY,
    LARGE_KEY,
    PICK_KEY,
    SELECTION_KEY,
    TEXT_KEY,
    Selection,
    read_sentences,
    sidebar,
    use_checkpoint,
)
from explorer.ui.widgets import chart, download, note, notes, sentence_picker, settings, table, widget

__all__ = [
    "DEFAULT_TEXT",
    "FOLDER_KEY",
    "HUB_ID_KEY",
    "LARGE_KEY",
    "LESSON_GOTO_KEY",
    "LESSON_KEPT_KEY",
    "LESSON_STEP_KEY",
    "PAGES",
    "PICK_KEY",
    "SELECTION_KEY",
    "TEXT_KEY",
    "PageData",
    "PageSpec",
    "Selection",
    "apply_link",
    "chart",
    "download",
    "end_lesson",
    "ensure_routed",
    "go_to_pending_page",
    "lesson_banner",
    "load",
    "navigation",
    "next_sentence_model",
    "note",
    "notes",
    "page_data",
    "page_file",
    "page_router",
    "page_spec",
    "pipeline",
    "random_model",
    "read_sentences",
    "selection",
    "sentence_picker",
    "settings",
    "share_box",
    "show_error",
    "sidebar",
    "start_step",
    "stop",
    "table",
    "tokenizer",
    "trained_tokenizer",
    "use_checkpoint",
    "widget",
]

# Inside the model's two comparisons, cached per checkpoint and first two lines.
from explorer.ui.cache import mask_effect, random_comparison  # noqa: E402

__all__ += ["mask_effect", "random_comparison"]

# Fragments (st.fragment) keep the browser's URL in step with the settings they change.
from explorer.ui.widgets import keep_link_current, training_job  # noqa: E402

__all__ += ["keep_link_current", "training_job"]

# "Why this prediction?": token attributions (Classification and Generation pages).
from explorer.ui.attribution import attribution_section  # noqa: E402

__all__ += ["attribution_section"]

# Step ③ for the tasks with a module of their own (feature extraction, NER, zero-shot, QA, …).
from explorer.ui.tasks import task_section  # noqa: E402

__all__ += ["task_section"]

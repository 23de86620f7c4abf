"""Widgets made from a view's Settings (each setting declared once, in explorer/views), charts,
and small shared controls."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

from explorer.drawing import figures
from explorer.drawing.render import markdown_literal, readable
from explorer.pipeline.encoding import Encoding
from explorer.ui.state import IMAGE_FORMAT_KEY, LARGE_KEY
from explorer.views import settings as specs
from explorer.views.common import Download, Note, Table, shown_sentence


def widget(
    cls: type,
    name: str,
    *,
    ref: str = "",
    where: Any = None,
    options: Sequence[Any] | None = None,
    default: Any = None,
    format_func: Callable[[Any], str] | None = None,
    disabled: bool = False,
    **overrides: Any,
) -> Any:
    """Draw the widget of setting ``name`` of the Settings class ``cls`` and return its value.

    ``options`` gives choices known only at run time (a model's layers); ``default`` a default
    known only at run time (the model's max_length); ``overrides`` change other fields of the
    Setting for this draw (low, high, label, help)."""
    spec = dataclasses.replace(specs.spec(cls, name), **overrides)
    key = specs.state_key(cls, name, ref)
    fallback = spec.default if default is None else default
    choices = list(options) if options is not None else list(spec.choices)
    if key not in st.session_state or st.session_state[key] is None:
        st.session_state[key] = fallback
    elif spec.widget in ("selectbox", "radio", "select_slider") and st.session_state[key] not in choices:
        st.session_state[key] = fallback if fallback in choices else choices[0]
    elif spec.kind in ("int", "float") and spec.widget in ("slider", "number"):
        value = st.session_state[key]
        if not spec.low <= value <= spec.high:
            st.session_state[key] = min(max(value, spec.low), spec.high)
    place = where or st
    common = {"key": key, "help": spec.help, "disabled": disabled}
    if spec.widget == "selectbox":
        return place.selectbox(spec.label, choices, format_func=format_func or str, **common)
    if spec.widget == "radio":
        return place.radio(spec.label, choices, horizontal=True, format_func=format_func or str, **common)
    if spec.widget == "select_slider":
        return place.select_slider(spec.label, choices, format_func=format_func or str, **common)
    if spec.widget == "toggle":
        return place.toggle(spec.label, **common)
    if spec.widget in ("slider", "number"):
        cast = int if spec.kind == "int" else float
        bounds = {"min_value": cast(spec.low), "max_value": cast(spec.high)}
        if spec.step is not None:
            bounds["step"] = cast(spec.step)
        draw = place.slider if spec.widget == "slider" else place.number_input
        return draw(spec.label, **bounds, **common)
    if spec.widget == "text_area":
        return place.text_area(spec.label, height=spec.height, **common)
    return place.text_input(spec.label, **common)


def settings(cls: type[Any], ref: str = "", **overrides: Any) -> Any:
    """The page's frozen Settings as its widgets left them (defaults where none was drawn)."""
    return specs.from_state(cls, st.session_state, ref, **overrides)


def chart(figure, key: str, filename: str | None = None, where=None) -> None:
    """Every chart goes through here: readable sizes (larger fonts in projector mode, heatmap rows
    as tall as their labels), and the toolbar's camera saves it as PNG or SVG (the sidebar's
    choice) under a useful file name."""
    figures.readable(figure, large=bool(st.session_state.get(LARGE_KEY)))
    config = {
        "toImageButtonOptions": {
            "format": st.session_state.get(IMAGE_FORMAT_KEY, "png"),
            "filename": filename or key.replace(".", "-"),
            "scale": 2,
        },
        "displaylogo": False,
    }
    (where or st).plotly_chart(figure, key=key, config=config)


def sentence_caption(encoding: Encoding, b: int) -> str:
    """The picked sentence as it reads now (markdown-escaped, invisible characters shown), for the
    caption under the picker: rebuilt each run from the current text."""
    return f"Sentence {b}: “{markdown_literal(readable(shown_sentence(encoding.sentences[b])))}”"


def sentence_picker(cls: type, encoding: Encoding, name: str = "sentence") -> int:
    """Which sentence of the batch a view shows (no control when there is only one). The options
    are labelled by number only: a picker keeps the label its value had when picked, so a sentence
    in it would go stale when the text changes; the caption under it quotes the current sentence."""
    if len(encoding.sentences) == 1:
        return 0
    b = widget(
        cls,
        name,
        options=range(len(encoding.sentences)),
        format_func=lambda i: f"Sentence {i}",
    )
    st.caption(sentence_caption(encoding, int(b)))
    return b


def table(view_table: Table, where=None) -> None:
    """Draw a view's Table. st.table reads each cell as Markdown, so text cells (tokens, the user's
    sentences) go through markdown_literal: a token ``-`` stays a dash, not a bullet list."""
    import pandas as pd

    rows = [
        {k: markdown_literal(v) if isinstance(v, str) else v for k, v in row.items()}
        for row in view_table.rows
    ]
    frame = pd.DataFrame(rows)
    if view_table.index is not None and not frame.empty:
        frame = frame.set_index(view_table.index)
    (where or st).table(frame)


def note(view_note: Note | None, where=None) -> None:
    """Draw a view's Note (nothing for None)."""
    if view_note is None:
        return
    place = where or st
    if view_note.kind == "markdown":
        place.markdown(view_note.text)
    elif view_note.kind == "caption":
        place.caption(view_note.text)
    else:
        getattr(place, view_note.kind)(view_note.text)


def notes(view_notes: Sequence[Note], where=None) -> None:
    for one in view_notes:
        note(one, where)


def download(view_download: Download, where=None) -> None:
    """Draw a view's Download as a download button."""
    (where or st).download_button(
        view_download.label,
        view_download.data,
        file_name=view_download.file_name,
        mime=view_download.mime,
        key=view_download.key or None,
    )


def keep_link_current(url_path: str) -> None:
    """Inside a fragment (``st.fragment``): keep the browser's URL in step with the settings its
    widgets just changed, as ``share_box`` does after every full run (a fragment rerun does not
    reach it). The link shown in the sidebar's 'Share this view' box updates on the next full run."""
    from explorer.app.registry import PAGES
    from explorer.ui.sharing import sync_link

    sync_link(next(page for page in PAGES if page.url_path == url_path))


def live_job(prefix: str, draw: Callable[[Any], bool]) -> None:
    """The job this session started (session key ``{prefix}.job``), drawn by ``draw(job)``, which
    returns whether it finished. Redrawn every second only while the job runs (an idle timer would
    rerun it, and send its messages, every second in every open session); when it finishes, the
    whole app reruns once (``{prefix}.announced``) so the checkpoint picker lists what it saved."""
    job_key, announced_key = f"{prefix}.job", f"{prefix}.announced"

    def fragment() -> None:
        if (job := st.session_state.get(job_key)) is None:
            return
        if draw(job) and not st.session_state.get(announced_key):
            st.session_state[announced_key] = True
            st.rerun(scope="app")

    running = st.session_state.get(job_key) is not None and not st.session_state.get(announced_key)
    st.fragment(run_every=1.0 if running else None)(fragment)()


def training_job(prefix: str, *, details: bool) -> None:
    """A fine-tuning job started by this session (see :func:`live_job`): its progress, and with
    ``details`` its Stop button, loss curve, padded batches, evaluations and held-out test."""
    from explorer.views.classification import training_progress

    def draw(job: Any) -> bool:
        shown = training_progress(job)
        st.progress(shown.fraction, text=shown.text)
        note(shown.message)
        if details:
            if shown.can_stop and st.button("Stop", key=f"{prefix}.stop"):
                job.stop()
            if shown.loss is not None:
                chart(shown.loss, key=f"{prefix}.loss")
            if shown.batches:
                st.caption(shown.batches_caption)
                table(shown.batches)
            if shown.evaluations:
                table(shown.evaluations)
            note(shown.test)
        if shown.comparison:
            st.subheader(shown.comparison_title)
            table(shown.comparison)
        return shown.finished

    live_job(prefix, draw)

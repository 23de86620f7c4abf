"""Session state shared by every page, and the sidebar that sets it (checkpoint, text, display)."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from explorer.errors import ExplorerError
from explorer.pipeline import checkpoints
from explorer.pipeline.encoding import Sentences, split_sentences
from explorer.views import display
from explorer.views.settings import spec

DEFAULT_TEXT = "I've been waiting for a HuggingFace course my whole life.\nI hate this so much!"

# Session-state keys shared by every page (set by the sidebar widgets).
TEXT_KEY = "shared.text"
PICK_KEY = "shared.checkpoint"
HUB_ID_KEY = "shared.hub_id"
FOLDER_KEY = "shared.local_folder"
SELECTION_KEY = "shared.selection"
LARGE_KEY = display.LARGE_KEY  # declared once, with its link parameter, in explorer/views/display.py
IMAGE_FORMAT_KEY = "display.image_format"
LARGE_FONT_PX = 20
# Streamlit sizes text in rem: a larger root font scales the whole page for a projector.
_LARGE_TEXT_CSS = f"<style>html {{ font-size: {LARGE_FONT_PX}px; }}</style>"
# Streamlit leaves 6rem above a page's title; 3rem still clears its toolbar, and the page's main
# chart comes up by as much (above the fold at 1024x768).
_PAGE_CSS = '<style>[data-testid="stMainBlockContainer"] { padding-top: 3rem; }</style>'


@dataclass(frozen=True)
class Selection:
    """What the sidebar says: the text and the checkpoint reference (or why there is none)."""

    text: str
    ref: str | None
    error: str | None


def keep(key: str, default: object) -> None:
    """Widget values survive page switches only while the widget is drawn on every run; seeding
    session state once keeps the user's choice even across runs where it is hidden."""
    if key not in st.session_state:
        st.session_state[key] = default


def sidebar() -> Selection:
    """Draw the shared checkpoint picker and text box; return what they select."""
    keep(TEXT_KEY, DEFAULT_TEXT)
    default = checkpoints.default_ref()  # the default classifier once built, else the bundled encoder
    keep(PICK_KEY, default)
    keep(HUB_ID_KEY, "")
    keep(FOLDER_KEY, "")
    keep(LARGE_KEY, False)
    keep(IMAGE_FORMAT_KEY, "png")
    entries = {entry.ref: entry for entry in checkpoints.catalog()}
    if st.session_state[PICK_KEY] not in entries:
        st.session_state[PICK_KEY] = default
    with st.sidebar:
        pick = st.selectbox(
            "Checkpoint",
            options=list(entries),
            format_func=lambda ref: entries[ref].label,
            key=PICK_KEY,
        )
        st.caption(entries[pick].description)
        ref: str | None = pick
        error: str | None = None
        try:
            if pick == checkpoints.OTHER_HUB.ref:
                typed = st.text_input(
                    "Hub model id", key=HUB_ID_KEY, placeholder="google-bert/bert-base-cased"
                )
                ref = checkpoints.hub_ref(typed)
            elif pick == checkpoints.LOCAL_FOLDER.ref:
                typed = st.text_input("Folder path", key=FOLDER_KEY, placeholder="/path/to/checkpoint")
                ref = checkpoints.local_ref(typed)
        except ExplorerError as problem:
            ref, error = None, str(problem)
        text = st.text_area(
            "Your text: one sentence per line",
            key=TEXT_KEY,
            height=140,
            help="Each line is one sentence of the batch. Press Ctrl+Enter (or click outside) to apply.",
        )
        with st.expander("Display"):
            large = spec(display.Settings, "large")
            st.toggle(large.label, key=LARGE_KEY, help=large.help)
            st.radio(
                "Save charts as",
                ["png", "svg"],
                horizontal=True,
                key=IMAGE_FORMAT_KEY,
                help="The camera icon above each chart downloads it in this format.",
            )
            st.caption("Light or dark theme: the ⋮ menu at the top right.")
    st.html(_PAGE_CSS + (_LARGE_TEXT_CSS if st.session_state.get(LARGE_KEY) else ""))
    selection = Selection(text=text, ref=ref, error=error)
    st.session_state[SELECTION_KEY] = selection
    return selection


def use_checkpoint(ref: str) -> None:
    """Button callback: switch the shared checkpoint picker to ``ref``."""
    st.session_state[PICK_KEY] = ref


def read_sentences(text: str) -> Sentences:
    """The text box as a batch; raises InputError (shown by the caller) when it is empty."""
    return split_sentences(text)

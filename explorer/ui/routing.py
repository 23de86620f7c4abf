"""The router: one st.Page per page of explorer.app.registry, early stops, and user-facing errors."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import streamlit as st

from explorer.app.registry import PAGES, PageSpec
from explorer.ui.state import SELECTION_KEY, Selection

ROOT = Path(__file__).resolve().parents[2]


def page_file(path: str) -> str:
    """A page's file as an absolute path, so the router works whichever entry file runs it
    (streamlit_app.py, or cloud/streamlit_app.py on Community Cloud)."""
    return str(ROOT / path)


# Streamlit serves the default page at "/" only, yet reserves its url_path: the home page's own name
# ("/pipeline", typed by hand or read off the page's title) showed "Page not found". The default
# reserves this unused name instead, and a hidden page serves the home page at its name too.
HOME_RESERVED = "home"


def navigation():
    """The app's router: one st.Page per PageSpec, the first being the home page (at "/", and at
    its url_path through a hidden copy that the menu does not list)."""
    home = PAGES[0]
    pages = [
        st.Page(
            page_file(page.path),
            title=page.title,
            icon=page.icon,
            url_path=HOME_RESERVED if i == 0 else page.url_path,
            default=(i == 0),
        )
        for i, page in enumerate(PAGES)
    ]
    hidden_home = st.Page(
        page_file(home.path), title=home.title, icon=home.icon, url_path=home.url_path, visibility="hidden"
    )
    return st.navigation([*pages, hidden_home])


def page_spec(page) -> PageSpec:
    """The PageSpec of the StreamlitPage that st.navigation chose."""
    url_path = getattr(page, "url_path", "") or ""
    return next((spec for spec in PAGES if spec.url_path == url_path), PAGES[0])


def ensure_routed() -> None:
    """Every page calls this first (selection() does). Streamlit ran this page without the entry
    file when the selection is missing. That happens once per server: with a pages/ folder beside
    the entry file, the first run of a fresh server on a page URL (a shared link to /attention,
    say) uses the old folder-based routing. Calling st.navigation switches the server to the entry
    file's routing; the rerun then runs the entry file, which draws the sidebar and opens this
    same page.

    Why the rerun cannot go while pages/ keeps its name (Streamlit 1.5x source): the first
    session's PagesManager sets the process-wide ``PagesManager.uses_pages_directory`` from
    ``<entry folder>/pages`` existing, before any of the app's code runs; while it is True every
    run goes through ``script_runner._mpa_v1`` (the page file alone, no entry file, no
    set_page_config), and only a public ``st.navigation`` call sets it to False."""
    if SELECTION_KEY not in st.session_state:
        navigation()
        st.rerun()


def selection() -> Selection:
    """What the sidebar selected on this run (the entry file draws it before the page runs).
    When the checkpoint choice itself is wrong (a malformed Hub id, a folder that is not a
    checkpoint), say so and stop the page here; the sidebar stays usable."""
    ensure_routed()
    current: Selection = st.session_state[SELECTION_KEY]
    if current.error:
        show_error(current.error)
        stop()
    return current


class PageStop(Exception):
    """Raised by :func:`stop`: the page has said what is wrong and draws nothing more."""


_router = threading.local()


@contextlib.contextmanager
def page_router():
    """Run the chosen page inside this: a page that stops early (ui.stop) ends here, and the entry
    file goes on to draw what follows the page."""
    _router.active = True
    try:
        yield
    except PageStop:
        pass
    finally:
        _router.active = False


def stop() -> None:
    """End the page here (after showing a message). Inside page_router the entry file still draws
    what comes after the page (the share box); a page run on its own (Streamlit's folder-based
    routing, see selection()) stops with st.stop()."""
    if getattr(_router, "active", False):
        raise PageStop
    st.stop()


def show_error(problem: Exception | str) -> None:
    """A user-facing error: one clear sentence, no traceback."""
    st.error(str(problem), icon="⚠️")

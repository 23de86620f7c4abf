"""Helpers for AppTest: start the app with state, rerun after an interaction, read what it shows."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from explorer import ui

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "streamlit_app.py")
DEFAULT_PAGE = "pages/pipeline.py"
PAGES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "pages").glob("*.py"))
TIMEOUT = 120  # the first run imports torch and loads a model


def html_of(at: AppTest) -> str:
    return "\n".join(element.proto.body for element in at.get("html"))


def messages_of(at: AppTest) -> str:
    return "\n".join(m.value for kind in ("error", "warning", "info") for m in getattr(at, kind))


def rerun(at: AppTest) -> AppTest:
    """Rerun after an interaction, as the browser does.

    Streamlit 1.67's AppTest re-requests the page it finished on by its hash, and for the default
    st.navigation page that request runs nothing (the entry file does not run; the previous tree
    comes back). The browser asks for the default page with an empty hash, so we do the same."""
    if not at._page_hash:
        at._finished_page_script_hash = ""
    return at.run()


def start(text: str | None = None, ref: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if text is not None:
        at.session_state[ui.TEXT_KEY] = text
    if ref is not None:
        at.session_state[ui.PICK_KEY] = ref
    return at.run()

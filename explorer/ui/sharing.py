"""Shareable links: a link's settings applied on a session's first run, and the share box that
keeps the URL in step with the view. Which settings a page's link carries comes from its view's
Settings (explorer.app.registry)."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlparse

import streamlit as st

from explorer.app.registry import PAGES
from explorer.deployment import cloud_mode
from explorer.errors import ExplorerError
from explorer.pipeline import checkpoints
from explorer.ui.routing import page_spec
from explorer.ui.state import FOLDER_KEY, HUB_ID_KEY, PICK_KEY, SELECTION_KEY, TEXT_KEY
from explorer.views import links
from explorer.views.links import Param

TEXT_PARAM = Param(name="text", key=TEXT_KEY, kind="str")
LINK_APPLIED_KEY = "link.applied"
LINK_PROBLEMS_KEY = "link.problems"


def _checkpoint_from_link(value: str) -> dict[str, str]:
    """Widget states that select the checkpoint a link names; CheckpointError when invalid."""
    if checkpoints.entry_for(value) and value not in (
        checkpoints.OTHER_HUB.ref,
        checkpoints.LOCAL_FOLDER.ref,
    ):
        return {PICK_KEY: value}
    source, _, rest = value.partition(":")
    if source == "hub":
        checkpoints.hub_ref(rest)
        return {PICK_KEY: checkpoints.OTHER_HUB.ref, HUB_ID_KEY: rest}
    if source == "local":
        if cloud_mode():
            raise ExplorerError(checkpoints.CLOUD_NO_FOLDERS.rstrip("."))
        return {PICK_KEY: checkpoints.LOCAL_FOLDER.ref, FOLDER_KEY: rest}
    raise ExplorerError(f"the checkpoint '{value[:60]}' is not one this app knows")


def apply_link() -> None:
    """On a session's first run, take the settings a shared link carries (before any widget)."""
    if st.session_state.get(LINK_APPLIED_KEY):
        return
    st.session_state[LINK_APPLIED_KEY] = True
    query = {name: st.query_params[name] for name in st.query_params}
    if not query:
        return
    problems: list[str] = []
    ckpt = query.get("ckpt")
    ref = checkpoints.default_ref()
    if ckpt:
        try:
            st.session_state.update(_checkpoint_from_link(ckpt))
            ref = ckpt
        except ExplorerError as problem:
            problems.append(f"The link's checkpoint was ignored: {problem}.")
    every_page = tuple(param for spec in PAGES for param in spec.params)  # keys are page-prefixed
    updates, bad = links.decode(query, (TEXT_PARAM, *every_page), ref)
    st.session_state.update(updates)
    st.session_state[LINK_PROBLEMS_KEY] = problems + bad


def sync_link(spec) -> tuple[str, links.Link]:
    """Put the view's settings in the browser's URL (when they changed) and return its query
    string and link: after every full run (share_box) and after a fragment's run."""
    current = st.session_state.get(SELECTION_KEY)
    ref = (
        current.ref if current and current.ref else st.session_state.get(PICK_KEY, checkpoints.default_ref())
    )
    link = links.encode(st.session_state, (TEXT_PARAM, *spec.params), ref)
    query = "ckpt=" + quote(ref, safe=":/") + ("&" + link.query if link.query else "")
    if {k: st.query_params[k] for k in st.query_params} != dict(parse_qsl(query)):
        st.query_params.from_dict(dict(parse_qsl(query)))
    return query, link


def share_box(page) -> None:
    """Keep the browser's URL in step with the view, and offer the link to copy (every page)."""
    spec = page_spec(page)
    query, link = sync_link(spec)
    base = urlparse(st.context.url or "http://127.0.0.1:8501/")
    url = f"{base.scheme}://{base.netloc}/{spec.url_path if spec is not PAGES[0] else ''}?{query}"
    with st.sidebar.expander("Share this view"):
        st.caption(
            "This link opens this page with the same text, checkpoint and settings (copy it with the icon)."
        )
        st.code(url, language=None, wrap_lines=True)
        if link.note:
            st.warning(link.note)
        for problem in st.session_state.get(LINK_PROBLEMS_KEY, []):
            st.warning(problem)

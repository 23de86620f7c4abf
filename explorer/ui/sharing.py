"""Shareable links: a link's settings applied on a session's first run, and the share box that
keeps the URL in step with the view. Which settings a page's link carries comes from its view's
Settings (explorer.app.registry)."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlparse

import streamlit as st
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.runtime.scriptrunner import get_script_run_ctx
from streamlit.runtime.state.common import user_key_from_element_id
from streamlit.runtime.state.session_state import WStates

from explorer.app.registry import PAGES
from explorer.deployment import cloud_mode
from explorer.errors import ExplorerError
from explorer.pipeline import checkpoints
from explorer.ui.routing import page_spec
from explorer.ui.state import FOLDER_KEY, HUB_ID_KEY, PICK_KEY, SELECTION_KEY, TEXT_KEY
from explorer.views import display, links
from explorer.views.links import Param

TEXT_PARAM = Param(name="text", key=TEXT_KEY, kind="str")
LINK_APPLIED_KEY = "link.applied"
LINK_PROBLEMS_KEY = "link.problems"
# A tab reconnected to a new session (server restart, or a classroom student moved to another
# process) sends the values its widgets show with its first run, often with the user's edit in
# them. The link is applied first (it also restores settings of widgets not shown), then the run
# is repeated once with the browser's values, so they win: the user's edit is not reverted.
BROWSER_VALUES_KEY = "link.browser_values"  # serialized values the reconnected browser sent
REPLAY_KEY = "link.replay"  # the same, to be put back at the start of the repeated run
# Values, not actions: a button press or an upload is never replayed (the first run honoured it).
_VALUE_FIELDS = frozenset(
    {
        "bool_value",
        "double_value",
        "int_value",
        "string_value",
        "double_array_value",
        "int_array_value",
        "string_array_value",
        "json_value",
        "arrow_value",
        "bytes_value",
    }
)


def _browser_values() -> list[bytes]:
    """The values of keyed widgets the browser sent with this run (serialized), before any widget
    of this run has read them; empty for a fresh page (its widgets have no values yet)."""
    ctx = get_script_run_ctx()
    if ctx is None:
        return []
    return [
        state.SerializeToString()
        for state in ctx.session_state.get_widget_states()
        if not state.id.endswith("-None") and state.WhichOneof("value") in _VALUE_FIELDS
    ]


def _put_back_browser_values(values: list[bytes]) -> None:
    """Set the widgets to the values the reconnected browser sent, read as each widget of the
    previous run reads them (Streamlit has no public call for this; a widget not drawn then
    keeps the link's value)."""
    ctx = get_script_run_ctx()
    if ctx is None:
        return
    session = ctx.session_state._state  # the SessionState behind st.session_state
    for value in values:
        state = WidgetState.FromString(value)
        metadata = session.get_widget_metadata(state.id)
        key = user_key_from_element_id(state.id)
        if metadata is None or key is None:
            continue
        reader = WStates()
        reader.set_widget_metadata(metadata)
        reader.set_widget_from_proto(state)
        st.session_state[key] = reader[state.id]


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
        st.session_state.pop(BROWSER_VALUES_KEY, None)  # the first run ended early: too late now
        replay = st.session_state.pop(REPLAY_KEY, None)
        if replay:
            _put_back_browser_values(replay)
        return
    st.session_state[LINK_APPLIED_KEY] = True
    if sent := _browser_values():
        st.session_state[BROWSER_VALUES_KEY] = sent
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
    updates, bad = links.decode(query, (TEXT_PARAM, *display.PARAMS, *every_page), ref)
    st.session_state.update(updates)
    st.session_state[LINK_PROBLEMS_KEY] = problems + bad


def sync_link(spec) -> tuple[str, links.Link]:
    """Put the view's settings in the browser's URL (when they changed) and return its query
    string and link: after every full run (share_box) and after a fragment's run."""
    current = st.session_state.get(SELECTION_KEY)
    ref = (
        current.ref if current and current.ref else st.session_state.get(PICK_KEY, checkpoints.default_ref())
    )
    link = links.encode(st.session_state, (TEXT_PARAM, *display.PARAMS, *spec.params), ref)
    query = "ckpt=" + quote(ref, safe=":/") + ("&" + link.query if link.query else "")
    if {k: st.query_params[k] for k in st.query_params} != dict(parse_qsl(query)):
        st.query_params.from_dict(dict(parse_qsl(query)))
    return query, link


def share_box(page) -> None:
    """Keep the browser's URL in step with the view, and offer the link to copy (every page)."""
    if sent := st.session_state.pop(BROWSER_VALUES_KEY, None):
        st.session_state[REPLAY_KEY] = sent  # every widget has been drawn once: repeat the run
        st.rerun()
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

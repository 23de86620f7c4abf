"""Shared links, page by page: a link's settings open the page as they were, and the URL follows
the page's settings."""

from urllib.parse import quote

import pytest
from app_helpers import APP, TIMEOUT, rerun
from streamlit.runtime.state.common import TESTING_KEY
from streamlit.runtime.state.safe_session_state import SafeSessionState
from streamlit.runtime.state.session_state import SessionState
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.app_test import _AppTestSessionState

from explorer import ui
from explorer.pipeline import checkpoints

CASES = {
    "pages/tokenizer.py": (
        {"padding": "max_length", "truncation": "0", "max_length": "12", "side": "left", "pairs": "a pair"},
        {
            "tok.padding": "max_length",
            "tok.truncation": False,
            "tok.max_length.bundled:minilm-l6": 12,
            "tok.side": "left",
            "tok.pairs": "a pair",
        },
    ),
    "pages/model.py": ({"sentence": "1"}, {"model.sentence": 1}),
    # The layer page's one drawn step (issue 21): the feed-forward's wide tensor.
    "pages/layer.py": (
        {"layer": "2", "step": "layer.activation"},
        {"layer.layer": 2, "layer.step": "layer.activation"},
    ),
    "pages/attention.py": (
        {"layer": "3", "head": "5", "show": "head average", "hide_special": "1", "bertviz": "off"},
        {
            "att.layer": 3,
            "att.head": 5,
            "att.aggregate": "head average",
            "att.hide_special": True,
            "att.bertviz": "off",
        },
    ),
    "pages/generation.py": (
        {"temperature": "0.5", "top_k": "7", "top_p": "0.9", "mode": "sampling", "seed": "42"},
        {"gen.temperature": 0.5, "gen.top_k": 7, "gen.top_p": 0.9, "gen.mode": "sampling", "gen.seed": 42},
    ),
}


def open_link(query: dict[str, str], page: str) -> AppTest:
    """Like a browser opening the link: the first run is on the linked page, with its query."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for name, value in query.items():
        at.query_params[name] = value
    at.switch_page(page).run()  # before the first run, the page is found by its file name
    assert not at.exception
    return at


@pytest.mark.parametrize("page", sorted(CASES))
def test_a_link_opens_the_page_with_its_settings_and_the_url_follows(page):
    params, expected = CASES[page]
    text = "Hello world\nA second sentence"
    ref = checkpoints.SMOLLM2 if page == "pages/generation.py" else checkpoints.MINILM
    at = open_link({"text": text, "ckpt": ref, **params}, page)
    assert at.session_state[ui.TEXT_KEY] == text
    assert at.session_state[ui.PICK_KEY] == ref
    for key, value in expected.items():
        key = key.replace("bundled:minilm-l6", ref)
        assert at.session_state[key] == value, key
    query = {name: at.query_params[name] for name in at.query_params}  # the URL after the run
    assert query["text"] == text and query["ckpt"] == ref
    for name, value in params.items():
        assert query[name] == value, name
    share = [c.value for c in at.sidebar.get("code")]
    assert len(share) == 1 and f"/{page.split('/')[1][:-3]}?ckpt=" + quote(ref, safe=":/") in share[0]


def test_a_link_with_a_hub_id_selects_it_and_bad_values_are_reported():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["ckpt"] = "hub:some-org/some-model"
    at.query_params["layer"] = "-4"
    at.run()
    assert not at.exception
    assert at.session_state[ui.PICK_KEY] == checkpoints.OTHER_HUB.ref
    assert at.session_state[ui.HUB_ID_KEY] == "some-org/some-model"
    warnings = "\n".join(w.value for w in at.warning)
    assert "'layer' in the link is not between 1 and 1000" in warnings  # layers count from 1


def test_a_link_with_an_unknown_checkpoint_is_reported():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["ckpt"] = "ftp://x"
    at.run()
    assert not at.exception
    assert at.session_state[ui.PICK_KEY] == checkpoints.default_ref()
    assert "checkpoint was ignored" in "\n".join(w.value for w in at.warning)


def reconnect(at: AppTest) -> AppTest:
    """Like a server restart (or a classroom student moved to another process): the tab's next
    run starts a new session, with an empty session state, and the browser sends the values its
    widgets show (here with the user's edit in them) and the URL it has."""
    shown = at._tree.get_widget_states()
    fresh = SessionState()
    fresh[TESTING_KEY] = {}
    at._session_state = SafeSessionState(fresh, lambda: None)
    at.session_state = _AppTestSessionState(at._session_state)
    at._finished_page_script_hash = ""  # the default page, as rerun() asks for it
    return at._run(shown)


def test_the_first_edit_in_a_reconnected_tab_wins_over_the_links_old_values():
    linked, picked = checkpoints.default_ref(), checkpoints.MINILM
    assert linked != picked  # the saved classifier is prepared on this machine
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update({"text": "old text", "ckpt": linked})
    at.run()
    assert at.session_state[ui.TEXT_KEY] == "old text" and at.session_state[ui.PICK_KEY] == linked
    at.sidebar.text_area(key=ui.TEXT_KEY).input("my new text")
    at.sidebar.selectbox(key=ui.PICK_KEY).select(picked)  # shown by its label, read back by value
    at.sidebar.toggle(key=ui.LARGE_KEY).set_value(True)
    reconnect(at)
    assert not at.exception
    assert at.sidebar.text_area(key=ui.TEXT_KEY).value == "my new text"
    assert at.session_state[ui.TEXT_KEY] == "my new text"
    assert at.session_state[ui.PICK_KEY] == picked and at.session_state[ui.LARGE_KEY] is True
    query = {name: at.query_params[name] for name in at.query_params}  # the link follows the edit
    assert query["text"] == "my new text" and query["ckpt"] == picked
    at.sidebar.text_area(key=ui.TEXT_KEY).input("my newer text")  # later edits win too
    rerun(at)
    assert at.session_state[ui.TEXT_KEY] == "my newer text" and at.session_state[ui.PICK_KEY] == picked
    assert at.query_params["text"] == "my newer text"


def test_a_name_two_pages_use_is_read_by_the_page_that_can_read_it_without_a_warning():
    """'padding' is on/off on the attention page and a choice on the tokenizer page: every
    attention link carries padding=0 or 1, which the tokenizer page cannot read (no warning)."""
    at = open_link({"text": "Hello world", "padding": "0", "layer": "-4"}, "pages/attention.py")
    assert at.session_state["att.show_padding"] is False
    warnings = [w.value for w in at.warning]
    assert not any("'padding'" in w for w in warnings), warnings
    assert sum("'layer' in the link is not between 1 and 1000" in w for w in warnings) == 1
    at = open_link({"text": "Hello world", "padding": "max_length"}, "pages/tokenizer.py")
    assert at.session_state["tok.padding"] == "max_length"
    assert not any("'padding'" in w.value for w in at.warning)


def test_the_layer_page_draws_one_heatmap_the_linked_steps():
    """Issue 21: one heatmap at a time, the step the link names (the feed-forward's wide tensor,
    its width read from MiniLM's config.json here)."""
    import json
    from pathlib import Path

    config = json.loads((Path(checkpoints.resolve(checkpoints.MINILM).location) / "config.json").read_text())
    at = open_link(
        {"ckpt": checkpoints.MINILM, "text": "The cat sat.", "step": "layer.activation"}, "pages/layer.py"
    )
    charts = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    assert len(charts) == 1
    assert charts[0]["layout"]["title"]["text"].endswith(f", {config['intermediate_size']}]")
    assert at.session_state["layer.step"] == "layer.activation"

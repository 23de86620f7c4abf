from urllib.parse import parse_qsl

import pytest

from explorer.views import links
from explorer.views.links import Param

PARAMS = (
    Param(name="text", key="shared.text", kind="str"),
    Param(name="layer", key="att.layer", kind="int", high=100),
    Param(name="temperature", key="gen.temperature", kind="float", low=0.1, high=2.0),
    Param(name="chat", key="gen.chat", kind="bool"),
    Param(name="show", key="att.aggregate", kind="choice", choices=("head", "head average")),
    Param(name="max_length", key="tok.max_length.{ref}", kind="int", low=2, high=8192),
)
STATE = {
    "shared.text": "Hello <b>world</b> & ünïcode 😀\nsecond line",
    "att.layer": 3,
    "gen.temperature": 0.7,
    "gen.chat": True,
    "att.aggregate": "head average",
    "tok.max_length.bundled:minilm-l6": 64,
}


def test_state_survives_a_round_trip_through_the_url():
    link = links.encode(STATE, PARAMS, "bundled:minilm-l6")
    assert link.note is None
    query = dict(parse_qsl(link.query))
    updates, problems = links.decode(query, PARAMS, "bundled:minilm-l6")
    assert problems == [] and updates == STATE


def test_a_text_too_long_for_a_link_is_left_out_with_a_note():
    state = dict(STATE, **{"shared.text": "word " * 1000})
    link = links.encode(state, PARAMS, "bundled:minilm-l6")
    query = dict(parse_qsl(link.query))
    assert "text" not in query and query["layer"] == "3"
    assert "too long for a link" in link.note


@pytest.mark.parametrize(
    ("name", "raw", "says"),
    [
        ("layer", "-1", "between"),
        ("layer", "101", "between"),
        ("layer", "three", "invalid literal"),
        ("temperature", "nan", "between"),
        ("temperature", "5", "between"),
        ("chat", "yes", "not 0 or 1"),
        ("show", "<script>", "not one of"),
        ("layer", "9" * 500, "too long"),
    ],
)
def test_bad_values_in_a_link_are_ignored_with_a_reason(name, raw, says):
    updates, problems = links.decode({name: raw}, PARAMS, "r")
    assert updates == {}
    assert len(problems) == 1 and says in problems[0] and f"'{name}'" in problems[0]


def test_unknown_parameters_are_ignored():
    updates, problems = links.decode({"evil": "1", "layer": "2"}, PARAMS, "r")
    assert updates == {"att.layer": 2} and problems == []

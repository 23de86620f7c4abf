"""Settings declared once: the link parameters, session-state keys, presets and defaults all come
from each view's Settings, and a value from a link or a stale session is checked before use."""

from __future__ import annotations

import dataclasses
from urllib.parse import parse_qsl

import pytest

from explorer.app.registry import PAGES
from explorer.views import attention, generation, links, tokenizer
from explorer.views.settings import from_state, link_params, presets, spec, specs, state_key

# What shared links carried before the typed views (URL name -> session-state key): links that
# people already shared must keep opening the same view.
LINKS_BEFORE = {
    "tokenizer": {
        "padding": "tok.padding",
        "truncation": "tok.truncation",
        "max_length": "tok.max_length.{ref}",
        "side": "tok.side",
        "pairs": "tok.pairs",
    },
    "model": {"sentence": "model.sentence"},
    "attention": {
        "sentence": "att.sentence",
        "layer": "att.layer",
        "head": "att.head",
        "show": "att.aggregate",
        "hide_special": "att.hide_special",
        "padding": "att.show_padding",
        "bertviz": "att.bertviz",
    },
    "generation": {
        "chat": "gen.chat",
        "temperature": "gen.temperature",
        "top_k": "gen.top_k",
        "top_p": "gen.top_p",
        "mode": "gen.mode",
        "seed": "gen.seed",
    },
}


@pytest.mark.parametrize("page", list(LINKS_BEFORE))
def test_links_still_carry_the_names_and_keys_they_had(page):
    spec_ = next(p for p in PAGES if p.url_path == page)
    carried = {param.name: param.key for param in spec_.params}
    assert LINKS_BEFORE[page].items() <= carried.items()  # new settings may be added, none renamed


def test_every_page_with_settings_has_a_unique_prefix_and_defaults_that_pass_their_own_checks():
    prefixes = [p.settings.PREFIX for p in PAGES if p.settings]
    assert len(prefixes) == len(set(prefixes))
    for page in PAGES:
        if not page.settings:
            continue
        instance = page.settings()  # every setting has a default
        for one in specs(page.settings):
            value = getattr(instance, one.name)
            assert value is None or one.accepts(value), (page.url_path, one.name, value)


def test_a_settings_round_trip_through_a_link_and_session_state():
    chosen = attention.Settings(layer=3, head=2, aggregate="layer average", hide_special=True)
    state = presets(chosen)
    link = links.encode(state, link_params(attention.Settings), "r")
    updates, problems = links.decode(dict(parse_qsl(link.query)), link_params(attention.Settings), "r")
    assert problems == []
    assert from_state(attention.Settings, updates) == dataclasses.replace(chosen, window=0)


def test_invalid_or_stale_values_fall_back_to_the_default():
    state = {
        "gen.temperature": 9.0,  # above the range
        "gen.mode": "beam search",  # not a choice
        "gen.top_k": True,  # a bool is not an int here
        "gen.seed": 7,
    }
    settings = from_state(generation.Settings, state)
    assert settings.temperature == spec(generation.Settings, "temperature").default
    assert settings.mode == spec(generation.Settings, "mode").default
    assert settings.top_k == spec(generation.Settings, "top_k").default
    assert settings.seed == 7


def test_per_checkpoint_settings_have_one_key_per_checkpoint():
    assert (
        state_key(tokenizer.Settings, "max_length", "bundled:minilm-l6") == "tok.max_length.bundled:minilm-l6"
    )
    assert state_key(tokenizer.Settings, "padding", "bundled:minilm-l6") == "tok.padding"
    chosen = tokenizer.Settings(max_length=32)
    assert presets(chosen, "local:/x")["tok.max_length.local:/x"] == 32
    assert from_state(tokenizer.Settings, {"tok.max_length.local:/x": 32}, "local:/x").max_length == 32
    assert from_state(tokenizer.Settings, {"tok.max_length.local:/x": 32}, "other").max_length is None


def test_a_link_value_out_of_range_is_refused_with_its_name():
    updates, problems = links.decode({"layer": "99999", "head": "1"}, link_params(attention.Settings), "r")
    assert updates == {"att.head": 1}
    assert problems and "'layer'" in problems[0]

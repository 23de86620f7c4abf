"""What the Pipeline, Generation, Attention, Tokenizer and layer pages DRAW for a byte-level model
(the GPT-2 and Qwen3 families, and the bundled SmolLM2 when prepared) carries no raw byte-level
piece (Ġ, Ċ, ĉ) and nothing escaped twice. Only what reaches the screen is read: Notes, Tables,
HTML fragments (hover titles, which carry the raw piece on purpose, left out) and Plotly figures'
labels (hover customdata left out). The View's data fields keep the raw pieces for computations."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import plotly.graph_objects as go
import pytest

from explorer.pipeline.encoding import encode_batch
from explorer.pipeline.run import run_model
from explorer.views import attention, generation, layer
from explorer.views import pipeline as home
from explorer.views.common import Note, Table
from tests.families import build_and_load

# A newline-free batch (the text box splits lines) with spaces, a tab, an emoji split into bytes, CJK.
SENTENCES = ("The animal did not cross\tthe street 😀", "Attention is all you need 中文")
PROMPT = "Hello Paris.\nThe animal 😀"
RAW = ("Ġ", "Ċ", "ĉ")
SMOLLM2 = Path.home() / ".cache" / "transformer-explorer" / "bundled" / "smollm2-135m-instruct"
_TITLE = re.compile(r'\stitle="[^"]*"')


def _drawn(value: object) -> Iterator[str]:
    """Every string the page draws from ``value`` (a View or part of one)."""
    if isinstance(value, Note):
        yield value.text
    elif isinstance(value, Table):
        for row in value.rows:
            yield from (str(v) for v in row.values())
            yield from (str(k) for k in row)
    elif isinstance(value, go.Figure):
        data = value.to_plotly_json()
        for trace in data["data"]:
            for key in ("x", "y", "text"):
                if key in trace and trace[key] is not None:
                    yield from (str(v) for v in _flat(trace[key]))
        layout = data["layout"]
        for axis in (k for k in layout if k.startswith(("xaxis", "yaxis"))):
            yield from (str(v) for v in layout[axis].get("ticktext", ()) or ())
    elif isinstance(value, str):
        if "<span" in value or "<table" in value or "<div" in value:
            yield _TITLE.sub("", value)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            yield from _drawn(getattr(value, field.name))
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _drawn(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _drawn(item)


def _flat(values: object) -> Iterator[object]:
    if isinstance(values, list | tuple):
        for v in values:
            yield from _flat(v)
    else:
        yield values


def _assert_readable(view: object, where: str) -> None:
    drawn = list(_drawn(view))
    assert drawn, where
    for text in drawn:
        for raw in RAW:
            assert raw not in text, (where, raw, text[:300])
        assert "&amp;lt;" not in text and "&amp;gt;" not in text, (where, text[:300])


@pytest.fixture(scope="module", params=["gpt2", "qwen3", "smollm2"])
def loaded(request, tmp_path_factory):
    if request.param == "smollm2":
        if not (SMOLLM2 / "tokenizer.json").exists():
            pytest.skip("SmolLM2 not prepared")
        from explorer.pipeline.checkpoints import resolve
        from explorer.pipeline.loading import load_checkpoint

        return load_checkpoint(resolve("bundled:smollm2"))
    family = build_and_load(request.param, tmp_path_factory.mktemp(request.param))
    assert family.loaded is not None, family.load_error
    return family.loaded


@pytest.fixture(scope="module")
def batch(loaded):
    encoding = encode_batch(loaded.batch_tokenizer, SENTENCES, max_length=loaded.max_tokens)
    assert any(t.startswith("Ġ") for t in encoding.tokens[0])  # the test has teeth
    return encoding, run_model(loaded, encoding, hidden_states=True, attentions=True)


def test_pipeline_page_shows_no_raw_piece(loaded, batch):
    encoding, run = batch
    view = home.build(loaded, encoding, run)
    _assert_readable(view, "pipeline")
    html = "".join(_drawn(view))
    assert "␣" in html  # the spaces are shown, not dropped


def test_generation_page_shows_no_raw_piece(loaded):
    view = generation.build(loaded, PROMPT, generation.Settings(), ())
    _assert_readable(view, "generation")
    decoder = view.decoder
    assert decoder is not None
    assert all(text for text in decoder.candidates.shown)  # never an empty label
    ids = generation.gen.prompt_ids(loaded, PROMPT, False)
    steps = generation.gen.generate(loaded, ids, 3, generation.Settings().sampling)
    assert all(s.shown for s in steps)
    _assert_readable(generation.build(loaded, PROMPT, generation.Settings(), steps), "generation steps")


def test_generation_causal_mask_shows_no_raw_piece(loaded, batch):
    from explorer.pipeline import checkpoints
    from explorer.pipeline.checkpoints import resolve
    from explorer.pipeline.loading import load_checkpoint

    encoding, run = batch
    minilm = load_checkpoint(resolve(checkpoints.MINILM))
    other = encode_batch(minilm.batch_tokenizer, SENTENCES[:1], max_length=minilm.max_tokens)
    other_run = run_model(minilm, other, attentions=True)
    one = encoding.cut(rows=slice(0, 1))
    mask = generation.build_causal_mask(
        loaded, one, run_model(loaded, one, attentions=True), other, other_run
    )
    _assert_readable(mask, "generation causal mask")


@pytest.mark.parametrize("bertviz", ["head view", "model view"])
def test_attention_page_shows_no_raw_piece(loaded, batch, bertviz):
    encoding, run = batch
    settings = attention.Settings(bertviz=bertviz, steps=True, position=False)
    view = attention.build(loaded, encoding, run, attention.clamp(run, encoding, settings))
    _assert_readable(view, "attention")
    if view.bertviz.html:
        payload = view.bertviz.html
        assert "Ġ" not in payload.split("left_text", 1)[-1][:5000]


def test_layer_page_shows_no_raw_piece(loaded, batch):
    encoding, run = batch
    _assert_readable(layer.build(loaded, encoding, run, layer.Settings()), "layer")

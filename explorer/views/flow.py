"""The Pipeline page's flow picture: explorer.explain.flow's record of this run, each box linked to
the page that explains it (with the text, the checkpoint and the settings that open that page on
this box), drawn by explorer.drawing.flow. Pure: no Streamlit."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from explorer.drawing.flow import flow_html
from explorer.explain import flow as flows
from explorer.explain.attention import PARTS
from explorer.pipeline.encoding import Encoding
from explorer.pipeline.loading import LoadedCheckpoint
from explorer.pipeline.run import ModelRun
from explorer.views import attention, classification, generation, layer, model, tokenizer
from explorer.views.links import href
from explorer.views.settings import link_params, presets

# The Settings of each page a box can open (the url paths of explorer.app.registry's pages). A
# page not here (ner) opens with the text and checkpoint alone.
PAGE_SETTINGS: dict[str, type] = {
    "tokenizer": tokenizer.Settings,
    "model": model.Settings,
    "layer": layer.Settings,
    "attention": attention.Settings,
    "generation": generation.Settings,
    "classification": classification.Settings,
}
# Which step of the layer page a box opens on: the embeddings' first, the feed-forward's wide one.
LAYER_STEPS = {"embeddings": "embeddings.token", "feed_forward": "layer.activation"}


@dataclass(frozen=True)
class FlowPart:
    flow: flows.Flow  # the record: boxes, shapes, modules, pages
    html: str  # the picture
    caption: str  # the letters' values in this run, and what a click does
    hrefs: tuple[tuple[tuple[str, str], str], ...]  # ((page, focus), link) of every linked box


def page_settings(page: str, focus: str) -> Any | None:
    """The Settings the page at ``page`` opens with for a box's ``focus`` (None: a page without)."""
    cls = PAGE_SETTINGS.get(page)
    if cls is None:
        return None
    if page == "layer" and focus in LAYER_STEPS:
        return cls(step=LAYER_STEPS[focus])
    if page == "attention" and focus in PARTS:
        return cls(part=focus)
    return cls()


def _changed(settings: Any, ref: str) -> dict[str, Any]:
    """The session-state entries of the settings that differ from the page's defaults."""
    default = type(settings)()
    state = presets(settings, ref)
    keep = {f.name for f in fields(settings) if getattr(settings, f.name) != getattr(default, f.name)}
    return {key: value for key, value in state.items() if key.split(".")[1] in keep}


def link(page: str, focus: str, ref: str, text: str) -> str:
    """The link that opens ``page`` on ``focus`` with this checkpoint and text."""
    settings = page_settings(page, focus)
    if settings is None:
        return href(page, ref, text, {}, ())
    return href(page, ref, text, _changed(settings, ref), link_params(type(settings)))


def _boxes(flow: flows.Flow) -> list[tuple[str, str]]:
    pages = [(box.page, box.focus) for box in (*flow.before, *flow.decoder_before, *flow.after)]
    for stack in flow.stacks:
        pages += [(stack.page, "")] + [(box.page, box.focus) for box in stack.boxes]
    return [page for page in pages if page[0]]


def _caption(flow: flows.Flow) -> str:
    z = flow.sizes
    heads = f", H = {z.H} heads" if z.H is not None else ""
    width = f", feed-forward width {z.F:,}" if z.F is not None else ""
    decoder = f"; the decoder: T = {z.T} positions, {z.N_dec} layers" if z.T is not None else ""
    return (
        f"The shapes of this run: B = {z.B} sentences, S = {z.S} positions, D = {z.D} (hidden size), "
        f"N = {z.N} layers{heads}{width}{decoder}. Each box opens the page that explains it, with "
        "this text and checkpoint."
    )


def build(loaded: LoadedCheckpoint, encoding: Encoding, run: ModelRun, ref: str, text: str) -> FlowPart:
    flow = flows.build(loaded, encoding, run)
    hrefs = {key: link(*key, ref, text) for key in _boxes(flow)}
    return FlowPart(flow, flow_html(flow, hrefs), _caption(flow), tuple(hrefs.items()))

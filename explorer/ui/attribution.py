"""The "Why this prediction?" section, drawn on the Classification and Generation pages.

Attributions run the model dozens of times, so on a shared server: the section computes only when
its toggle is on; one attribution runs at a time per process (:data:`LOCK`; others wait, and are
told so); a progress bar shows each method; results are kept (a small per-process cache keyed by
the model object, the sentence's ids and the settings), so reruns and other sessions asking the
same question do not recompute.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

import streamlit as st

from explorer.errors import ExplorerError
from explorer.explain import attribution as at
from explorer.pipeline.encoding import Encoding
from explorer.pipeline.loading import LoadedCheckpoint
from explorer.ui.routing import show_error
from explorer.ui.widgets import chart, download, note, notes, settings, table, widget
from explorer.views import attribution as view

LOCK = threading.Lock()  # one attribution at a time per server process
KEPT = 16  # results kept per process
_RESULTS: OrderedDict[tuple, at.Attributions] = OrderedDict()
# How long the last attribution of each model took on this server, (seconds, tokens), keyed by
# id(loaded.model): the off caption states it instead of guessing how long one takes.
_TOOK: dict[int, tuple[float, int]] = {}


def _key(
    loaded: LoadedCheckpoint, encoding: Encoding, target: at.Target, baseline: str, occlusion: str
) -> tuple:
    types = None if encoding.token_type_ids is None else tuple(encoding.token_type_ids[0].tolist())
    return (
        id(loaded.model),
        tuple(encoding.input_ids[0].tolist()),
        tuple(encoding.attention_mask[0].tolist()),
        types,
        target,
        baseline,
        occlusion,
    )


def compute(
    loaded: LoadedCheckpoint, encoding: Encoding, target: at.Target, baseline: str, occlusion: str
) -> at.Attributions:
    """explorer.explain.attribution.compute under the process lock, with a progress bar (cached)."""
    key = _key(loaded, encoding, target, baseline, occlusion)
    if key in _RESULTS:
        _RESULTS.move_to_end(key)
        return _RESULTS[key]
    waiting = st.empty()
    if not LOCK.acquire(blocking=False):
        waiting.info("Another attribution is running on this server; this one starts when it ends…")
        LOCK.acquire()
    waiting.empty()
    try:
        if key in _RESULTS:  # computed by another session while this one waited
            return _RESULTS[key]
        bar = st.progress(0.0, text="Attributing…")

        def progress(fraction: float, text: str) -> None:
            bar.progress(fraction, text=text)

        started = time.perf_counter()
        result = at.compute(loaded, encoding, target, baseline, occlusion, progress=progress)
        _TOOK[id(loaded.model)] = (time.perf_counter() - started, int(encoding.input_ids.shape[1]))
        bar.empty()
        _RESULTS[key] = result
        while len(_RESULTS) > KEPT:
            _RESULTS.popitem(last=False)
        return result
    finally:
        LOCK.release()


OFF_CAPTION = (
    "Integrated Gradients, Gradient × input and occlusion, beside attention: which input tokens "
    "made the model give this answer. Turn it on to compute: it runs the model dozens of times"
)


def off_caption(loaded: LoadedCheckpoint) -> str:
    """The caption under the off toggle: what the section computes and, once it has run here, how
    long this model's last attribution took on this server (measured, not guessed)."""
    took = _TOOK.get(id(loaded.model))
    if took is None:
        return OFF_CAPTION + "; a progress bar shows each method."
    seconds, tokens = took
    return (
        OFF_CAPTION + f"; the last one for this model on this server took {seconds:.1f} s ({tokens} tokens)."
    )


def attribution_section(
    cls: type[Any],
    loaded: LoadedCheckpoint,
    encoding: Encoding | None,
    kind: str,
    *,
    position: int | None = None,
    heading: str = "Why this prediction?",
    sentences: bool = False,
) -> None:
    """The section for one prediction: ``kind`` "label" (a classifier; ``sentences`` offers a
    sentence picker over the batch), "next token" or "masked word" (``position`` in the
    one-sentence ``encoding``). ``cls``: the page's Settings (inheriting AttributionSettings)."""
    st.subheader(heading)
    unavailable = view.not_available(loaded, kind)
    if unavailable is not None:
        note(unavailable)
        return
    if encoding is None:
        return
    if not widget(cls, "attr_show"):
        st.caption(off_caption(loaded))
        return
    try:
        one = at.row(encoding, _sentence(cls, encoding) if sentences else 0)
        at.check_length(one)
        chosen = _target_widgets(cls, loaded, one, kind, position)
        chosen_settings = settings(cls)
        if kind == "label":
            target = at.classifier_target(loaded, one, chosen)
        elif position is None:
            raise ValueError(f"a {kind} target needs its position")
        else:
            target = at.token_target(loaded, one, position, chosen, kind)
        result = compute(
            loaded,
            one,
            target,
            at.usable(loaded, chosen_settings.attr_baseline),
            at.usable(loaded, chosen_settings.attr_occlusion),
        )
    except ExplorerError as problem:
        show_error(problem)
        return
    shown = view.build(result, chosen_settings, loaded.resolved.label)
    draw(shown, key=f"{cls.PREFIX}.attr")


def _sentence(cls: type[Any], encoding: Encoding) -> int:
    """The batch's sentence to explain (a picker when there is more than one)."""
    if encoding.shape[0] <= 1:
        return 0
    return int(
        widget(
            cls,
            "attr_sentence",
            options=range(encoding.shape[0]),
            # the number only: a picker keeps the label its value had when picked, so a sentence
            # in it would go stale when the text changes (the section's first line quotes it)
            format_func=lambda i: f"Sentence {i}",
        )
    )


def _target_widgets(
    cls: type[Any], loaded: LoadedCheckpoint, one: Encoding, kind: str, position: int | None
) -> str | None:
    """The target, method, baseline and occlusion pickers; returns the chosen target's value (None:
    the predicted one)."""
    if kind == "label":
        options = view.target_options(loaded, one, "label")
    else:
        options = view.target_options(loaded, one, kind, position)
    values = [o.value for o in options]
    labels = {o.value: o.label for o in options}  # no numbers: see view.Option
    columns = st.columns(2)
    chosen = widget(
        cls,
        "attr_target",
        where=columns[0],
        options=values,
        default=values[0],
        format_func=lambda v: labels.get(v, v),
    )
    note(view.scores_note(options), columns[0])
    widget(cls, "attr_method", where=columns[1])
    columns = st.columns(2)
    has_mask = loaded.batch_tokenizer.mask_token_id is not None
    widget(cls, "attr_baseline", where=columns[0], options=at.BASELINES if has_mask else at.BASELINES[:1])
    widget(cls, "attr_occlusion", where=columns[1], options=at.OCCLUSIONS if has_mask else at.OCCLUSIONS[1:])
    return None if chosen is None else str(chosen)


def draw(shown: Any, key: str) -> None:
    note(shown.explained)
    note(shown.completeness)
    for row in shown.rows:
        st.markdown(f"**{row.method}** · {row.caption}")
        st.html(row.html)
    note(shown.legend)
    note(shown.summary)
    chart(shown.figure, key=f"{key}.bars", filename="attributions")
    notes([shown.baseline, shown.gradient, shown.occlusion, shown.attention])
    with st.expander("Every token's numbers"):
        table(shown.table)
    columns = st.columns(2)
    download(shown.csv, where=columns[0])
    download(shown.json, where=columns[1])
    notes([shown.caps, shown.timings])

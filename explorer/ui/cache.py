"""Cached loads and runs, shared by every session of the process.

Models are ``st.cache_resource`` (one copy per process, shared by all sessions, never mutated);
runs are kept once per process too because they are frozen dataclasses of read-only arrays
(``st.cache_data`` would pickle and copy tens of MB on every rerun). All are bounded by
``max_entries``; the runs also by the bytes of their arrays (explorer.ui.memory.BoundedCache, whose
dropped runs its collector frees). Every key includes the checkpoint's file fingerprint, so a
checkpoint saved again under the same name is loaded again instead of being served from memory in its old state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from explorer.deployment import cache_sizes, cloud_mode
from explorer.errors import ExplorerError
from explorer.explain.tokenizer_lab import Trainable, train_tokenizer
from explorer.pipeline import checkpoints
from explorer.pipeline.bundled import prepare_smollm2
from explorer.pipeline.encoding import Encoding, Sentences, encode_batch
from explorer.pipeline.loading import LoadedCheckpoint, load_checkpoint, load_tokenizer
from explorer.pipeline.run import ModelRun, run_model
from explorer.ui.memory import BoundedCache
from explorer.ui.routing import selection, show_error, stop
from explorer.ui.state import Selection, read_sentences

CACHE = cache_sizes()  # smaller on a shared (cloud) deployment
# The runs are also bounded by the bytes of their arrays: a count alone let a few long texts keep
# GBs (a run with attention weights holds up to 400 MB: run.MAX_ATTENTION_VALUES floats; a masked
# LM's logits are [masks, vocab]). A run bigger than its budget is returned but not kept.
RUN_BYTES = (
    {"light": 64_000_000, "heavy": 450_000_000}
    if cloud_mode()
    else {"light": 256_000_000, "heavy": 600_000_000}
)


def _prepared(ref: str) -> tuple[checkpoints.ResolvedCheckpoint, str]:
    """Resolve ``ref`` (the bundled decoder is first prepared from its GGUF file, with progress)
    and fingerprint its files."""
    resolved = checkpoints.resolve(ref)
    if resolved.needs_preparation:
        bar = st.progress(0.0, text=f"Preparing {resolved.label} (once per machine)…")

        def progress(fraction: float, message: str) -> None:
            bar.progress(fraction, text=message)

        try:
            prepare_smollm2(progress)  # CheckpointError when the cache folder cannot be written
        finally:
            bar.empty()
        resolved = checkpoints.resolve(ref)
    return resolved, checkpoints.fingerprint(resolved)


@st.cache_resource(max_entries=CACHE["models"], show_spinner=False)
def _load(ref: str, fingerprint: str) -> LoadedCheckpoint:
    return load_checkpoint(checkpoints.resolve(ref))


def load(ref: str) -> LoadedCheckpoint:
    """The shared tokenizer + model for ``ref``, preparing the bundled decoder first if needed,
    with progress shown. Raises ExplorerError with a message for the user."""
    resolved, fingerprint = _prepared(ref)
    with st.spinner(f"Loading {resolved.label}…"):
        return _load(ref, fingerprint)


def _encode_and_run(
    ref: str, fingerprint: str, sentences: tuple[str, ...], hidden_states: bool, attentions: bool
) -> tuple[Encoding, ModelRun]:
    loaded = _load(ref, fingerprint)
    encoding = encode_batch(loaded.batch_tokenizer, sentences, max_length=loaded.max_tokens)
    return encoding, run_model(loaded, encoding, hidden_states=hidden_states, attentions=attentions)


# Two caches: runs without hidden states or attention weights are small (shapes and logits); runs
# with them can hold up to run.MAX_ATTENTION_VALUES floats (400 MB) each, so only a few are kept.
LIGHT_RUNS: BoundedCache[tuple[Encoding, ModelRun]] = BoundedCache(CACHE["light_runs"], RUN_BYTES["light"])
HEAVY_RUNS: BoundedCache[tuple[Encoding, ModelRun]] = BoundedCache(CACHE["heavy_runs"], RUN_BYTES["heavy"])


def _light_run(ref: str, fingerprint: str, sentences: tuple[str, ...]) -> tuple[Encoding, ModelRun]:
    return LIGHT_RUNS.get(
        (ref, fingerprint, sentences), lambda: _encode_and_run(ref, fingerprint, sentences, False, False)
    )


def _heavy_run(
    ref: str, fingerprint: str, sentences: tuple[str, ...], hidden_states: bool, attentions: bool
) -> tuple[Encoding, ModelRun]:
    return HEAVY_RUNS.get(
        (ref, fingerprint, sentences, hidden_states, attentions),
        lambda: _encode_and_run(ref, fingerprint, sentences, hidden_states, attentions),
    )


def pipeline(
    ref: str, sentences: Sentences, *, hidden_states: bool = False, attentions: bool = False
) -> tuple[Encoding, ModelRun]:
    """Tokenize the batch (padding to the longest, truncating at the model's limit) and run it."""
    _, fingerprint = _prepared(ref)
    with st.spinner("Running the model…"):
        if hidden_states or attentions:
            return _heavy_run(ref, fingerprint, sentences.sentences, hidden_states, attentions)
        return _light_run(ref, fingerprint, sentences.sentences)


@st.cache_resource(max_entries=1, show_spinner=False)
def _random_model(ref: str, fingerprint: str):
    from explorer.explain.compare import random_model as build_random

    return build_random(_load(ref, fingerprint))


def random_model(ref: str):
    """The checkpoint's architecture with random weights (seeded; one kept per process, shared by
    every session and never mutated, like the models)."""
    _, fingerprint = _prepared(ref)
    with st.spinner("Building the copy with random weights…"):
        return _random_model(ref, fingerprint)


# The model page's two comparisons depend only on the checkpoint and the first two lines (see
# explorer.explain.compare); a few are kept (frozen results of read-only arrays, shared by every session).
COMPARISONS = max(2, CACHE["light_runs"] // 4)


@st.cache_resource(max_entries=COMPARISONS, show_spinner=False)
def _mask_effect(ref: str, fingerprint: str, first_two: tuple[str, ...], padding_side: str | None):
    from explorer.explain.compare import mask_effect as compute

    return compute(_load(ref, fingerprint), first_two, padding_side)


def mask_effect(ref: str, sentences: Sentences, padding_side: str | None = None):
    """compare.mask_effect for the checkpoint and the text box's first two lines (cached).
    Raises InputError when the sentence cannot be padded (the view says why)."""
    _, fingerprint = _prepared(ref)
    with st.spinner("Running the sentence three ways…"):
        return _mask_effect(ref, fingerprint, sentences.sentences[:2], padding_side)


@st.cache_resource(max_entries=COMPARISONS, show_spinner=False)
def _random_comparison(ref: str, fingerprint: str, first_two: tuple[str, ...]):
    from explorer.explain.compare import random_vs_pretrained

    return random_vs_pretrained(_load(ref, fingerprint), first_two, model=_random_model(ref, fingerprint))


def random_comparison(ref: str, sentences: Sentences):
    """compare.random_vs_pretrained for the checkpoint and the text box's first two lines, with
    the cached copy with random weights (cached)."""
    _, fingerprint = _prepared(ref)
    with st.spinner("Building the copy with random weights and running both…"):
        return _random_comparison(ref, fingerprint, sentences.sentences[:2])


@st.cache_resource(max_entries=1, show_spinner="Loading BertForNextSentencePrediction…")
def next_sentence_model(ref: str, fingerprint: str):
    """BertForNextSentencePrediction from ``ref``'s files (``fingerprint``: checkpoints.fingerprint
    of them, so a re-saved folder is read again), or None when its weights have no NSP head. One is
    kept per process, shared by every session and never mutated. Raises ExplorerError."""
    from explorer.explain.pairs import load_nsp_model

    loaded = _load(ref, fingerprint)
    return load_nsp_model(loaded.resolved, loaded.config)


@st.cache_resource(max_entries=CACHE["tokenizers"], show_spinner=False)
def _tokenizer(ref: str, fingerprint: str):
    return load_tokenizer(checkpoints.resolve(ref))


def tokenizer(ref: str):
    """Only the tokenizer of a checkpoint (preparing the bundled decoder first if needed; the
    model is not loaded)."""
    _, fingerprint = _prepared(ref)
    return _tokenizer(ref, fingerprint)


@st.cache_resource(max_entries=CACHE["trained_tokenizers"], show_spinner=False)
def trained_tokenizer(kind: Trainable, corpus: str, vocab_size: int) -> Any:
    """A small tokenizer trained on ``corpus`` (cached: the same text and size train once)."""
    return train_tokenizer(kind, corpus, vocab_size)


@dataclass(frozen=True, kw_only=True)
class PageData:
    """What most pages start from: the sidebar's text and checkpoint, read, loaded and run."""

    selection: Selection
    sentences: Sentences
    loaded: LoadedCheckpoint
    encoding: Encoding | None  # None when the page asked for no run
    run: ModelRun | None


def page_data(*, run: bool = True, hidden_states: bool = False, attentions: bool = False) -> PageData:
    """Read the text, load the checkpoint and (unless ``run=False``) run the batch; notes about
    the text are shown, and a problem is said in one sentence and ends the page."""
    current = selection()
    try:
        if current.ref is None:  # selection() stops the page when the sidebar has an error
            raise ExplorerError("Pick a checkpoint.")
        sentences = read_sentences(current.text)
        loaded = load(current.ref)
        encoding, result = (
            pipeline(current.ref, sentences, hidden_states=hidden_states, attentions=attentions)
            if run
            else (None, None)
        )
    except ExplorerError as problem:
        show_error(problem)
        stop()
    for note in sentences.notes():
        st.info(note)
    return PageData(selection=current, sentences=sentences, loaded=loaded, encoding=encoding, run=result)

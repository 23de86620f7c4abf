"""Cached pieces of the Classification page's "Transfer learning, two ways" section: the
feature-based heads (trained once per process on the bundled data, for the frozen MiniLM's files)
and the fine-tuned classifiers they are compared with."""

from __future__ import annotations

import streamlit as st

from explorer.pipeline import checkpoints
from explorer.pipeline.loading import LoadedCheckpoint
from explorer.training import transfer
from explorer.ui.cache import load

ENCODER = checkpoints.MINILM  # the frozen encoder of the feature-based way, the base of the fine-tuned


@st.cache_resource(
    max_entries=1,
    show_spinner="Training the feature-based classifiers: MiniLM encodes the bundled data, then a "
    "logistic regression is fitted (once per server)…",
)
def _feature_heads(fingerprint: str, _encoder: LoadedCheckpoint) -> dict[str, transfer.FeatureHead]:
    return {kind: transfer.feature_based(_encoder, kind) for kind in transfer.KINDS}


def encoder() -> LoadedCheckpoint:
    """The bundled MiniLM, shared (raises ExplorerError with a message for the user)."""
    return load(ENCODER)


def feature_heads(loaded: LoadedCheckpoint) -> dict[str, transfer.FeatureHead]:
    """transfer.feature_based for each kind, computed once per process for these encoder files."""
    return _feature_heads(checkpoints.fingerprint(loaded.resolved), loaded)


def fine_tuned() -> dict[str, LoadedCheckpoint | None]:
    """The fine-tuned sentence and pair classifiers, loaded (shared); None where not built."""
    found: dict[str, LoadedCheckpoint | None] = {}
    for kind in transfer.KINDS:
        ref = transfer.fine_tuned_ref(kind)
        found[kind] = load(ref) if checkpoints.entry_for(ref) is not None else None
    return found

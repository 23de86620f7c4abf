"""Streamlit pieces of the Token classification (NER) page: the bundled tokenizer, cached, and the
live progress of a NER fine-tune (a fragment that ticks only while the job runs)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from explorer.ui.widgets import chart, live_job, note, table
from explorer.views import ner as ner_view


@st.cache_resource(max_entries=1, show_spinner=False)
def minilm_tokenizer():
    """The bundled MiniLM's tokenizer: the one the NER model is fine-tuned with (shared: never mutated)."""
    from transformers import AutoTokenizer

    from explorer.pipeline.checkpoints import MINILM, resolve

    return AutoTokenizer.from_pretrained(resolve(MINILM).location)


def report(view: ner_view.ReportView | None) -> None:
    if view is None:
        return
    table(view.overall)
    table(view.per_type)
    st.caption(view.caption)


def training_job(prefix: str) -> None:
    """The NER job this session started (see ``widgets.live_job``): progress, Stop, loss and
    validation F1, padded batches, per-epoch scores and, when done, seqeval on the held-out sentences."""

    def draw(job: Any) -> bool:
        shown = ner_view.training_progress(job)
        st.progress(shown.fraction, text=shown.text)
        note(shown.message)
        if shown.can_stop and st.button("Stop", key=f"{prefix}.stop"):
            job.stop()
        if shown.loss is not None:
            chart(shown.loss, key=f"{prefix}.loss")
        if shown.batches is not None:
            st.caption(
                "Dynamic padding: `DataCollatorForTokenClassification` pads each batch (ids and labels) only "
                "to its own longest sentence."
            )
            table(shown.batches)
        if shown.evaluations is not None:
            table(shown.evaluations)
        if shown.report is not None:
            st.subheader("seqeval on the held-out sentences")
            report(shown.report)
        return shown.finished

    live_job(prefix, draw)

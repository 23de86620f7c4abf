"""The one module of explorer/ that imports streamlit: cached loaders and the shared sidebar.

Caching: models are ``st.cache_resource`` (one copy per process, shared by all sessions, never
mutated); pipeline results are ``st.cache_resource`` too because they are frozen dataclasses of
read-only arrays (``st.cache_data`` would pickle and copy tens of MB on every rerun). Both are
bounded by ``max_entries``.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from explorer import checkpoints
from explorer.bundled import prepare_smollm2
from explorer.encoding import Encoding, Sentences, encode_batch, split_sentences
from explorer.errors import ExplorerError
from explorer.loading import LoadedCheckpoint, load_checkpoint, load_tokenizer
from explorer.run import ModelRun, run_model
from explorer.tokenizer_lab import train_tokenizer

DEFAULT_TEXT = "I've been waiting for a HuggingFace course my whole life.\nI hate this so much!"

# Session-state keys shared by every page (set by the sidebar widgets in streamlit_app.py).
TEXT_KEY = "shared.text"
PICK_KEY = "shared.checkpoint"
HUB_ID_KEY = "shared.hub_id"
FOLDER_KEY = "shared.local_folder"
SELECTION_KEY = "shared.selection"


@dataclass(frozen=True)
class PageSpec:
    """One page of the app: the router builds st.Page from it, the home page links to it."""

    path: str  # relative to the entry file
    title: str
    icon: str
    blurb: str  # what the page shows, for the home page's links
    url_path: str


PAGES: tuple[PageSpec, ...] = (
    PageSpec("pages/pipeline.py", "Pipeline", "🏠", "the whole pipeline on one screen", "pipeline"),
    PageSpec(
        "pages/tokenizer.py",
        "Tokenizer lab",
        "🔤",
        "tokens and subwords, the course's tokenizer steps, padding, truncation, masks, sentence "
        "pairs, and tokenizer families side by side",
        "tokenizer",
    ),
    PageSpec(
        "pages/model.py",
        "Inside the model",
        "🧠",
        "the config, hidden states layer by layer, and what each head class returns",
        "model",
    ),
    PageSpec(
        "pages/attention.py",
        "Attention",
        "🔦",
        "heatmaps per layer and head, bertviz views offline, and attention worked step by step",
        "attention",
    ),
    PageSpec(
        "pages/generation.py",
        "Generation",
        "✍️",
        "next-token probabilities, generation step by step, the causal mask and the logit lens",
        "generation",
    ),
    PageSpec(
        "pages/classification.py",
        "Classification",
        "🏷️",
        "logits → softmax → labels, checked against pipeline(), and a classifier fine-tuned here",
        "classification",
    ),
    PageSpec(
        "pages/save_load.py",
        "Save and load",
        "💾",
        "save_pretrained, the files it writes, and from_pretrained giving identical outputs",
        "save-load",
    ),
)


@dataclass(frozen=True)
class Selection:
    """What the sidebar says: the text and the checkpoint reference (or why there is none)."""

    text: str
    ref: str | None
    error: str | None


def _keep(key: str, default: str) -> None:
    # Widget values survive page switches only while the widget is drawn on every run; seeding
    # session state once keeps the user's choice even across runs where it is hidden.
    if key not in st.session_state:
        st.session_state[key] = default


def sidebar() -> Selection:
    """Draw the shared checkpoint picker and text box; return what they select."""
    _keep(TEXT_KEY, DEFAULT_TEXT)
    _keep(PICK_KEY, checkpoints.DEFAULT_REF)
    _keep(HUB_ID_KEY, "")
    _keep(FOLDER_KEY, "")
    entries = {entry.ref: entry for entry in checkpoints.catalog()}
    if st.session_state[PICK_KEY] not in entries:
        st.session_state[PICK_KEY] = checkpoints.DEFAULT_REF
    with st.sidebar:
        pick = st.selectbox(
            "Checkpoint",
            options=list(entries),
            format_func=lambda ref: entries[ref].label,
            key=PICK_KEY,
        )
        st.caption(entries[pick].description)
        ref, error = pick, None
        try:
            if pick == checkpoints.OTHER_HUB.ref:
                typed = st.text_input(
                    "Hub model id", key=HUB_ID_KEY, placeholder="google-bert/bert-base-cased"
                )
                ref = checkpoints.hub_ref(typed)
            elif pick == checkpoints.LOCAL_FOLDER.ref:
                typed = st.text_input("Folder path", key=FOLDER_KEY, placeholder="/path/to/checkpoint")
                ref = checkpoints.local_ref(typed)
        except ExplorerError as problem:
            ref, error = None, str(problem)
        text = st.text_area(
            "Your text: one sentence per line",
            key=TEXT_KEY,
            height=140,
            help="Each line is one sentence of the batch. Press Ctrl+Enter (or click outside) to apply.",
        )
    selection = Selection(text=text, ref=ref, error=error)
    st.session_state[SELECTION_KEY] = selection
    return selection


def navigation():
    """The app's router: one st.Page per PageSpec, the first being the home page."""
    return st.navigation(
        [
            st.Page(page.path, title=page.title, icon=page.icon, url_path=page.url_path, default=(i == 0))
            for i, page in enumerate(PAGES)
        ]
    )


def selection() -> Selection:
    """What the sidebar selected on this run (the entry file draws it before the page runs).
    When the checkpoint choice itself is wrong (a malformed Hub id, a folder that is not a
    checkpoint), say so and stop the page here; the sidebar stays usable."""
    if SELECTION_KEY not in st.session_state:
        # Streamlit ran this page without the entry file. That happens once per server: with a
        # pages/ folder beside the entry file, the first run of a fresh server on a page URL
        # (a shared link to /attention, say) uses the old folder-based routing. Calling
        # st.navigation switches the server to the entry file's routing; the rerun then runs
        # the entry file, which draws the sidebar and opens this same page.
        navigation()
        st.rerun()
    current: Selection = st.session_state[SELECTION_KEY]
    if current.error:
        show_error(current.error)
        st.stop()
    return current


@st.cache_resource(max_entries=3, show_spinner=False)
def _load(ref: str) -> LoadedCheckpoint:
    return load_checkpoint(checkpoints.resolve(ref))


def load(ref: str) -> LoadedCheckpoint:
    """The shared tokenizer + model for ``ref``, preparing the bundled decoder first if needed,
    with progress shown. Raises ExplorerError with a message for the user."""
    resolved = checkpoints.resolve(ref)
    if resolved.needs_preparation:
        bar = st.progress(0.0, text=f"Preparing {resolved.label} (once per machine)…")
        prepare_smollm2(lambda fraction, message: bar.progress(fraction, text=message))
        bar.empty()
    with st.spinner(f"Loading {resolved.label}…"):
        return _load(ref)


def _encode_and_run(
    ref: str, sentences: tuple[str, ...], hidden_states: bool, attentions: bool
) -> tuple[Encoding, ModelRun]:
    loaded = _load(ref)
    encoding = encode_batch(loaded.batch_tokenizer, sentences, max_length=loaded.max_tokens)
    return encoding, run_model(loaded, encoding, hidden_states=hidden_states, attentions=attentions)


# Two bounds: runs without hidden states or attention weights are small (shapes and logits); runs
# with them can hold up to run.MAX_ATTENTION_VALUES floats (400 MB) each, so only a few are kept.
@st.cache_resource(max_entries=32, show_spinner=False)
def _light_run(ref: str, sentences: tuple[str, ...]) -> tuple[Encoding, ModelRun]:
    return _encode_and_run(ref, sentences, False, False)


@st.cache_resource(max_entries=3, show_spinner=False)
def _heavy_run(
    ref: str, sentences: tuple[str, ...], hidden_states: bool, attentions: bool
) -> tuple[Encoding, ModelRun]:
    return _encode_and_run(ref, sentences, hidden_states, attentions)


def pipeline(
    ref: str, sentences: Sentences, *, hidden_states: bool = False, attentions: bool = False
) -> tuple[Encoding, ModelRun]:
    """Tokenize the batch (padding to the longest, truncating at the model's limit) and run it."""
    with st.spinner("Running the model…"):
        if hidden_states or attentions:
            return _heavy_run(ref, sentences.sentences, hidden_states, attentions)
        return _light_run(ref, sentences.sentences)


@st.cache_resource(max_entries=4, show_spinner=False)
def _tokenizer(ref: str):
    return load_tokenizer(checkpoints.resolve(ref))


def tokenizer(ref: str):
    """Only the tokenizer of a checkpoint (preparing the bundled decoder first if needed)."""
    resolved = checkpoints.resolve(ref)
    if resolved.needs_preparation:
        load(ref)
    return _tokenizer(ref)


@st.cache_resource(max_entries=16, show_spinner=False)
def trained_tokenizer(kind: str, corpus: str, vocab_size: int):
    """A small tokenizer trained on ``corpus`` (cached: the same text and size train once)."""
    return train_tokenizer(kind, corpus, vocab_size)


def read_sentences(text: str) -> Sentences:
    """The text box as a batch; raises InputError (shown by the caller) when it is empty."""
    return split_sentences(text)


def sentence_picker(encoding: Encoding, key: str) -> int:
    """Which sentence of the batch a view shows (no control when there is only one)."""
    if len(encoding.sentences) == 1:
        return 0
    return st.selectbox(
        "Sentence",
        range(len(encoding.sentences)),
        format_func=lambda i: f"{i}: {encoding.sentences[i][:70]}",
        key=key,
    )


def show_error(problem: Exception | str) -> None:
    """A user-facing error: one clear sentence, no traceback."""
    st.error(str(problem), icon="⚠️")

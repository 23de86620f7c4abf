"""The one module of explorer/ that imports streamlit: cached loaders and the shared sidebar.

Caching: models are ``st.cache_resource`` (one copy per process, shared by all sessions, never
mutated); pipeline results are ``st.cache_resource`` too because they are frozen dataclasses of
read-only arrays (``st.cache_data`` would pickle and copy tens of MB on every rerun). Both are
bounded by ``max_entries``.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlparse

import streamlit as st

from explorer import checkpoints, links
from explorer.bundled import prepare_smollm2
from explorer.deployment import cache_sizes, cloud_mode
from explorer.encoding import Encoding, Sentences, encode_batch, split_sentences
from explorer.errors import ExplorerError
from explorer.links import Param
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
LARGE_KEY = "display.large"
IMAGE_FORMAT_KEY = "display.image_format"
LARGE_FONT_PX = 20
# Streamlit sizes text in rem: a larger root font scales the whole page for a projector.
_LARGE_TEXT_CSS = f"<style>html {{ font-size: {LARGE_FONT_PX}px; }}</style>"


@dataclass(frozen=True)
class PageSpec:
    """One page of the app: the router builds st.Page from it, the home page links to it."""

    path: str  # relative to the entry file
    title: str
    icon: str
    blurb: str  # what the page shows, for the home page's links
    url_path: str
    params: tuple[Param, ...] = ()  # the page's settings a shared link carries


PAGES: tuple[PageSpec, ...] = (
    PageSpec("pages/pipeline.py", "Pipeline", "🏠", "the whole pipeline on one screen", "pipeline"),
    PageSpec(
        "pages/lessons.py",
        "Lessons",
        "🎓",
        "a guided tour of the pipeline for a class, step by step",
        "lessons",
    ),
    PageSpec(
        "pages/tokenizer.py",
        "Tokenizer lab",
        "🔤",
        "tokens and subwords, the course's tokenizer steps, padding, truncation, masks, sentence "
        "pairs, and tokenizer families side by side",
        "tokenizer",
        (
            Param("padding", "tok.padding", "choice", ("longest", "max_length", "do_not_pad")),
            Param("truncation", "tok.truncation", "bool"),
            Param("max_length", "tok.max_length.{ref}", "int", low=2, high=8192),
            Param("side", "tok.side", "choice", ("right", "left")),
            Param("pairs", "tok.pairs", "str"),
        ),
    ),
    PageSpec(
        "pages/model.py",
        "Inside the model",
        "🧠",
        "the config, hidden states layer by layer, and what each head class returns",
        "model",
        (Param("sentence", "model.sentence", "int", high=64),),
    ),
    PageSpec(
        "pages/attention.py",
        "Attention",
        "🔦",
        "heatmaps per layer and head, bertviz views offline, and attention worked step by step",
        "attention",
        (
            Param("sentence", "att.sentence", "int", high=64),
            Param("layer", "att.layer", "int", high=1000),
            Param("head", "att.head", "int", high=1000),
            Param("show", "att.aggregate", "choice", ("head", "head average", "layer average")),
            Param("hide_special", "att.hide_special", "bool"),
            Param("padding", "att.show_padding", "bool"),
            Param("bertviz", "att.bertviz", "choice", ("head view", "model view", "off")),
        ),
    ),
    PageSpec(
        "pages/generation.py",
        "Generation",
        "✍️",
        "next-token probabilities, generation step by step, the causal mask and the logit lens",
        "generation",
        (
            Param("chat", "gen.chat", "bool"),
            Param("temperature", "gen.temperature", "float", low=0.1, high=2.0),
            Param("top_k", "gen.top_k", "int", high=100),
            Param("top_p", "gen.top_p", "float", low=0.05, high=1.0),
            Param("mode", "gen.mode", "choice", ("greedy (most likely)", "sampling")),
            Param("seed", "gen.seed", "int", high=2**31 - 1),
        ),
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
    _keep(LARGE_KEY, False)
    _keep(IMAGE_FORMAT_KEY, "png")
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
        with st.expander("Display"):
            st.toggle("Large text (for a projector)", key=LARGE_KEY)
            st.radio(
                "Save charts as",
                ["png", "svg"],
                horizontal=True,
                key=IMAGE_FORMAT_KEY,
                help="The camera icon above each chart downloads it in this format.",
            )
            st.caption("Light or dark theme: the ⋮ menu at the top right.")
    if st.session_state.get(LARGE_KEY):
        st.html(_LARGE_TEXT_CSS)
    selection = Selection(text=text, ref=ref, error=error)
    st.session_state[SELECTION_KEY] = selection
    return selection


ROOT = Path(__file__).resolve().parents[1]


def page_file(path: str) -> str:
    """A page's file as an absolute path, so the router works whichever entry file runs it
    (streamlit_app.py, or cloud/streamlit_app.py on Community Cloud)."""
    return str(ROOT / path)


def navigation():
    """The app's router: one st.Page per PageSpec, the first being the home page."""
    return st.navigation(
        [
            st.Page(
                page_file(page.path),
                title=page.title,
                icon=page.icon,
                url_path=page.url_path,
                default=(i == 0),
            )
            for i, page in enumerate(PAGES)
        ]
    )


# --- Shareable links ---------------------------------------------------------------------------

TEXT_PARAM = Param("text", TEXT_KEY, "str")
LINK_APPLIED_KEY = "link.applied"
LINK_PROBLEMS_KEY = "link.problems"


def page_spec(page) -> PageSpec:
    """The PageSpec of the StreamlitPage that st.navigation chose."""
    url_path = getattr(page, "url_path", "") or ""
    return next((spec for spec in PAGES if spec.url_path == url_path), PAGES[0])


def _checkpoint_from_link(value: str) -> dict[str, str]:
    """Widget states that select the checkpoint a link names; CheckpointError when invalid."""
    if checkpoints.entry_for(value) and value not in (
        checkpoints.OTHER_HUB.ref,
        checkpoints.LOCAL_FOLDER.ref,
    ):
        return {PICK_KEY: value}
    source, _, rest = value.partition(":")
    if source == "hub":
        checkpoints.hub_ref(rest)
        return {PICK_KEY: checkpoints.OTHER_HUB.ref, HUB_ID_KEY: rest}
    if source == "local":
        if cloud_mode():
            raise ExplorerError(checkpoints.CLOUD_NO_FOLDERS.rstrip("."))
        return {PICK_KEY: checkpoints.LOCAL_FOLDER.ref, FOLDER_KEY: rest}
    raise ExplorerError(f"the checkpoint '{value[:60]}' is not one this app knows")


def apply_link() -> None:
    """On a session's first run, take the settings a shared link carries (before any widget)."""
    if st.session_state.get(LINK_APPLIED_KEY):
        return
    st.session_state[LINK_APPLIED_KEY] = True
    query = {name: st.query_params[name] for name in st.query_params}
    if not query:
        return
    problems: list[str] = []
    ckpt = query.get("ckpt")
    ref = checkpoints.DEFAULT_REF
    if ckpt:
        try:
            st.session_state.update(_checkpoint_from_link(ckpt))
            ref = ckpt
        except ExplorerError as problem:
            problems.append(f"The link's checkpoint was ignored: {problem}.")
    every_page = tuple(param for spec in PAGES for param in spec.params)  # keys are page-prefixed
    updates, bad = links.decode(query, (TEXT_PARAM, *every_page), ref)
    st.session_state.update(updates)
    st.session_state[LINK_PROBLEMS_KEY] = problems + bad


def share_box(page) -> None:
    """Keep the browser's URL in step with the view, and offer the link to copy (every page)."""
    spec = page_spec(page)
    current = st.session_state.get(SELECTION_KEY)
    ref = current.ref if current and current.ref else st.session_state.get(PICK_KEY, checkpoints.DEFAULT_REF)
    link = links.encode(st.session_state, (TEXT_PARAM, *spec.params), ref)
    query = "ckpt=" + quote(ref, safe=":/") + ("&" + link.query if link.query else "")
    if {k: st.query_params[k] for k in st.query_params} != dict(parse_qsl(query)):
        st.query_params.from_dict(dict(parse_qsl(query)))
    base = urlparse(st.context.url or "http://127.0.0.1:8501/")
    url = f"{base.scheme}://{base.netloc}/{spec.url_path if spec is not PAGES[0] else ''}?{query}"
    with st.sidebar.expander("Share this view"):
        st.caption(
            "This link opens this page with the same text, checkpoint and settings (copy it with the icon)."
        )
        st.code(url, language=None, wrap_lines=True)
        if link.note:
            st.warning(link.note)
        for problem in st.session_state.get(LINK_PROBLEMS_KEY, []):
            st.warning(problem)


def ensure_routed() -> None:
    """Every page calls this first (selection() does). Streamlit ran this page without the entry
    file when the selection is missing. That happens once per server: with a pages/ folder beside
    the entry file, the first run of a fresh server on a page URL (a shared link to /attention,
    say) uses the old folder-based routing. Calling st.navigation switches the server to the entry
    file's routing; the rerun then runs the entry file, which draws the sidebar and opens this
    same page."""
    if SELECTION_KEY not in st.session_state:
        navigation()
        st.rerun()


def selection() -> Selection:
    """What the sidebar selected on this run (the entry file draws it before the page runs).
    When the checkpoint choice itself is wrong (a malformed Hub id, a folder that is not a
    checkpoint), say so and stop the page here; the sidebar stays usable."""
    ensure_routed()
    current: Selection = st.session_state[SELECTION_KEY]
    if current.error:
        show_error(current.error)
        stop()
    return current


CACHE = cache_sizes()  # smaller on a shared (cloud) deployment


@st.cache_resource(max_entries=CACHE["models"], show_spinner=False)
def _load(ref: str) -> LoadedCheckpoint:
    return load_checkpoint(checkpoints.resolve(ref))


def _resolve_prepared(ref: str) -> checkpoints.ResolvedCheckpoint:
    """Resolve ``ref``; the bundled decoder is first prepared from its GGUF file, with progress."""
    resolved = checkpoints.resolve(ref)
    if resolved.needs_preparation:
        bar = st.progress(0.0, text=f"Preparing {resolved.label} (once per machine)…")
        prepare_smollm2(lambda fraction, message: bar.progress(fraction, text=message))
        bar.empty()
    return resolved


def load(ref: str) -> LoadedCheckpoint:
    """The shared tokenizer + model for ``ref``, preparing the bundled decoder first if needed,
    with progress shown. Raises ExplorerError with a message for the user."""
    resolved = _resolve_prepared(ref)
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
@st.cache_resource(max_entries=CACHE["light_runs"], show_spinner=False)
def _light_run(ref: str, sentences: tuple[str, ...]) -> tuple[Encoding, ModelRun]:
    return _encode_and_run(ref, sentences, False, False)


@st.cache_resource(max_entries=CACHE["heavy_runs"], show_spinner=False)
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


@st.cache_resource(max_entries=CACHE["tokenizers"], show_spinner=False)
def _tokenizer(ref: str):
    return load_tokenizer(checkpoints.resolve(ref))


def tokenizer(ref: str):
    """Only the tokenizer of a checkpoint (preparing the bundled decoder first if needed; the
    model is not loaded)."""
    _resolve_prepared(ref)
    return _tokenizer(ref)


@st.cache_resource(max_entries=CACHE["trained_tokenizers"], show_spinner=False)
def trained_tokenizer(kind: str, corpus: str, vocab_size: int):
    """A small tokenizer trained on ``corpus`` (cached: the same text and size train once)."""
    return train_tokenizer(kind, corpus, vocab_size)


@dataclass(frozen=True)
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
    return PageData(current, sentences, loaded, encoding, result)


def use_checkpoint(ref: str) -> None:
    """Button callback: switch the shared checkpoint picker to ``ref``."""
    st.session_state[PICK_KEY] = ref


def read_sentences(text: str) -> Sentences:
    """The text box as a batch; raises InputError (shown by the caller) when it is empty."""
    return split_sentences(text)


def chart(figure, key: str, filename: str | None = None, where=None) -> None:
    """Every chart goes through here: larger fonts in projector mode, and the toolbar's camera
    saves it as PNG or SVG (the sidebar's choice) under a useful file name."""
    if st.session_state.get(LARGE_KEY):
        figure.update_layout(font={"size": 18}, title={"font": {"size": 22}})
    config = {
        "toImageButtonOptions": {
            "format": st.session_state.get(IMAGE_FORMAT_KEY, "png"),
            "filename": filename or key.replace(".", "-"),
            "scale": 2,
        },
        "displaylogo": False,
    }
    (where or st).plotly_chart(figure, key=key, config=config)


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


class PageStop(Exception):
    """Raised by :func:`stop`: the page has said what is wrong and draws nothing more."""


_router = threading.local()


@contextlib.contextmanager
def page_router():
    """Run the chosen page inside this: a page that stops early (ui.stop) ends here, and the entry
    file goes on to draw what follows the page."""
    _router.active = True
    try:
        yield
    except PageStop:
        pass
    finally:
        _router.active = False


def stop() -> None:
    """End the page here (after showing a message). Inside page_router the entry file still draws
    what comes after the page (the share box); a page run on its own (Streamlit's folder-based
    routing, see selection()) stops with st.stop()."""
    if getattr(_router, "active", False):
        raise PageStop
    st.stop()


def show_error(problem: Exception | str) -> None:
    """A user-facing error: one clear sentence, no traceback."""
    st.error(str(problem), icon="⚠️")


# --- Guided lessons ------------------------------------------------------------------------------

LESSON_STEP_KEY = "lesson.step"
LESSON_GOTO_KEY = "lesson.goto"


def start_step(index: int) -> None:
    """Button callback: preset the text, checkpoint and page settings of a lesson step, and ask
    the entry file to open its page (a callback cannot switch pages itself)."""
    from explorer.lessons import LESSON

    step = LESSON[index]
    st.session_state[LESSON_STEP_KEY] = index
    st.session_state[TEXT_KEY] = step.text
    st.session_state[PICK_KEY] = step.ref if checkpoints.entry_for(step.ref) else checkpoints.DEFAULT_REF
    st.session_state.update(step.settings)
    st.session_state[LESSON_GOTO_KEY] = step.page


def end_lesson() -> None:
    st.session_state.pop(LESSON_STEP_KEY, None)


def go_to_pending_page() -> None:
    """Open the page a lesson step asked for (called by the entry file before the page runs)."""
    goto = st.session_state.pop(LESSON_GOTO_KEY, None)
    if goto:
        st.switch_page(page_file(goto))


def lesson_banner(page) -> None:
    """On the page of the current lesson step: its explanation of what is on screen, its
    question, and the way on."""
    from explorer.lessons import LESSON, Facts

    index = st.session_state.get(LESSON_STEP_KEY)
    if index is None or page_spec(page).path != LESSON[index].page:
        return
    step = LESSON[index]
    with st.container(border=True):
        st.markdown(f"**🎓 Lesson, step {index + 1} of {len(LESSON)}: {step.title}**")
        current = st.session_state.get(SELECTION_KEY)
        try:
            if current is None or current.ref is None:
                raise ExplorerError(current.error if current else "Pick a checkpoint.")
            sentences = read_sentences(current.text)
            loaded = load(current.ref)
            encoding, run = pipeline(
                current.ref, sentences, hidden_states=step.hidden_states, attentions=step.attentions
            )
            st.markdown(step.explain(Facts(loaded, encoding, run)))
        except ExplorerError as problem:
            st.markdown(f"This step explains what the page shows once it can run: {problem}")
        st.markdown(f"**Try it:** {step.question}")
        columns = st.columns([1, 1, 4])
        if index > 0:
            columns[0].button("← Previous", on_click=start_step, args=(index - 1,), key="lesson.previous")
        if index + 1 < len(LESSON):
            columns[1].button(
                "Next step →", on_click=start_step, args=(index + 1,), type="primary", key="lesson.next"
            )
        columns[2].button("End the lesson", on_click=end_lesson, key="lesson.end")

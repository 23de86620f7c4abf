"""The home page: the course's whole pipeline on one screen, tokenizer -> model -> postprocessing.

:func:`build` turns a loaded checkpoint, its encoded batch and its run into a :class:`View`
holding every sentence, number, table and HTML fragment the page shows. Postprocessing is
``explorer.postprocess.postprocess`` (what ``pipeline()`` does for the loaded head)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from explorer import postprocess
from explorer.encoding import Encoding
from explorer.loading import HEAD_DESCRIPTIONS, LoadedCheckpoint
from explorer.render import batch_grid_html, probability_bars_html, token_chips_html
from explorer.run import ModelRun
from explorer.tokenizer_lab import encoding_json
from explorer.views.common import Note, Table, table

MAX_SHOWN_CHARACTERS = 300  # a longer sentence is cut above its chips (the chips show every token)


@dataclass(frozen=True)
class Settings:
    """The home page has no settings of its own: it shows the sidebar's text and checkpoint."""

    PREFIX: ClassVar[str] = "home"


@dataclass(frozen=True)
class SentenceTokens:
    """One sentence of the batch, step ①."""

    title: str  # "**Sentence 0**"
    text: str  # the sentence as typed (cut when very long)
    chips_html: str  # its tokens and input IDs
    truncation: Note | None  # how many tokens truncation cut, if any


@dataclass(frozen=True)
class Metric:
    label: str
    value: str


@dataclass(frozen=True)
class PredictionBlock:
    """Step ③ for one sentence (and position): what pipeline() would return."""

    title: str  # "**Sentence 0: label probabilities**"
    bars_html: str | None  # probability bars: only for probabilities in [0, 1]
    score: Note | None  # a regression head's raw score, as a number (no bar)
    prediction: postprocess.Prediction  # the labels / tokens and their scores, best first


@dataclass(frozen=True)
class Link:
    """A page to go deeper: ``path`` for st.page_link, the label and the icon."""

    path: str
    label: str
    icon: str


@dataclass(frozen=True)
class View:
    caption: str  # the checkpoint, how it was loaded and what its head does
    # ① Tokenizer
    sentences: tuple[SentenceTokens, ...]  # [B]
    batch_title: str  # "The batch tensor: input_ids of shape [B, S]"
    batch_intro: str
    pad_note: Note | None  # which pad token the app chose, when the checkpoint has none
    batch_html: str
    batch_json: str  # the download
    # ② Model
    metrics: tuple[Metric, ...]  # layers, heads, hidden size, parameters
    heads_note: Note | None  # grouped-query attention, when key/value heads are fewer
    model_sentence: str
    outputs: Table  # one row per output tensor: name, shape, axes
    # ③ Postprocessing
    postprocess_header: str
    postprocess_intro: Note | None  # the function applied, in words
    predictions: tuple[PredictionBlock, ...]
    no_predictions: Note | None  # why there is nothing to show
    # Go deeper
    links: tuple[Link, ...]


def config_value(config: Any, *names: str) -> int | None:
    """The first of ``names`` the config has (GPT-2 says n_layer, BERT num_hidden_layers…)."""
    for name in names:
        value = getattr(config, name, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


LAYER_NAMES = ("num_hidden_layers", "n_layer", "n_layers", "num_layers")
HEAD_NAMES = ("num_attention_heads", "n_head", "n_heads", "num_heads")
HIDDEN_NAMES = ("hidden_size", "n_embd", "dim", "d_model")


def _count(value: int | None) -> str:
    return "not in the config" if value is None else f"{value:,}"


def parameters_text(count: int) -> str:
    """22.7 M for a real model; the exact count for a tiny one (0.0 M would be false)."""
    return f"{count / 1e6:.1f} M" if count >= 1_000_000 else f"{count:,}"


def _sentence(encoding: Encoding, loaded: LoadedCheckpoint, b: int) -> SentenceTokens:
    sentence = encoding.sentences[b]
    shown = (
        sentence
        if len(sentence) <= MAX_SHOWN_CHARACTERS
        else sentence[:MAX_SHOWN_CHARACTERS] + f"… ({len(sentence):,} characters)"
    )
    cut = encoding.truncated[b]
    truncation = (
        Note(
            "warning",
            f"Sentence {b} is longer than this model's limit of {loaded.max_tokens} tokens: "
            f"{cut:,} token(s) were cut (truncation).",
        )
        if cut
        else None
    )
    chips = token_chips_html(encoding, b, unk_id=loaded.tokenizer.unk_token_id)
    return SentenceTokens(f"**Sentence {b}**", shown, chips, truncation)


def _metrics(loaded: LoadedCheckpoint) -> tuple[tuple[Metric, ...], Note | None]:
    config = loaded.config
    heads = config_value(config, *HEAD_NAMES)
    metrics = (
        Metric("Layers", _count(config_value(config, *LAYER_NAMES))),
        Metric("Attention heads", _count(heads)),
        Metric("Hidden size", _count(config_value(config, *HIDDEN_NAMES))),
        Metric("Parameters", parameters_text(loaded.num_parameters)),
    )
    kv_heads = config_value(config, "num_key_value_heads")
    note = None
    if heads and kv_heads and kv_heads != heads:
        note = Note(
            "caption",
            f"Grouped-query attention: the {heads} query heads of each layer share {kv_heads} "
            "key/value heads.",
        )
    return metrics, note


def _postprocess_intro(loaded: LoadedCheckpoint, run: ModelRun) -> Note | None:
    if run.logits is None:
        return None
    if run.logit_positions is None:
        function = postprocess.classification_function(loaded.config)
        return Note(
            "markdown",
            f'For this head `pipeline("text-classification")` applies {postprocess.FUNCTION_TEXT[function]}. '
            "The config's `id2label` names the labels.",
        )
    if loaded.head_class == "AutoModelForCausalLM":
        return Note(
            "markdown",
            "A softmax over the vocabulary turns the logits after each sentence's last token into "
            "next-token probabilities; the most likely tokens are shown.",
        )
    return Note(
        "markdown",
        "A softmax over the vocabulary at each masked position gives the probability of each token "
        'that could fill it, as `pipeline("fill-mask")` does; the most likely tokens are shown.',
    )


def _block(prediction: postprocess.Prediction, loaded: LoadedCheckpoint) -> PredictionBlock:
    b, position = prediction.sentence, prediction.position
    if position is None and prediction.function == "none":
        scores = ", ".join(
            f"`{label}` = **{score:.4f}**"
            for label, score in zip(prediction.labels, prediction.scores, strict=True)
        )
        note = Note("markdown", f"{scores} (the raw score; no function applied)")
        return PredictionBlock(f"**Sentence {b}: the regression score**", None, note, prediction)
    if position is None:
        where = f"Sentence {b}: label probabilities"
    elif loaded.head_class == "AutoModelForCausalLM":
        where = f"Sentence {b}: the next token after position {position}"
    else:
        where = f"Sentence {b}: the masked token at position {position}"
    bars = probability_bars_html(prediction.labels, prediction.scores)  # probabilities in [0, 1]
    return PredictionBlock(f"**{where}**", bars, None, prediction)


def _no_predictions(loaded: LoadedCheckpoint, predictions: tuple) -> Note | None:
    if loaded.head_class == "AutoModel":
        return Note(
            "info",
            "This checkpoint has no task head, so there are no logits to turn into probabilities: its "
            "output is the hidden states above, one vector per token. A classification head would map "
            "them to one logit per label; a language-model head to one score per vocabulary token.",
        )
    if predictions:
        return None
    mask = loaded.tokenizer.mask_token
    if loaded.head_class == "AutoModelForMaskedLM":
        if mask:
            return Note(
                "info",
                f"This masked language model predicts hidden words: put {mask} in a sentence to see its guesses.",
            )
        return Note(
            "info",
            "This masked language model's tokenizer has no mask token, so there is nothing to predict.",
        )
    return Note("info", f"`{loaded.head_class}` returned no logits to postprocess for this text.")


def build(loaded: LoadedCheckpoint, encoding: Encoding, run: ModelRun) -> View:
    """Everything the home page shows for this checkpoint and batch."""
    from explorer.registry import PAGES  # the registry imports this module for its Settings

    B, S = encoding.shape  # input_ids is [B, S]
    description = HEAD_DESCRIPTIONS.get(loaded.head_class, "a task head")
    metrics, heads_note = _metrics(loaded)
    predictions = postprocess.postprocess(run, loaded)  # best first, per sentence (and position)
    regression = run.logit_positions is None and postprocess.classification_function(loaded.config) == "none"
    return View(
        caption=(
            f"**{loaded.resolved.label}** · loaded as `{loaded.head_class}` → `{loaded.model_class}` "
            f"({description})"
        ),
        sentences=tuple(_sentence(encoding, loaded, b) for b in range(B)),
        batch_title=f"The batch tensor: input_ids of shape [{B}, {S}]",
        batch_intro=(
            "Sentences of different lengths are **padded** to the longest one so they stack into one "
            "tensor; the **attention mask** marks real tokens (1) and padding (0)."
        ),
        pad_note=Note("caption", loaded.pad_note) if loaded.pad_note else None,
        batch_html=batch_grid_html(encoding),
        batch_json=encoding_json(encoding),
        metrics=metrics,
        heads_note=heads_note,
        model_sentence=f"`{loaded.head_class}.from_pretrained(...)` built a `{loaded.model_class}`. It returned:",
        outputs=table(
            [{"output": o.name, "shape": str(list(o.shape)), "axes": o.meaning} for o in run.outputs],
            index="output",
        ),
        postprocess_header=(
            "③ Postprocessing: logits → scores" if regression else "③ Postprocessing: logits → probabilities"
        ),
        postprocess_intro=_postprocess_intro(loaded, run),
        predictions=tuple(_block(p, loaded) for p in predictions),
        no_predictions=_no_predictions(loaded, predictions),
        links=tuple(Link(page.path, f"{page.title}: {page.blurb}", page.icon) for page in PAGES[1:]),
    )

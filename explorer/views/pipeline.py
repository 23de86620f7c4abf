"""The home page: the course's whole pipeline on one screen, tokenizer -> model -> postprocessing.

:func:`build` turns a loaded checkpoint, its encoded batch and its run into a :class:`View`
holding every sentence, number, table and HTML fragment the page shows. Postprocessing is
``explorer.pipeline.postprocess.postprocess`` (what ``pipeline()`` does for the loaded head)."""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from explorer.drawing.render import batch_grid_html, probability_bars_html, token_chips_html
from explorer.explain.tokenizer_lab import encoding_json
from explorer.pipeline import architecture, checkpoints, postprocess, tasks
from explorer.pipeline.encoding import Encoding
from explorer.pipeline.loading import LoadedCheckpoint
from explorer.pipeline.run import ModelRun
from explorer.pipeline.token_display import shown_tokens
from explorer.training import finetune as ft
from explorer.views import flow as flow_view
from explorer.views import tasks as task_views
from explorer.views.common import Note, Table, shown_sentence, table
from explorer.views.generation import quantized_note
from explorer.views.settings import setting
from explorer.views.tokenizer import Limits, limits

# The course's first example (chapter 2, "Behind the pipeline"): the sidebar's default text.
COURSE_SENTENCES = (
    "I've been waiting for a HuggingFace course my whole life.",
    "I hate this so much!",
)
CLASSIFIER_HEAD = tasks.SEQUENCE_CLASSIFICATION
# The course's T5 task prefixes (chapter 1, "Transformer models"; chapter 7): T5 reads the task from
# the start of the text. Offered as examples on an encoder-decoder's page.
T5_PREFIXES = (
    "translate English to German: The house is wonderful.",
    "summarize: Transformers are models that read a whole sentence at once and learn from context.",
)


_DEFAULT_INPUTS = tasks.TaskInputs()


@dataclass(frozen=True, kw_only=True)
class Settings:
    """The home page shows the sidebar's text and checkpoint; these are the inputs of the tasks
    that need more than sentences (only the loaded task's are drawn, in step ③)."""

    PREFIX: ClassVar[str] = "home"
    labels: str = setting(
        "str",
        "Candidate labels (comma-separated)",
        _DEFAULT_INPUTS.labels,
        widget="text_input",
        help="Zero-shot classification scores each sentence against each of these labels.",
    )
    template: str = setting(
        "str",
        "Hypothesis template",
        _DEFAULT_INPUTS.template,
        widget="text_input",
        help="Each label is put in place of {} to make the hypothesis the NLI head reads.",
    )
    multi_label: bool = setting(
        "bool",
        "Several labels can be true (multi-label)",
        _DEFAULT_INPUTS.multi_label,
        widget="toggle",
        help="Off: a softmax over the labels (they compete). On: each label scored on its own.",
    )
    question: str = setting(
        "str",
        "Question",
        _DEFAULT_INPUTS.question,
        widget="text_input",
        help="The sentences in the sidebar are the context the answer is taken from.",
    )
    choices: str = setting(
        "str",
        "Choices (separated by |)",
        _DEFAULT_INPUTS.choices,
        widget="text_input",
        help="Each sentence in the sidebar is a prompt; the model scores each choice as its continuation.",
    )
    aggregation: str = setting(
        "choice",
        "Aggregation strategy",
        _DEFAULT_INPUTS.aggregation,
        widget="radio",
        choices=("none", "simple", "first", "average", "max"),
        help="How token labels are merged into entities (pipeline's aggregation_strategy).",
    )

    def task_inputs(self) -> tasks.TaskInputs:
        return tasks.TaskInputs(
            **{f.name: getattr(self, f.name) for f in dataclasses.fields(tasks.TaskInputs)}
        )


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
    """A page to go deeper: ``path`` for st.page_link, the label and the icon (the page registry,
    :func:`explorer.app.registry.go_deeper`, makes them: this module sits below it)."""

    path: str
    label: str
    icon: str


@dataclass(frozen=True)
class ClassifierOffer:
    """On a checkpoint without a classification head: how to get the default classifier."""

    note: Note
    button: str  # the button's label
    use_ref: str | None  # the classifier to switch to (built); None: the button builds it first


@dataclass(frozen=True)
class Generated:
    """What an encoder-decoder's decoder wrote for one sentence (greedy, from its start token)."""

    sentence: int
    text: str  # tokenizer.decode(generated ids, skip_special_tokens=True)
    tokens: tuple[str, ...]  # the generated tokens, start token excluded
    ids: tuple[int, ...]


@dataclass(frozen=True, kw_only=True)
class Seq2SeqPart:
    """Step ② for an encoder-decoder (T5, BART): encoder, decoder, and what the decoder generated."""

    intro: Note  # the encoder reads, the decoder starts from decoder_start_token_id and generates
    shapes: Table  # encoder and decoder hidden states, cross-attention: name, shape, axes
    generated: tuple[Generated, ...]  # [B]
    table: Table  # sentence, generated text, tokens
    prefixes: Note  # the course's T5 task prefixes, as examples
    examples: tuple[str, ...]  # those example sentences (the page offers them for the text box)


@dataclass(frozen=True, kw_only=True)
class View:
    caption: str  # the checkpoint, how it was loaded and what its head does
    flow: flow_view.FlowPart  # the whole flow in one picture, each box linked to its page
    example: Note | None  # the course's first example, when the text is its two sentences
    classifier: ClassifierOffer | None  # the default classifier, when this checkpoint has no head
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
    quantized: Note | None  # the weights were de-quantized from a GGUF file (SmolLM2)
    # Go deeper
    seq2seq: Seq2SeqPart | None = None  # encoder-decoders only
    # ③ for the tasks with a module of their own (explorer.views.tasks.<module>.View): feature extraction,
    # token classification, zero-shot, question answering, multiple choice
    task: Any = None
    task_inputs: tuple[str, ...] = ()  # the Settings fields that task reads (its widgets)


def config_value(config: Any, *names: str) -> int | None:
    """The first of ``names`` the config has (GPT-2 says n_layer, BERT num_hidden_layers…)."""
    for name in names:
        value = getattr(config, name, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


LAYER_NAMES = architecture.LAYER_FIELDS
HEAD_NAMES = architecture.HEAD_FIELDS
HIDDEN_NAMES = architecture.HIDDEN_FIELDS


def _count(value: int | None) -> str:
    return "not in the config" if value is None else f"{value:,}"


def parameters_text(count: int) -> str:
    """22.7 M for a real model; the exact count for a tiny one (0.0 M would be false)."""
    return f"{count / 1e6:.1f} M" if count >= 1_000_000 else f"{count:,}"


def truncation_sentence(b: int, cut: int, limit: Limits) -> str:
    """Sentence b lost ``cut`` tokens: the limit that cut it, and the other limits beside it."""
    positions = (
        f"the model's maximum is {limit.positions:,} positions ({limit.positions_field})"
        if limit.positions
        else "the model's config sets no maximum number of positions"
    )
    if limit.applies == "model":
        who = f"the model's own limit: {positions}; the app's cap is {limit.app_cap:,} tokens"
    elif limit.applies == "tokenizer":
        who = (
            f"the tokenizer's limit (model_max_length = {limit.tokenizer_limit:,}); {positions}, "
            f"and the app's cap is {limit.app_cap:,} tokens"
        )
    else:
        who = (
            f"the app's cap of {limit.app_cap:,} tokens, not the model: {positions}, but the app runs at "
            "most that many tokens through any model (attention grows as tokens²)"
        )
    return (
        f"Sentence {b} was cut to {limit.max_tokens:,} tokens: {cut:,} token(s) were cut (truncation) "
        f"by {who}."
    )


def _sentence(encoding: Encoding, loaded: LoadedCheckpoint, b: int, limit: Limits) -> SentenceTokens:
    shown = shown_sentence(encoding.sentences[b])
    cut = encoding.truncated[b]
    truncation = Note("warning", truncation_sentence(b, cut, limit)) if cut else None
    chips = token_chips_html(encoding, b, unk_id=loaded.tokenizer.unk_token_id)
    return SentenceTokens(f"**Sentence {b}**", shown, chips, truncation)


def _metrics(loaded: LoadedCheckpoint) -> tuple[tuple[Metric, ...], Note | None]:
    config = loaded.config
    heads = config_value(config, *HEAD_NAMES)
    layers = Metric("Layers", _count(config_value(config, *LAYER_NAMES)))
    if loaded.is_encoder_decoder:
        encoder_layers = config_value(config, "encoder_layers", *LAYER_NAMES)
        decoder_layers = config_value(config, "decoder_layers", "num_decoder_layers")
        layers = Metric("Layers (encoder + decoder)", f"{_count(encoder_layers)} + {_count(decoder_layers)}")
    metrics = (
        layers,
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
    if run.logits is None or loaded.task.module:
        return None
    if run.logit_positions is None:
        function = postprocess.classification_function(loaded.config)
        return Note(
            "markdown",
            f'For this head `pipeline("text-classification")` applies {postprocess.FUNCTION_TEXT[function]}. '
            "The config's `id2label` names the labels.",
        )
    if loaded.head_class == tasks.CAUSAL_LM:
        return Note(
            "markdown",
            "A softmax over the vocabulary turns the logits after each sentence's last token into "
            "next-token probabilities; the most likely tokens are shown.",
        )
    if loaded.is_encoder_decoder:
        return Note(
            "markdown",
            "A softmax over the vocabulary turns the decoder's logits at its last position (the step "
            "that wrote the last generated token) into next-token probabilities; the most likely "
            "tokens are shown.",
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
    elif loaded.head_class == tasks.CAUSAL_LM:
        where = f"Sentence {b}: the next token after position {position}"
    elif loaded.is_encoder_decoder:
        where = f"Sentence {b}: the decoder's next token after decoder position {position}"
    else:
        where = f"Sentence {b}: the masked token at position {position}"
    shown = shown_tokens(loaded.tokenizer, prediction.labels) if position is not None else prediction.labels
    bars = probability_bars_html(shown, prediction.scores, raw=prediction.labels)  # probabilities in [0, 1]
    return PredictionBlock(f"**{where}**", bars, None, prediction)


def _no_predictions(loaded: LoadedCheckpoint, predictions: tuple) -> Note | None:
    if loaded.task.module:  # the task's own section (below) is step ③
        return None
    if predictions:
        return None
    mask = loaded.tokenizer.mask_token
    if loaded.head_class == tasks.MASKED_LM:
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


def postprocess_header(loaded: LoadedCheckpoint, run: ModelRun) -> str:
    """The step's title, naming the function this head's postprocessing applies."""
    if loaded.task.step_title:
        return loaded.task.step_title
    if run.logits is None:
        return "③ Postprocessing: logits → probabilities"
    if run.logit_positions is not None:  # a language-model head: a softmax over the vocabulary
        return "③ Postprocessing: logits → softmax → token probabilities"
    function = postprocess.classification_function(loaded.config)
    if function == "none":
        return "③ Postprocessing: logits → scores"
    return f"③ Postprocessing: logits → {function} → labelled probabilities"


def _example(loaded: LoadedCheckpoint, encoding: Encoding) -> Note | None:
    """The course's first example, named when the text is its two sentences."""
    if tuple(encoding.sentences) != COURSE_SENTENCES:
        return None
    course = (
        "These are the two sentences of the course's first example (chapter 2, *Behind the pipeline*), "
        'where `pipeline("sentiment-analysis")` labels each one POSITIVE or NEGATIVE.'
    )
    if loaded.task is tasks.TEXT_CLASSIFICATION:
        function = postprocess.classification_function(loaded.config)
        steps = {
            "softmax": "the tokenizer turns them into input IDs, the model into one logit per label, and a "
            "softmax into labelled probabilities: the whole example, end to end, below.",
            "sigmoid": "here the head is multi-label, so a sigmoid (not the course's softmax) turns each "
            "label's logit into its own probability.",
            "none": "here the head is a regression head, so its raw score is the answer (no softmax).",
        }[function]
        return Note("markdown", f"{course} With this classifier, {steps}")
    return Note("markdown", f"{course} This checkpoint is {loaded.task.instead}.")


def _build_estimate() -> str:
    """How long building the default classifier takes: its steps and, when a fine-tune was
    measured on this machine (its explorer_training.json), the time at that rate."""
    train, _ = ft.bundled_dataset()
    config = ft.TrainingConfig()
    steps = math.ceil(len(train.texts) / config.batch_size) * config.epochs
    rate = ft.measured_rate(ft.default_classifier_folder())
    return f"{steps} training steps" + (
        "" if rate is None else ", " + rate.estimate(len(train.texts) * config.epochs)
    )


def _classifier_offer(loaded: LoadedCheckpoint, built: bool) -> ClassifierOffer | None:
    """How to get the default classifier, on a checkpoint with no task head."""
    if loaded.head_class != tasks.BASE:
        return None
    if built:
        return ClassifierOffer(
            Note(
                "info",
                f"For labelled probabilities, use the default classifier ({checkpoints.CLASSIFIER_NAME}): "
                "MiniLM fine-tuned on the sentences written for this app.",
            ),
            f"Use the default classifier ({checkpoints.CLASSIFIER_NAME})",
            checkpoints.CLASSIFIER,
        )
    return ClassifierOffer(
        Note(
            "info",
            "The course's example ends in labelled probabilities, which need a classification head. "
            f"The default classifier ({checkpoints.CLASSIFIER_NAME}: the bundled MiniLM fine-tuned on the "
            "sentences written for this app) has not been built here yet (`make run` builds it). One "
            f"click builds it: {_build_estimate()}. Meanwhile this page shows this checkpoint, which has "
            "no head; the Classification page explains the fine-tuning.",
        ),
        "Build the default classifier",
        None,
    )


# --- Building the default classifier (one build per server, shared by every session) -----------

_build_lock = threading.Lock()
_build_job: ft.TrainingJob | None = None


def build_default_classifier(probes: Sequence[str] = ()) -> ft.TrainingJob:
    """Start fine-tuning the bundled MiniLM into the default classifier, or return the build
    already running on this server. Raises ExplorerError when MiniLM cannot be found."""
    global _build_job
    with _build_lock:
        if _build_job is not None and not _build_job.finished:
            return _build_job
        base = checkpoints.resolve(checkpoints.MINILM).location  # a folder, or the Hub id in cloud mode
        train, validation = ft.bundled_dataset()
        _build_job = ft.TrainingJob(
            base, train, validation, checkpoints.classifier_folder(), probes=tuple(probes)
        ).start()
        return _build_job


def _shape_of(run: ModelRun, prefix: str) -> tuple[int, ...] | None:
    for output in run.outputs:
        if output.name == prefix or output.name.startswith(prefix + "["):
            return output.shape
    return None


def _count_of(run: ModelRun, prefix: str) -> int | None:
    """How many tensors the output tuple ``prefix`` holds ("decoder_hidden_states[0…2]" -> 3)."""
    for output in run.outputs:
        if output.name.startswith(prefix + "[0…"):
            return int(output.name[len(prefix) + 3 : -1]) + 1
    return None


def _seq2seq_intro(loaded: LoadedCheckpoint, run: ModelRun) -> Note:
    """What an encoder and a decoder do, with this run's decoder start token and length."""
    assert run.decoder_input_ids is not None  # [B, T]
    start = int(run.decoder_input_ids[0, 0])
    start_token = loaded.tokenizer.convert_ids_to_tokens(start)
    T = run.decoder_input_ids.shape[1]
    return Note(
        "markdown",
        f"**An encoder-decoder.** The **encoder** reads the whole text at once (attention both ways) "
        f"and gives one vector per input token. The **decoder** starts from the "
        f"`decoder_start_token_id` `{start_token}` (id {start}) and writes the output one token at a "
        "time, greedily (the most likely token each step, as `model.generate(do_sample=False)`): each "
        "step attends to the tokens it already wrote (causal self-attention) and to the encoder's "
        "vectors (cross-attention), until it writes the end token "
        f"or {T} tokens. Below, what it generated for each sentence.",
    )


def _seq2seq_shapes(encoding: Encoding, run: ModelRun) -> list[dict[str, str]]:
    """One row per part the encoder-decoder returned: its shape and axes."""
    assert run.decoder_input_ids is not None  # [B, T]
    B, S = encoding.shape
    T = run.decoder_input_ids.shape[1]
    rows = []
    enc_hidden, dec_hidden = _shape_of(run, "encoder_hidden_states"), _shape_of(run, "decoder_hidden_states")
    enc_count, dec_count = _count_of(run, "encoder_hidden_states"), _count_of(run, "decoder_hidden_states")
    if enc_hidden is not None:
        rows.append(
            {
                "part": "encoder hidden states",
                "shape": str([enc_count, *enc_hidden]),
                "axes": "[embeddings + encoder layers, batch, input tokens, hidden]",
            }
        )
    rows.append(
        {
            "part": "decoder input ids",
            "shape": str([B, T]),
            "axes": "[batch, decoder tokens] (start + generated)",
        }
    )
    if dec_hidden is not None:
        rows.append(
            {
                "part": "decoder hidden states",
                "shape": str([dec_count, *dec_hidden]),
                "axes": "[embeddings + decoder layers, batch, decoder tokens, hidden]",
            }
        )
    cross = _shape_of(run, "cross_attentions")
    if cross is not None:
        rows.append(
            {
                "part": "cross-attention (one layer)",
                "shape": str(list(cross)),
                "axes": f"[batch, heads, decoder queries, encoder keys ({S} input tokens)]",
            }
        )
    return rows


_T5_PREFIXES_NOTE = Note(
    "markdown",
    "T5 reads its task from a text prefix, as in the course: try a line such as "
    + " or ".join(f"`{p}`" for p in T5_PREFIXES)
    + ". A checkpoint trained on those tasks translates or summarizes; this page shows whatever "
    "this checkpoint generates.",
)


def seq2seq_part(loaded: LoadedCheckpoint, encoding: Encoding, run: ModelRun) -> Seq2SeqPart | None:
    """Step ② for an encoder-decoder; None for every other model."""
    if not loaded.is_encoder_decoder or run.decoder_input_ids is None or run.generated_ids is None:
        return None
    tokenizer = loaded.tokenizer
    generated = tuple(
        Generated(
            b,
            tokenizer.decode(list(ids), skip_special_tokens=True),
            tuple(tokenizer.convert_ids_to_tokens(list(ids))),
            tuple(ids),
        )
        for b, ids in enumerate(run.generated_ids)
    )
    table_rows = [
        {
            "sentence": g.sentence,
            "input": shown_sentence(encoding.sentences[g.sentence]),
            "generated text": g.text,
            "generated tokens": " ".join(shown_tokens(tokenizer, g.tokens)),
            "tokens": len(g.ids),
        }
        for g in generated
    ]
    return Seq2SeqPart(
        intro=_seq2seq_intro(loaded, run),
        shapes=table(_seq2seq_shapes(encoding, run), index="part"),
        generated=generated,
        table=table(table_rows, index="sentence"),
        prefixes=_T5_PREFIXES_NOTE,
        examples=T5_PREFIXES,
    )


def build(
    loaded: LoadedCheckpoint,
    encoding: Encoding,
    run: ModelRun,
    classifier_built: bool | None = None,
    settings: Settings | None = None,
    text: str | None = None,
) -> View:
    """Everything the home page shows for this checkpoint and batch. ``classifier_built``: whether
    the default classifier exists (None: look in the saved checkpoints folder); ``settings``: the
    task inputs (None: the defaults); ``text``: the sidebar's, for the flow's links."""
    if classifier_built is None:
        classifier_built = checkpoints.classifier_built()
    B, S = encoding.shape  # input_ids is [B, S]
    description = loaded.task.head_description
    metrics, heads_note = _metrics(loaded)
    limit = limits(loaded)
    # Best first, per sentence (and position). An NLI head reads sentence pairs: its labels for a
    # sentence alone mean nothing, so step ③ is its zero-shot section instead.
    predictions = () if loaded.task is tasks.ZERO_SHOT else postprocess.postprocess(run, loaded)
    return View(
        caption=(
            f"**{loaded.resolved.label}** · loaded as `{loaded.head_class}` → `{loaded.model_class}` "
            f"({description})"
        ),
        flow=flow_view.build(
            loaded, encoding, run, loaded.resolved.ref, text or "\n".join(encoding.sentences)
        ),
        example=_example(loaded, encoding),
        classifier=_classifier_offer(loaded, classifier_built),
        sentences=tuple(_sentence(encoding, loaded, b, limit) for b in range(B)),
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
        postprocess_header=postprocess_header(loaded, run),
        postprocess_intro=_postprocess_intro(loaded, run),
        predictions=tuple(_block(p, loaded) for p in predictions),
        no_predictions=_no_predictions(loaded, predictions),
        quantized=quantized_note(loaded) if predictions else None,
        seq2seq=seq2seq_part(loaded, encoding, run),
        task=task_views.build_section(loaded, encoding, run, (settings or Settings()).task_inputs()),
        task_inputs=loaded.task.inputs,
    )

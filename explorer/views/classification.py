"""Classification: logits -> the head's function -> labels, checked against pipeline(), and a
classifier fine-tuned here, offline.

- :func:`build`: the three steps for the loaded classifier (or why there are none), with the
  function ``pipeline("text-classification")`` applies for this head (``explorer.pipeline.postprocess``)
  and the check against pipeline() itself (:func:`pipeline_check`, pure);
- :func:`training_data` and :func:`build_training`: the fine-tuning data and settings, described;
- :func:`training_progress`: what a running or finished :class:`~explorer.training.finetune.TrainingJob`
  has done, for the page's live fragment (pure: it only reads the job's progress);
- :func:`start_training`: starts a job (the page keeps it in its session);
- sentence pairs: :func:`build_nsp` (BERT's next-sentence prediction, only from a checkpoint whose
  weights carry that head) and :func:`build_pair_classifier` (a pair classifier fine-tuned here),
  both read the page's pair box (:data:`PAIRS_HELP`); pairs can be fine-tuned on too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from explorer.drawing import exports, figures
from explorer.drawing.render import probability_bars_html, token_chips_html
from explorer.errors import ExplorerError
from explorer.explain import pairs as pair_io
from explorer.explain.tokenizer_lab import pair_layout
from explorer.pipeline import checkpoints, postprocess, tasks
from explorer.pipeline.encoding import Encoding, encode_batch
from explorer.pipeline.loading import LoadedCheckpoint
from explorer.pipeline.run import ModelRun
from explorer.training import finetune as ft
from explorer.training import transfer
from explorer.views.attribution import AttributionSettings
from explorer.views.common import JobProgress, Note, Table, table
from explorer.views.settings import setting
from explorer.words import count

SOURCES = (
    "Sentences written for this app",
    "Upload a CSV",
    "Sentence pairs written for this app (paraphrase or not)",
)
LEARNING_RATES = (1e-5, 2e-5, 5e-5, 1e-4)
SHOWN_CHARACTERS = 200  # of each sentence next to its chips
SHOWN_ROWS = 200  # of the training data in "Look at the data"
FINE_TUNE_INTRO = (
    "No fine-tuned classifier can be downloaded without the Hub, so this page trains one the way the "
    "course does: the bundled MiniLM encoder gets a new, randomly initialised classification head "
    "(`AutoModelForSequenceClassification`), the sentences are tokenized with `Dataset.map`, padded per "
    "batch by `DataCollatorWithPadding`, and `Trainer` runs the training loop."
)
UPLOAD_LABEL = (
    "CSV with a 'text' and a 'label' column (0/1 or negative/positive), or sentence pairs: "
    "'sentence1', 'sentence2' and 'label' (0/1 or not_paraphrase/paraphrase)"
)
PAIRS_HELP = (
    f"One pair per line: the first sentence, then `{pair_io.SEPARATOR}`, then the second "
    f"(at most {pair_io.MAX_PAIRS} pairs)."
)
DEFAULT_PAIRS = "\n".join(
    (
        "I put the kettle on. ||| A few minutes later, the water was boiling.",
        "I put the kettle on. ||| Penguins cannot fly, but they swim very well.",
        "The meeting was moved to Thursday. ||| The meeting now takes place on Thursday.",
        "The meeting was moved to Thursday. ||| The meeting was moved from Thursday.",
    )
)


@dataclass(frozen=True, kw_only=True)
class Settings(AttributionSettings):
    """The page's settings, and (inherited) its "Why this prediction?" section's."""

    PREFIX: ClassVar[str] = "cls"

    source: str = setting(
        "choice", "Training data", SOURCES[0], choices=SOURCES, widget="radio", linked=False
    )
    epochs: int = setting("int", "Epochs", 3, widget="slider", low=1, high=5, linked=False)
    lr: float = setting(
        "choice", "Learning rate", 5e-5, choices=LEARNING_RATES, widget="select_slider", linked=False
    )
    name: str = setting("str", "Save as", "my-classifier", widget="text_input", linked=False)
    pairs: str = setting(
        "str",
        "Sentence pairs (first ||| second, one pair per line)",
        DEFAULT_PAIRS,
        widget="text_area",
        linked=False,
        height=130,
    )
    transfer: bool = setting(
        "bool",
        "Transfer learning, two ways: train a feature-based classifier (MiniLM frozen) and compare",
        False,
        widget="toggle",
        url="transfer",
    )


# --- The three steps ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    title: str  # "① Preprocessing"
    caption: str  # the code of the step


@dataclass(frozen=True, kw_only=True)
class SentenceResult:
    """One sentence through the three steps."""

    text: str  # the sentence (its first SHOWN_CHARACTERS)
    chips_html: str
    logits: Table  # label -> logit, in the head's label order
    bars_html: str | None  # probability bars, best first (None for a regression score)
    score: Note | None  # a regression head's raw score, as a number
    predicted: str  # "→ **POSITIVE**"
    classification: postprocess.Classification  # the numbers behind this row


@dataclass(frozen=True, kw_only=True)
class PipelineCheckView:
    """Our scores against pipeline("text-classification")'s."""

    title: str
    table: Table | None  # per sentence: labels and the largest difference
    verdict: Note  # success only when every sentence agrees within postprocess.SAME_PROBABILITIES
    agrees: bool
    largest_difference: float  # inf when the labels differ; nan when pipeline() did not run


@dataclass(frozen=True, kw_only=True)
class Classifier:
    function: postprocess.Function  # what pipeline() applies for this head
    score_name: str  # "probability" or "score"
    steps: tuple[Step, Step, Step]
    sentences: tuple[SentenceResult, ...]  # [B]
    check: PipelineCheckView
    csv: str  # logits and scores, for the download
    csv_label: str  # its button


@dataclass(frozen=True)
class NoHead:
    """The checkpoint has no classification head: what it returns instead, and what to do."""

    warning: Note
    default_ref: str | None  # the classifier fine-tuned here, when it exists
    default_label: str  # its button
    hint: Note | None  # when it does not exist yet


@dataclass(frozen=True)
class View:
    intro: str
    classifier: Classifier | None
    no_head: NoHead | None


def intro(function: postprocess.Function | None) -> str:
    """The page's first paragraph, naming the function this head's postprocessing applies."""
    if function is None:
        step3 = (
            "**postprocessing** applies the function the head's config asks for (a softmax for a "
            "single-label head, a sigmoid per label for a multi-label head, nothing for a regression "
            "score) and names the results with the config's `id2label`."
        )
    else:
        step3 = (
            f"**postprocessing** applies {postprocess.FUNCTION_TEXT[function]}; the config's "
            "`id2label` names the labels."
        )
    return (
        '`pipeline("text-classification")` in three steps: the **tokenizer** turns text into IDs, the '
        "**model** with a classification head returns one **logit** per label, and " + step3
    )


PLURAL = {"probability": "probabilities", "score": "scores"}

STEP3_CAPTION = {
    "softmax": "softmax(logits) and id2label",
    "sigmoid": "sigmoid(logits), each label on its own, and id2label",
    "none": "the logits as they are (a regression score) and id2label",
}


def _best(scores: dict[str, float]) -> str:
    """The label with the largest score (the first one on a tie, as max does)."""
    return max(scores, key=lambda name: scores[name])


def pipeline_check(
    results: Sequence[postprocess.Classification], theirs: Sequence[dict[str, float]] | None, error: str = ""
) -> PipelineCheckView:
    """Pure: our classifications against pipeline()'s scores ([B] {label: score}); the verdict
    says "the same" only when every sentence agrees within postprocess.SAME_PROBABILITIES."""
    function = results[0].function if results else "softmax"
    name = postprocess.SCORE_NAME[function]
    names = PLURAL[name]
    title = "Checked against transformers' own pipeline()"
    call = '`pipeline("text-classification", model=…, tokenizer=…)`'
    if theirs is None:
        note = Note("warning", f"{call} could not run on this checkpoint, so nothing was compared: {error}")
        return PipelineCheckView(
            title=title, table=None, verdict=note, agrees=False, largest_difference=math.nan
        )
    checks = postprocess.compare_with_pipeline(results, theirs)
    rows = [
        {
            "sentence": c.sentence,
            "our label": _best(c.ours),
            "pipeline label": _best(c.pipeline) if c.pipeline else "—",
            f"largest {name} difference": f"{c.max_abs_difference:.1e}",
        }
        for c in checks
    ]
    worst = max(c.max_abs_difference for c in checks)
    agrees = all(c.agrees for c in checks)
    if agrees:
        note = Note(
            "success",
            f"{call} gives the same labels and the same {names}: the largest difference between its "
            f"{names} and ours is {worst:.1e} (within {postprocess.SAME_PROBABILITIES:.0e}).",
        )
    elif math.isinf(worst):
        mismatched = [c.sentence for c in checks if set(c.ours) != set(c.pipeline)]
        note = Note(
            "warning",
            f"{call} and this page differ: they name the labels differently for sentence(s) "
            f"{', '.join(map(str, mismatched))} (ours: {', '.join(results[0].labels)}).",
        )
    else:
        moved = [c.sentence for c in checks if not c.same_label]
        labels = (
            f"; it puts a different label first for sentence(s) {', '.join(map(str, moved))}" if moved else ""
        )
        note = Note(
            "warning",
            f"{call} and this page differ: the largest difference between its {names} and ours is "
            f"{worst:.1e}, more than {postprocess.SAME_PROBABILITIES:.0e}{labels}.",
        )
    return PipelineCheckView(
        title=title,
        table=table(rows, index="sentence"),
        verdict=note,
        agrees=agrees,
        largest_difference=worst,
    )


def _sentence(encoding: Encoding, result: postprocess.Classification) -> SentenceResult:
    b = result.sentence
    logits = table(
        [
            {"label": label, "logit": round(float(x), 4)}
            for label, x in zip(result.labels, result.logits, strict=True)
        ],
        index="label",
    )
    if result.function == "none":
        shown = ", ".join(
            f"`{label}` = **{float(s):.4f}**" for label, s in zip(result.labels, result.scores, strict=True)
        )
        return SentenceResult(
            text=encoding.sentences[b][:SHOWN_CHARACTERS],
            chips_html=token_chips_html(encoding, b),
            logits=logits,
            bars_html=None,
            score=Note("markdown", f"{shown} (the raw score)"),
            predicted=f"→ score **{float(result.scores[0]):.4f}**",
            classification=result,
        )
    order = sorted(range(len(result.labels)), key=lambda i: -float(result.scores[i]))  # best first
    bars = probability_bars_html([result.labels[i] for i in order], [float(result.scores[i]) for i in order])
    return SentenceResult(
        text=encoding.sentences[b][:SHOWN_CHARACTERS],
        chips_html=token_chips_html(encoding, b),
        logits=logits,
        bars_html=bars,
        score=None,
        predicted=f"→ **{result.predicted}**"
        + (" (the highest of the labels' own probabilities)" if result.function == "sigmoid" else ""),
        classification=result,
    )


def _no_head(loaded: LoadedCheckpoint, run: ModelRun) -> NoHead:
    shapes = ", ".join(
        f"{o.name} {list(o.shape)}" for o in run.outputs if o.name in ("last_hidden_state", "logits")
    )
    what = (
        "hidden states, one vector per token, not logits per label."
        if loaded.head_class == tasks.BASE
        else "scores over the vocabulary, not labels."
    )
    warning = Note(
        "warning",
        f"{loaded.resolved.label} has no classification head: `{loaded.head_class}` loaded a "
        f"`{loaded.model_class}`, which returns {shapes} — {what}",
    )
    default = f"saved:{ft.DEFAULT_NAME}"
    exists = checkpoints.entry_for(default) is not None
    return NoHead(
        warning,
        default if exists else None,
        f"Use the classifier fine-tuned here ({ft.DEFAULT_NAME})",
        None
        if exists
        else Note("info", "Fine-tune a classifier below; it will appear in the checkpoint picker."),
    )


def build(
    loaded: LoadedCheckpoint,
    encoding: Encoding,
    run: ModelRun,
    pipeline: Sequence[dict[str, float]] | None = None,
) -> View:
    """The three steps for the loaded classifier, checked against ``pipeline`` ([B] {label:
    score}, e.g. from explorer.pipeline.run.pipeline_scores; run here when not given)."""
    if run.logits is None or run.logit_positions is not None:
        return View(intro(None), None, _no_head(loaded, run))
    results = postprocess.classify(run.logits, loaded.config)  # [B], logits [B, labels]
    function = results[0].function
    error = ""
    if pipeline is None:
        from explorer.pipeline.run import pipeline_scores

        try:
            pipeline = pipeline_scores(loaded, encoding.sentences)
        except Exception as problem:  # said on the page, not a traceback
            error = str(problem) or type(problem).__name__
    classifier = Classifier(
        function=function,
        score_name=postprocess.SCORE_NAME[function],
        steps=(
            Step("① Preprocessing", "tokenizer(sentences, padding=True, truncation=True)"),
            Step(
                "② Model",
                f"{loaded.model_class}(**inputs).logits: shape {list(run.logits.shape)} = [batch, labels]",
            ),
            Step("③ Postprocessing", STEP3_CAPTION[function]),
        ),
        sentences=tuple(_sentence(encoding, result) for result in results),
        check=pipeline_check(results, pipeline, error),
        csv=exports.probabilities_csv(results, encoding.sentences),
        csv_label="Download the logits and scores (CSV)"
        if function == "none"
        else "Download the logits and probabilities (CSV)",
    )
    return View(intro(function), classifier, None)


# --- Fine-tuning --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingData:
    train: ft.LabelledData
    validation: ft.LabelledData
    notes: tuple[Note, ...]  # what was skipped or sampled from an upload
    test: ft.LabelledData | None = None  # held out: scored once after training, never trained on

    @property
    def is_pairs(self) -> bool:
        return self.train.is_pairs


def training_data(source: str, upload: bytes | None) -> TrainingData | None:
    """The bundled sentences or pairs, or an uploaded CSV (of sentences or of pairs) split for
    validation (None while nothing is uploaded). Raises ExplorerError with what to fix in the file."""
    if source == SOURCES[2]:
        train, validation, test = ft.bundled_pairs()
        return TrainingData(train, validation, (), test)
    if source != SOURCES[1]:
        train, validation = ft.bundled_dataset()
        return TrainingData(train, validation, ())
    if upload is None:
        return None
    data = ft.read_labelled_csv(upload)
    train, validation = ft.split(data)
    return TrainingData(train, validation, tuple(Note("info", n) for n in data.notes))


@dataclass(frozen=True)
class TrainingView:
    counts: str  # how many sentences of each label, for training and validation
    data: Table  # the first SHOWN_ROWS training sentences and their labels
    steps: int  # optimizer steps: ceil(train / batch size) x epochs
    estimate: str  # the steps and a rough time


def build_training(data: TrainingData, settings: Settings) -> TrainingView:
    train, validation = data.train, data.validation
    counts, vcounts = train.counts(), validation.counts()
    negative, positive = train.label_names
    batch = ft.TrainingConfig().batch_size
    steps = math.ceil(len(train.texts) / batch) * settings.epochs
    unit = "pairs" if data.is_pairs else "sentences"
    held_out = ""
    if data.test is not None:
        tcounts = data.test.counts()
        held_out = (
            f" **{len(data.test.texts)}** more are held out ({tcounts[negative]} / {tcounts[positive]}): "
            "built from other sentences, never trained on nor used to choose anything, they are scored "
            "once when training ends."
        )
    if data.is_pairs:
        assert train.pairs is not None  # pair data holds the second sentences
        rows = [
            {"sentence1": a, "sentence2": b, "label": train.label_names[y]}
            for a, b, y in list(zip(train.texts, train.pairs, train.labels, strict=True))[:SHOWN_ROWS]
        ]
    else:
        rows = [
            {"text": text, "label": train.label_names[label]}
            for text, label in list(zip(train.texts, train.labels, strict=True))[:SHOWN_ROWS]
        ]
    return TrainingView(
        counts=(
            f"**{len(train.texts)}** training {unit} ({counts[negative]} {negative.lower()}, "
            f"{counts[positive]} {positive.lower()}) and **{len(validation.texts)}** for validation "
            f"({vcounts[negative]} / {vcounts[positive]})." + held_out
        ),
        data=table(rows),
        steps=steps,
        estimate=(
            f"{steps} training steps ({math.ceil(len(train.texts) / batch)} batches of up to {batch} "
            f"{unit} × {count(settings.epochs, 'epoch')})"
            + _measured_estimate(len(train.texts) * settings.epochs, data.is_pairs)
            + ". Training runs on the server's CPU in the background: other people using this server share "
            "the CPU meanwhile."
        ),
    )


def _measured_estimate(examples: int, pairs: bool) -> str:
    """How long `make models` took here to fine-tune the classifier on the same kind of data
    (", `make models` fine-tuned … in N s …"), beside this run's ``examples`` (sentences or pairs
    x epochs); "" when it was not built here (no measurement, no guess)."""
    folder = ft.pair_classifier_folder() if pairs else ft.default_classifier_folder()
    rate = ft.measured_rate(folder)
    return "" if rate is None else ", " + rate.estimate(examples)


PAIR_CLASSIFIER_INTRO = (
    "This classifier was fine-tuned here on **sentence pairs**: it reads two sentences as one input, so "
    "it classifies the pairs under *Sentence pairs* below, not the sidebar's single sentences."
)
PAIR_TOKENIZATION = (
    "Each pair is tokenized as one input, `tokenizer(sentence1, sentence2, truncation=True)` through "
    "`Dataset.map`: the tokenizer puts its separator between the two sentences and gives them different "
    "`token_type_ids`. The metrics are accuracy and F1 of the PARAPHRASE label, as the course reports for MRPC."
)


def start_training(
    data: TrainingData, settings: Settings, probes: Sequence[str], probe_pairs: Sequence[str] | None = None
) -> ft.TrainingJob:
    """Start fine-tuning in the background (raises ExplorerError for a bad name). For pairs,
    ``probes`` and ``probe_pairs`` are the first and second sentences scored before and after."""
    config = ft.TrainingConfig(epochs=settings.epochs, learning_rate=settings.lr)
    if data.is_pairs:
        config = ft.TrainingConfig(
            epochs=settings.epochs, learning_rate=settings.lr, max_length=ft.PAIR_MAX_LENGTH
        )
    return ft.start_job(
        settings.name,
        data.train,
        data.validation,
        config,
        probes=probes,
        test=data.test,
        probe_pairs=probe_pairs if data.is_pairs else None,
    )


@dataclass(frozen=True, kw_only=True)
class ProgressView(JobProgress):  # evaluations: per epoch validation accuracy (and F1) and loss
    batches_caption: str
    test: Note | None  # accuracy and F1 on the held-out examples, once scored
    comparison_title: str
    comparison: Table | None  # P(POSITIVE) per probe sentence, before and after


def _evaluations_table(evaluations: Sequence[dict[str, Any]]) -> Table | None:
    """One row per epoch's validation: accuracy, F1 (when computed) and loss."""
    if not evaluations:
        return None
    return table(
        [
            {
                "epoch": round(e["epoch"]),
                "validation accuracy": f"{e['accuracy']:.1%}",
                **({"validation F1": round(e["f1"], 3)} if "f1" in e else {}),
                "validation loss": round(e["loss"], 4),
            }
            for e in evaluations
        ],
        index="epoch",
    )


def _batches_table(shapes: Sequence[dict[str, Any]]) -> Table | None:
    """One row per logged batch: its examples, their lengths, the padded shape."""
    if not shapes:
        return None
    return table(
        [
            {
                "batch": shape["batch"],
                "examples": len(shape["lengths"]),
                "tokens before padding (shortest – longest)": (
                    f"{min(shape['lengths'])} – {max(shape['lengths'])}"
                ),
                "padded shape [batch, sequence]": str(list(shape["padded shape"])),
            }
            for shape in shapes
        ],
        index="batch",
    )


def _before_after(job: Any) -> Table | None:
    """The probes' probability of the second label, before and after fine-tuning (once finished)."""
    if not (job.finished and job.before and job.after):
        return None
    labels = getattr(job, "label_names", ft.LABELS)
    seconds = getattr(job, "probe_pairs", None)
    shown = (
        [f"{a[:60]} {pair_io.SEPARATOR} {b[:60]}" for a, b in zip(job.probes, seconds, strict=True)]
        if seconds
        else [s[:80] for s in job.probes]
    )
    return table(
        [
            {
                "pair" if seconds else "sentence": text,
                f"P({labels[1]}) untrained head": round(b[1], 3),
                f"P({labels[1]}) fine-tuned": round(a[1], 3),
            }
            for text, b, a in zip(shown, job.before, job.after, strict=True)
        ]
    )


def training_progress(job: Any) -> ProgressView:
    """What ``job`` (an explorer.training.finetune.TrainingJob, or anything with the same fields) has done."""
    progress = job.progress
    total = max(progress.total_steps, 1)
    message = None
    if progress.message:
        message = Note("error" if progress.status == "failed" else "caption", progress.message)
    loss = None
    if progress.losses:
        steps, losses = zip(*progress.losses, strict=True)
        per_epoch = progress.total_steps / max(job.config.epochs, 1)
        loss = figures.loss_curve(list(steps), list(losses), progress.evaluations, per_epoch)
    test = None
    if (scored := getattr(progress, "test", None)) is not None:
        test = Note(
            "success",
            f"On the **{scored['examples']}** held-out examples (never trained on): accuracy "
            f"**{scored['accuracy']:.1%}**, F1 **{scored['f1']:.3f}**.",
        )
    evaluations = _evaluations_table(progress.evaluations)
    batches = _batches_table(getattr(progress, "batch_shapes", None) or [])
    comparison = _before_after(job)
    done = job.finished and progress.status == "done" and progress.output
    of = f" of {progress.total_steps}" if progress.total_steps else ""
    return ProgressView(
        fraction=min(progress.step / total, 1.0),
        text=f"{progress.status}: step {progress.step}{of} · {progress.seconds:.0f} s",
        message=message,
        can_stop=not job.finished,
        loss=loss,
        evaluations=evaluations,
        batches=batches,
        batches_caption=(
            "Dynamic padding: `DataCollatorWithPadding` pads each batch only to its own longest example, "
            "so the padded shapes differ from batch to batch."
        ),
        test=test,
        comparison_title="Before and after fine-tuning, on your "
        + ("pairs" if getattr(job, "probe_pairs", None) else "sentences"),
        comparison=comparison,
        finished=job.finished,
        saved=Note("success", f"{progress.message} It is in the checkpoint picker now.") if done else None,
        saved_ref=f"saved:{Path(progress.output).name}" if done else None,
    )


# --- Sentence pairs -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PairRow:
    """One sentence pair through a head that reads pairs."""

    first: str  # its first SHOWN_CHARACTERS
    second: str
    chips_html: str  # the pair's tokens as the model reads them, separators included
    segments: str  # which token_type_ids each part got
    logits: Table  # label -> logit
    bars_html: str  # probabilities, best first
    predicted: str  # "→ **IsNext**"
    probabilities: tuple[float, ...]  # in the head's label order


def _segments_text(encoding: Encoding, b: int) -> str:
    """e.g. "token_type_ids: 0 for the first 9 tokens, 1 for the last 8" (read from the encoding)."""
    if encoding.token_type_ids is None:
        return "This tokenizer returns no `token_type_ids`: only its separator tells the two sentences apart."
    real = encoding.attention_mask[b] == 1
    types = [int(t) for t in encoding.token_type_ids[b][real]]
    runs: list[list[int]] = []  # [type, count]
    for t in types:
        if runs and runs[-1][0] == t:
            runs[-1][1] += 1
        else:
            runs.append([t, 1])
    return "token_type_ids: " + ", then ".join(f"{t} for {count(n, 'token')}" for t, n in runs)


def _pair_rows(
    encoding: Encoding, logits: Any, labels: Sequence[str], probabilities: Any
) -> tuple[PairRow, ...]:
    rows = []
    for b, (first, second) in enumerate(zip(encoding.sentences, encoding.pairs or (), strict=True)):
        order = sorted(range(len(labels)), key=lambda i: -float(probabilities[b, i]))
        rows.append(
            PairRow(
                first=first[:SHOWN_CHARACTERS],
                second=second[:SHOWN_CHARACTERS],
                chips_html=token_chips_html(encoding, b),
                segments=_segments_text(encoding, b),
                logits=table(
                    [
                        {"label": label, "logit": round(float(logits[b, i]), 4)}
                        for i, label in enumerate(labels)
                    ],
                    index="label",
                ),
                bars_html=probability_bars_html(
                    [labels[i] for i in order], [float(probabilities[b, i]) for i in order]
                ),
                predicted=f"→ **{labels[order[0]]}**",
                probabilities=tuple(float(x) for x in probabilities[b]),
            )
        )
    return tuple(rows)


def _read_pairs(loaded: LoadedCheckpoint, text: str) -> tuple[Encoding | None, Note | None]:
    """The pair box encoded as ``tokenizer(firsts, seconds)`` (padded, truncated at the model's
    limit), or a note saying what to fix."""
    try:
        firsts, seconds = pair_io.split_pairs(text)
        encoding = encode_batch(loaded.batch_tokenizer, firsts, seconds, max_length=loaded.max_tokens)
    except ExplorerError as problem:
        return None, Note("warning", str(problem))
    return encoding, None


@dataclass(frozen=True, kw_only=True)
class NspView:
    """BERT's next-sentence prediction on the pair box, or why it is not shown."""

    title: str
    explanation: str  # [SEP], token_type_ids and the pre-training objective, for this tokenizer
    weights: Note  # what the checkpoint's weight files hold
    rows: tuple[PairRow, ...]  # empty when there is no NSP head (never a random one)
    problem: Note | None  # the pair box could not be read
    code: str


NSP_TITLE = "Next-sentence prediction (BERT's pre-training task)"


def nsp_weights(loaded: LoadedCheckpoint) -> pair_io.NspWeights:
    """Whether the loaded checkpoint's weight files carry BERT's NSP head (read from the files)."""
    return pair_io.nsp_weights(loaded.resolved, loaded.config)


def build_nsp(
    loaded: LoadedCheckpoint, weights: pair_io.NspWeights, nsp_model: Any | None, pairs_text: str
) -> NspView:
    """IsNext / NotNext for each pair of ``pairs_text`` from ``nsp_model``
    (BertForNextSentencePrediction loaded from the same folder, e.g. ui.next_sentence_model),
    softmax in explorer.pipeline.postprocess; no rows when the weights lack the head or no model is given."""
    from explorer.pipeline.run import pair_logits

    encoding, problem = _read_pairs(loaded, pairs_text)
    if encoding is not None and encoding.pairs:
        layout = pair_layout(loaded.tokenizer, encoding.sentences[0], encoding.pairs[0])
        if layout.token_type_ids is not None:
            types = (
                f"the first sentence's tokens get `token_type_ids` {', '.join(map(str, layout.types_of(0)))} "
                f"and the second's {', '.join(map(str, layout.types_of(1)))}, so a segment embedding is added "
                "to every token saying which sentence it belongs to"
            )
        else:
            types = "this tokenizer returns no `token_type_ids`"
        joined = f"This tokenizer joins a pair as `{layout.template}`: {types}."
    else:
        joined = "The tokenizer joins the two sentences of a pair into one input."
    explanation = (
        f"{joined} BERT was pre-trained on two tasks at once: masked words, and next-sentence "
        "prediction: half of the time sentence B really followed A in the text (IsNext), half of the "
        "time it was a random sentence (NotNext). A small head (`cls.seq_relationship`) reads the "
        "pooled first-token vector and returns two logits; a softmax turns them into IsNext / NotNext "
        "probabilities."
    )
    present = weights.present is True and nsp_model is not None
    rows: tuple[PairRow, ...] = ()
    if present and encoding is not None:
        logits = pair_logits(nsp_model, encoding)  # [N, 2]: IsNext, NotNext
        rows = _pair_rows(encoding, logits, pair_io.NSP_LABELS, postprocess.apply("softmax", logits))
    return NspView(
        title=NSP_TITLE,
        explanation=explanation,
        weights=Note("success" if present else "info", weights.reason),
        rows=rows,
        problem=problem,
        code=(
            "BertForNextSentencePrediction.from_pretrained(folder)(**tokenizer(first, second, "
            "return_tensors='pt')).logits.softmax(-1)  # [IsNext, NotNext]"
        ),
    )


def is_pair_classifier(loaded: LoadedCheckpoint) -> bool:
    """Whether the loaded checkpoint is a classifier fine-tuned here on sentence pairs."""
    return loaded.head_class == tasks.SEQUENCE_CLASSIFICATION and pair_io.is_pair_classifier(loaded.resolved)


@dataclass(frozen=True)
class PairClassifierView:
    """A pair classifier (fine-tuned here) on the pair box."""

    intro: str
    rows: tuple[PairRow, ...]
    training: Note | None  # its recorded validation and held-out scores
    problem: Note | None


def build_pair_classifier(loaded: LoadedCheckpoint, pairs_text: str) -> PairClassifierView:
    """The loaded pair classifier's label probabilities for each pair of ``pairs_text``."""
    import json

    from explorer.pipeline.run import pair_logits

    encoding, problem = _read_pairs(loaded, pairs_text)
    rows: tuple[PairRow, ...] = ()
    if encoding is not None:
        logits = pair_logits(loaded.model, encoding)  # [N, labels]
        results = postprocess.classify(logits, loaded.config)
        scores = postprocess.apply(results[0].function, logits)
        rows = _pair_rows(encoding, logits, results[0].labels, scores)
    training = None
    try:
        meta = json.loads((Path(loaded.resolved.location) / checkpoints.TRAINING_METADATA).read_text())
        parts = [f"trained on {meta['train_examples']} pairs in {meta['seconds']:.0f} s"]
        if meta.get("validation"):
            v = meta["validation"]
            parts.append(f"validation accuracy {v['accuracy']:.1%}, F1 {v.get('f1', float('nan')):.3f}")
        if meta.get("test"):
            t = meta["test"]
            parts.append(f"on {t['examples']} held-out pairs accuracy {t['accuracy']:.1%}, F1 {t['f1']:.3f}")
        training = Note("caption", f"{loaded.resolved.label}: " + "; ".join(parts) + ".")
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return PairClassifierView(
        intro=(
            f"{loaded.resolved.label} was fine-tuned here on sentence pairs: it reads both sentences as "
            "one input, `tokenizer(sentence1, sentence2)`, and its head says whether the second says the "
            "same thing as the first. " + PAIRS_HELP
        ),
        rows=rows,
        training=training,
        problem=problem,
    )


def probe_pairs(pairs_text: str) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
    """The pair box's pairs (first sentences, second sentences) to score before and after
    fine-tuning a pair classifier; none when the box cannot be read."""
    try:
        return pair_io.split_pairs(pairs_text)
    except ExplorerError:
        return (), None


# --- Transfer learning, two ways ----------------------------------------------------------------

TRANSFER_TITLE = "Transfer learning, two ways"
TRANSFER_INTRO = (
    "The course names two ways to reuse a pretrained model. **Feature-based**: keep the encoder frozen, "
    "take its pooled sentence vectors as features and train only a small classifier on them (here a "
    "logistic regression, scikit-learn). **Fine-tuning**: train the whole model with a new head (the "
    "classifiers fine-tuned on this page). Both below learn from the same bundled training data and "
    "are scored on the same held-out examples."
)
TRANSFER_TITLES = {
    "sentences": "Single sentences (sentiment)",
    "pairs": "Sentence pairs (paraphrase or not)",
}


@dataclass(frozen=True, kw_only=True)
class TransferKind:
    """One kind of input (single sentences or pairs): both ways side by side."""

    title: str
    comparison: Table  # one row per way: held-out accuracy, F1, training time, weights trained
    recommendation: Note  # which way, computed from the measured numbers
    sources: Note  # where each row's numbers come from, how the head's weights are counted
    predictions_title: str
    predictions: Table | None  # the user's sentences (or pairs): each way's probability and label
    problem: Note | None  # the fine-tuned classifier is missing, or the pair box cannot be read


@dataclass(frozen=True)
class TransferView:
    title: str
    intro: str
    pooling: Note  # how the frozen encoder's sentence vectors are pooled
    kinds: tuple[TransferKind, ...]  # sentences, then pairs


def _comparison_row(score: transfer.Score, detail: str) -> dict[str, Any]:
    return {
        "way": detail,
        "held-out accuracy": f"{score.accuracy:.1%}",
        "F1": round(score.f1, 3),
        "held-out examples": score.examples,
        "trained on": f"{score.train_examples} {score.kind}",
        "training time": f"{score.seconds:.1f} s",
        "weights trained": "—" if score.parameters is None else f"{score.parameters:,}",
    }


def _weights_note(encoder: LoadedCheckpoint, head: transfer.FeatureHead) -> str:
    rows, width = head.head.coef_.shape  # [1, F]: one weight vector for two classes
    per = (
        "[u, v, |u − v|, u ∗ v] of the two sentence vectors"
        if head.kind == "pairs"
        else "the sentence vector"
    )
    return (
        f"The logistic regression reads {per} ({head.features} numbers, D = {head.dimension}) and trains "
        f"{rows} × {width} weights + {head.head.intercept_.size} bias = {head.score.parameters:,}: with two "
        f"classes it keeps one weight vector (the softmax form, D·K + K with K = 2, is the same model with a "
        f"redundant row). {encoder.resolved.label}'s {encoder.num_parameters:,} weights stay frozen. "
        f"C = {transfer.C:g} (scikit-learn's default, not tuned on the held-out examples)."
    )


def _prediction_rows(
    shown: Sequence[str],
    column: str,
    labels: Sequence[str],
    feature: Any,
    fine: Any | None,
    fine_labels: Sequence[str],
) -> list[dict[str, Any]]:
    """One row per input: each way's P(label 1) and predicted label ([N, 2] probabilities each)."""
    rows = []
    for i, text in enumerate(shown):
        row: dict[str, Any] = {
            column: text,
            f"feature-based P({labels[1]})": round(float(feature[i, 1]), 3),
            "feature-based label": labels[int(feature[i].argmax())],
        }
        if fine is not None:
            row[f"fine-tuned P({fine_labels[1]})"] = round(float(fine[i, 1]), 3)
            row["fine-tuned label"] = fine_labels[int(fine[i].argmax())]
        rows.append(row)
    return rows


def _fine_probabilities(fine: LoadedCheckpoint, firsts: Sequence[str], seconds: Sequence[str] | None) -> Any:
    """[N, labels] the fine-tuned classifier's probabilities (its head's function, postprocess)."""
    from explorer.pipeline.run import classifier_logits, pair_logits

    if seconds is None:
        logits = classifier_logits(fine.model, fine.tokenizer, firsts, max_length=fine.max_tokens)  # [N, K]
    else:
        encoding = encode_batch(fine.batch_tokenizer, firsts, seconds, max_length=fine.max_tokens)
        logits = pair_logits(fine.model, encoding)  # [N, K]
    return postprocess.apply(postprocess.classification_function(fine.config), logits)


def _transfer_sources(encoder: LoadedCheckpoint, head: transfer.FeatureHead, fine_source: str) -> Note:
    """Where both scores come from, and the held-out split they are measured on."""
    held_out = transfer.HELD_OUT[head.kind]
    return Note(
        "caption",
        f"Feature-based: {head.score.source} Fine-tuned: {fine_source} "
        f"Held-out: the bundled {held_out} split, never trained on by either"
        + (
            " (the fine-tune scored it after each epoch but chose nothing with it: fixed settings, no early stopping). "
            if held_out == "validation"
            else ". "
        )
        + _weights_note(encoder, head),
    )


def _transfer_predictions(
    encoder: LoadedCheckpoint,
    head: transfer.FeatureHead,
    fine: LoadedCheckpoint | None,
    sentences: Sequence[str],
    pairs_text: str,
) -> tuple[Table | None, Note | None]:
    """(the user's sentences or pairs classified both ways, why the pair box cannot be read)."""
    firsts, seconds, problem = tuple(sentences), None, None
    if head.kind == "pairs":
        try:
            firsts, seconds = pair_io.split_pairs(pairs_text)
        except ExplorerError as error:
            firsts, problem = (), Note("warning", f"The pair box cannot be read: {error}")
    if not firsts:
        return None, problem
    feature = transfer.feature_probabilities(encoder, head, firsts, seconds)  # [N, 2]
    fine_probs = _fine_probabilities(fine, firsts, seconds) if fine is not None else None  # [N, 2]
    fine_labels = postprocess.label_names(fine.config, 2) if fine is not None else head.labels
    shown = (
        [f"{a[:60]} {pair_io.SEPARATOR} {b[:60]}" for a, b in zip(firsts, seconds, strict=True)]
        if seconds is not None
        else [s[:SHOWN_CHARACTERS] for s in firsts]
    )
    column = "pair" if seconds is not None else "sentence"
    rows = _prediction_rows(shown, column, head.labels, feature, fine_probs, fine_labels)
    return table(rows, index=column), problem


def _transfer_kind(
    encoder: LoadedCheckpoint,
    head: transfer.FeatureHead,
    fine: LoadedCheckpoint | None,
    sentences: Sequence[str],
    pairs_text: str,
) -> TransferKind:
    kind = head.kind
    folder = Path(fine.resolved.location) if fine is not None else transfer.fine_tuned_folder(kind)
    fine_score, fine_source = transfer.fine_tuned_score(
        folder, kind, fine.num_parameters if fine is not None else None
    )
    if fine_score is None:
        fine = None  # its predictions are not shown next to numbers that are missing
    rows = [
        _comparison_row(head.score, f"feature-based: {encoder.resolved.label} frozen + logistic regression")
    ]
    if fine_score is not None and fine is not None:
        rows.append(_comparison_row(fine_score, f"fine-tuned: {fine.resolved.label}, every weight trained"))
    choice = transfer.recommend(head.score, fine_score)
    sources = _transfer_sources(encoder, head, fine_source)
    problem = None if fine_score is not None else Note("info", fine_source)
    predictions, unread = _transfer_predictions(encoder, head, fine, sentences, pairs_text)
    where = "the pair box above" if kind == "pairs" else "the sidebar"
    return TransferKind(
        title=TRANSFER_TITLES[kind],
        comparison=table(rows, index="way"),
        recommendation=Note("success" if choice.clear else "info", choice.text),
        sources=sources,
        predictions_title=f"Your {'pairs' if kind == 'pairs' else 'sentences'} ({where}), both ways",
        predictions=predictions,
        problem=unread or problem,
    )


def build_transfer(
    encoder: LoadedCheckpoint,
    heads: dict[str, transfer.FeatureHead],
    fine_tuned: dict[str, LoadedCheckpoint | None],
    sentences: Sequence[str],
    pairs_text: str,
) -> TransferView:
    """Both ways side by side for each kind in ``heads`` (transfer.feature_based's results for
    ``encoder``, the frozen MiniLM), with the fine-tuned classifiers ``fine_tuned`` (None: not
    built), predicting the sidebar's ``sentences`` and the pair box."""
    kinds = tuple(
        _transfer_kind(encoder, heads[kind], fine_tuned.get(kind), sentences, pairs_text)
        for kind in transfer.KINDS
        if kind in heads
    )
    pooling = next(iter(heads.values())).pooling if heads else ""
    return TransferView(
        title=TRANSFER_TITLE,
        intro=TRANSFER_INTRO,
        pooling=Note("caption", f"Sentence vectors of {encoder.resolved.label}: {pooling}"),
        kinds=kinds,
    )

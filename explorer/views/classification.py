"""Classification: logits -> the head's function -> labels, checked against pipeline(), and a
classifier fine-tuned here, offline.

- :func:`build`: the three steps for the loaded classifier (or why there are none), with the
  function ``pipeline("text-classification")`` applies for this head (``explorer.postprocess``)
  and the check against pipeline() itself (:func:`pipeline_check`, pure);
- :func:`training_data` and :func:`build_training`: the fine-tuning data and settings, described;
- :func:`training_progress`: what a running or finished :class:`~explorer.finetune.TrainingJob`
  has done, for the page's live fragment (pure: it only reads the job's progress);
- :func:`start_training`: starts a job (the page keeps it in its session).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from explorer import checkpoints, exports, figures, postprocess
from explorer import finetune as ft
from explorer.encoding import Encoding
from explorer.loading import LoadedCheckpoint
from explorer.render import probability_bars_html, token_chips_html
from explorer.run import ModelRun
from explorer.settings import setting
from explorer.views.common import Note, Table, table

SOURCES = ("Sentences written for this app", "Upload a CSV")
LEARNING_RATES = (1e-5, 2e-5, 5e-5, 1e-4)
SHOWN_CHARACTERS = 200  # of each sentence next to its chips
SHOWN_ROWS = 200  # of the training data in "Look at the data"
SECONDS_PER_STEP = 0.25  # one step of 16 sentences on an idle 2-core machine, roughly
FINE_TUNE_INTRO = (
    "No fine-tuned classifier can be downloaded without the Hub, so this page trains one the way the "
    "course does: the bundled MiniLM encoder gets a new, randomly initialised classification head "
    "(`AutoModelForSequenceClassification`), the sentences are tokenized with `Dataset.map`, padded per "
    "batch by `DataCollatorWithPadding`, and `Trainer` runs the training loop."
)
UPLOAD_LABEL = "CSV with a 'text' and a 'label' column (0/1 or negative/positive)"


@dataclass(frozen=True)
class Settings:
    PREFIX: ClassVar[str] = "cls"

    source: str = setting(
        "choice", "Training data", SOURCES[0], choices=SOURCES, widget="radio", linked=False
    )
    epochs: int = setting("int", "Epochs", 3, widget="slider", low=1, high=5, linked=False)
    lr: float = setting(
        "choice", "Learning rate", 5e-5, choices=LEARNING_RATES, widget="select_slider", linked=False
    )
    name: str = setting("str", "Save as", "my-classifier", widget="text_input", linked=False)


# --- The three steps ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    title: str  # "① Preprocessing"
    caption: str  # the code of the step


@dataclass(frozen=True)
class SentenceResult:
    """One sentence through the three steps."""

    text: str  # the sentence (its first SHOWN_CHARACTERS)
    chips_html: str
    logits: Table  # label -> logit, in the head's label order
    bars_html: str | None  # probability bars, best first (None for a regression score)
    score: Note | None  # a regression head's raw score, as a number
    predicted: str  # "→ **POSITIVE**"
    classification: postprocess.Classification  # the numbers behind this row


@dataclass(frozen=True)
class PipelineCheckView:
    """Our scores against pipeline("text-classification")'s."""

    title: str
    table: Table | None  # per sentence: labels and the largest difference
    verdict: Note  # success only when every sentence agrees within postprocess.AGREEMENT
    agrees: bool
    largest_difference: float  # inf when the labels differ; nan when pipeline() did not run


@dataclass(frozen=True)
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


def pipeline_check(
    results: Sequence[postprocess.Classification], theirs: Sequence[dict[str, float]] | None, error: str = ""
) -> PipelineCheckView:
    """Pure: our classifications against pipeline()'s scores ([B] {label: score}); the verdict
    says "the same" only when every sentence agrees within postprocess.AGREEMENT."""
    function = results[0].function if results else "softmax"
    name = postprocess.SCORE_NAME[function]
    names = PLURAL[name]
    title = "Checked against transformers' own pipeline()"
    call = '`pipeline("text-classification", model=…, tokenizer=…)`'
    if theirs is None:
        note = Note("warning", f"{call} could not run on this checkpoint, so nothing was compared: {error}")
        return PipelineCheckView(title, None, note, False, math.nan)
    checks = postprocess.compare_with_pipeline(results, theirs)
    rows = [
        {
            "sentence": c.sentence,
            "our label": max(c.ours, key=c.ours.get),
            "pipeline label": max(c.pipeline, key=c.pipeline.get) if c.pipeline else "—",
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
            f"{names} and ours is {worst:.1e} (within {postprocess.AGREEMENT:.0e}).",
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
            f"{worst:.1e}, more than {postprocess.AGREEMENT:.0e}{labels}.",
        )
    return PipelineCheckView(title, table(rows, index="sentence"), note, agrees, worst)


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
            encoding.sentences[b][:SHOWN_CHARACTERS],
            token_chips_html(encoding, b),
            logits,
            None,
            Note("markdown", f"{shown} (the raw score)"),
            f"→ score **{float(result.scores[0]):.4f}**",
            result,
        )
    order = sorted(range(len(result.labels)), key=lambda i: -float(result.scores[i]))  # best first
    bars = probability_bars_html([result.labels[i] for i in order], [float(result.scores[i]) for i in order])
    return SentenceResult(
        encoding.sentences[b][:SHOWN_CHARACTERS],
        token_chips_html(encoding, b),
        logits,
        bars,
        None,
        f"→ **{result.predicted}**"
        + (" (the highest of the labels' own probabilities)" if result.function == "sigmoid" else ""),
        result,
    )


def _no_head(loaded: LoadedCheckpoint, run: ModelRun) -> NoHead:
    shapes = ", ".join(
        f"{o.name} {list(o.shape)}" for o in run.outputs if o.name in ("last_hidden_state", "logits")
    )
    what = (
        "hidden states, one vector per token, not logits per label."
        if loaded.head_class == "AutoModel"
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
    score}, e.g. from explorer.run.pipeline_scores; run here when not given)."""
    if run.logits is None or run.logit_positions is not None:
        return View(intro(None), None, _no_head(loaded, run))
    results = postprocess.classify(run.logits, loaded.config)  # [B], logits [B, labels]
    function = results[0].function
    error = ""
    if pipeline is None:
        from explorer.run import pipeline_scores

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


def training_data(source: str, upload: bytes | None) -> TrainingData | None:
    """The bundled sentences, or an uploaded CSV split for validation (None while nothing is
    uploaded). Raises ExplorerError with what to fix in the file."""
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
    batch = ft.TrainingConfig().batch_size
    steps = math.ceil(len(train.texts) / batch) * settings.epochs
    return TrainingView(
        counts=(
            f"**{len(train.texts)}** training sentences ({counts['NEGATIVE']} negative, "
            f"{counts['POSITIVE']} positive) and **{len(validation.texts)}** for validation "
            f"({vcounts['NEGATIVE']} / {vcounts['POSITIVE']})."
        ),
        data=table(
            [
                {"text": text, "label": ft.LABELS[label]}
                for text, label in list(zip(train.texts, train.labels, strict=True))[:SHOWN_ROWS]
            ]
        ),
        steps=steps,
        estimate=(
            f"{steps} training steps ({math.ceil(len(train.texts) / batch)} batches of up to {batch} "
            f"sentences × {settings.epochs} epoch{'s' if settings.epochs != 1 else ''}), roughly "
            f"{max(5, steps * SECONDS_PER_STEP):.0f} s on an idle 2-core machine. Training runs on the "
            "server's CPU in the background: other people using this server share the CPU meanwhile."
        ),
    )


def start_training(data: TrainingData, settings: Settings, probes: Sequence[str]) -> ft.TrainingJob:
    """Start fine-tuning in the background (raises ExplorerError for a bad name)."""
    config = ft.TrainingConfig(epochs=settings.epochs, learning_rate=settings.lr)
    return ft.start_job(settings.name, data.train, data.validation, config, probes=probes)


@dataclass(frozen=True)
class ProgressView:
    fraction: float  # of the steps done, 0…1
    text: str  # status, step and time
    message: Note | None
    can_stop: bool
    loss: Any | None  # the loss curve (Plotly figure), once there is a loss
    evaluations: Table | None  # per epoch: validation accuracy and loss
    comparison_title: str
    comparison: Table | None  # P(POSITIVE) per probe sentence, before and after
    finished: bool
    saved: Note | None  # where the new classifier is, when training is done
    saved_ref: str | None  # its reference in the checkpoint picker


def training_progress(job: Any) -> ProgressView:
    """What ``job`` (an explorer.finetune.TrainingJob, or anything with the same fields) has done."""
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
    evaluations = None
    if progress.evaluations:
        evaluations = table(
            [
                {
                    "epoch": round(e["epoch"]),
                    "validation accuracy": f"{e['accuracy']:.1%}",
                    "validation loss": round(e["loss"], 4),
                }
                for e in progress.evaluations
            ],
            index="epoch",
        )
    comparison = None
    if job.finished and job.before and job.after:
        positive = ft.LABELS.index("POSITIVE")
        comparison = table(
            [
                {
                    "sentence": s[:80],
                    "P(POSITIVE) untrained head": round(b[positive], 3),
                    "P(POSITIVE) fine-tuned": round(a[positive], 3),
                }
                for s, b, a in zip(job.probes, job.before, job.after, strict=True)
            ]
        )
    done = job.finished and progress.status == "done" and progress.output
    of = f" of {progress.total_steps}" if progress.total_steps else ""
    return ProgressView(
        fraction=min(progress.step / total, 1.0),
        text=f"{progress.status}: step {progress.step}{of} · {progress.seconds:.0f} s",
        message=message,
        can_stop=not job.finished,
        loss=loss,
        evaluations=evaluations,
        comparison_title="Before and after fine-tuning, on your sentences",
        comparison=comparison,
        finished=job.finished,
        saved=Note("success", f"{progress.message} It is in the checkpoint picker now.") if done else None,
        saved_ref=f"saved:{Path(progress.output).name}" if done else None,
    )

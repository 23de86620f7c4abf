"""Fine-tune a sentence (or sentence-pair) classifier offline, the way the course teaches:
Dataset.map for tokenization (``tokenizer(sentence1, sentence2, truncation=True)`` for pairs),
DataCollatorWithPadding for dynamic padding, Trainer for the loop, accuracy and F1 as metrics.

A :class:`TrainingJob` runs one fine-tune on a background thread (so the page, and other users'
sessions, keep responding), records live progress, can be stopped, and writes its checkpoint to a
temporary folder that is renamed into place only when training finished: a stopped or failed run
leaves nothing half-written in the picker. One fine-tune runs at a time per server process.

`python -m explorer.training.finetune` builds the default classifier (bundled data, bundled MiniLM);
`python -m explorer.training.finetune --pairs` builds the paraphrase pair classifier (bundled pairs) and
prints its accuracy and F1 on the held-out pairs."""

from __future__ import annotations

import csv
import datetime
import io
import random
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Self

from explorer.errors import InputError
from explorer.paths import saved_checkpoints_dir
from explorer.pipeline.checkpoints import CLASSIFIER_NAME
from explorer.pipeline.saving import save_atomically, save_new

LABELS = ("NEGATIVE", "POSITIVE")
PAIR_LABELS = ("NOT_PARAPHRASE", "PARAPHRASE")  # 0 / 1, like GLUE's MRPC (not / equivalent)
PAIR_COLUMNS = ("sentence1", "sentence2")
PAIR_NAME = "minilm-paraphrase"  # the pair classifier built from the bundled pairs
PAIR_MAX_LENGTH = 128  # tokens per pair: two short sentences and three special tokens fit
SHAPES_SHOWN = 4  # training batches whose padded shape is recorded (dynamic padding, visible)
DEFAULT_NAME = CLASSIFIER_NAME  # the default classifier, built by `make models`
MAX_ROWS = 5_000  # an uploaded CSV larger than this is sampled down (with a note)
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_TEXT_CHARS = 1_000  # longer texts are cut (the model reads at most 64 tokens here anyway)
_LABEL_WORDS = {
    "0": 0, "negative": 0, "neg": 0, "no": 0, "bad": 0,
    "1": 1, "positive": 1, "pos": 1, "yes": 1, "good": 1,
}  # fmt: skip
_PAIR_LABEL_WORDS = {
    "0": 0, "not_paraphrase": 0, "not paraphrase": 0, "not_equivalent": 0, "no": 0, "false": 0,
    "1": 1, "paraphrase": 1, "equivalent": 1, "yes": 1, "true": 1,
}  # fmt: skip


@dataclass(frozen=True)
class LabelledData:
    """Sentences (or sentence pairs: ``texts`` first, ``pairs`` second) and their labels."""

    texts: tuple[str, ...]
    labels: tuple[int, ...]  # 0 = NEGATIVE, 1 = POSITIVE; for pairs 0 = NOT_PARAPHRASE, 1 = PARAPHRASE
    notes: tuple[str, ...] = ()
    pairs: tuple[str, ...] | None = None  # the second sentences, for a pair classifier

    @property
    def is_pairs(self) -> bool:
        return self.pairs is not None

    @property
    def label_names(self) -> tuple[str, str]:
        return PAIR_LABELS if self.is_pairs else LABELS

    def counts(self) -> dict[str, int]:
        return {
            name: sum(1 for label in self.labels if label == i) for i, name in enumerate(self.label_names)
        }

    def pick(self, indices: Sequence[int]) -> LabelledData:
        """The rows at ``indices``, in that order (notes dropped)."""
        return LabelledData(
            tuple(self.texts[i] for i in indices),
            tuple(self.labels[i] for i in indices),
            (),
            tuple(self.pairs[i] for i in indices) if self.pairs is not None else None,
        )

    def columns(self) -> dict[str, list]:
        """The columns a datasets.Dataset is made from: text (or sentence1, sentence2) and label."""
        if self.pairs is None:
            return {"text": list(self.texts), "label": list(self.labels)}
        return {"sentence1": list(self.texts), "sentence2": list(self.pairs), "label": list(self.labels)}


def bundled_dataset() -> tuple[LabelledData, LabelledData]:
    """The sentences written for this project: (train, validation)."""
    text = resources.files("explorer").joinpath("data/sentiment.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    parts = {}
    for split in ("train", "validation"):
        chosen = [r for r in rows if r["split"] == split]
        parts[split] = LabelledData(
            tuple(r["text"] for r in chosen), tuple(LABELS.index(r["label"]) for r in chosen)
        )
    return parts["train"], parts["validation"]


def bundled_pairs() -> tuple[LabelledData, LabelledData, LabelledData]:
    """The sentence pairs written for this project (paraphrase or not): (train, validation,
    held-out test). Pairs built from the same sentences share a group, and a group sits in one
    split only, so the held-out pairs reuse no sentence the training saw."""
    text = resources.files("explorer").joinpath("data/paraphrase_pairs.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    parts = []
    for name in ("train", "validation", "test"):
        chosen = [r for r in rows if r["split"] == name]
        parts.append(
            LabelledData(
                tuple(r["sentence1"] for r in chosen),
                tuple(_PAIR_LABEL_WORDS[r["label"]] for r in chosen),
                (),
                tuple(r["sentence2"] for r in chosen),
            )
        )
    return parts[0], parts[1], parts[2]


def read_labelled_csv(raw: bytes, max_rows: int = MAX_ROWS, seed: int = 0) -> LabelledData:
    """An uploaded CSV with a text column and a label column (or, for a pair classifier,
    'sentence1', 'sentence2' and 'label' columns), checked row by row. Raises InputError with what
    to fix; returns the data with notes on what was skipped or sampled."""
    if not raw.strip():
        raise InputError(
            "The file is empty. Upload a CSV with a 'text' and a 'label' column "
            "(or 'sentence1', 'sentence2' and 'label' for sentence pairs)."
        )
    if len(raw) > MAX_UPLOAD_BYTES:
        raise InputError(
            f"The file is {len(raw) / 1e6:.0f} MB; upload at most {MAX_UPLOAD_BYTES // 1_000_000} MB."
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(
            f"The file is not UTF-8 text (byte {error.start} cannot be read). Save it as CSV UTF-8 and upload it again."
        ) from error
    try:
        reader = csv.DictReader(io.StringIO(text))
        columns = {name.strip().lower(): name for name in (reader.fieldnames or []) if name}
    except csv.Error as error:
        raise InputError(f"The file is not a readable CSV: {error}.") from error
    label_column = columns.get("label")
    pair_columns = [columns.get(name) for name in PAIR_COLUMNS]
    if any(pair_columns):
        if not all(pair_columns) or not label_column:
            missing = [name for name in (*PAIR_COLUMNS, "label") if name not in columns]
            found = ", ".join(repr(c) for c in columns) or "none"
            raise InputError(
                f"A CSV of sentence pairs needs the columns 'sentence1', 'sentence2' and 'label'; "
                f"{' and '.join(repr(m) for m in missing)} {'is' if len(missing) == 1 else 'are'} missing "
                f"(found: {found}). Labels are 0/1 or not_paraphrase/paraphrase."
            )
        found_pair = tuple(c for c in pair_columns if c)  # both, checked above
        return _read_rows(reader, found_pair, label_column, PAIR_ROWS, max_rows, seed)
    text_column = columns.get("text") or columns.get("sentence")
    if not text_column or not label_column:
        found = ", ".join(repr(c) for c in columns) or "none"
        raise InputError(
            f"The CSV needs a 'text' column and a 'label' column (found: {found}). "
            "Labels are 0/1 or negative/positive."
        )
    return _read_rows(reader, (text_column,), label_column, SINGLE_ROWS, max_rows, seed)


def _checked(data: LabelledData) -> LabelledData:
    """Both classes, at least 4 of each; raises InputError otherwise."""
    counts = data.counts()
    if min(counts.values()) == 0:
        missing = [name for name, n in counts.items() if n == 0]
        raise InputError(f"The data has no {missing[0]} examples: a classifier needs both classes.")
    if min(counts.values()) < 4:
        raise InputError(f"Too few examples to learn from ({counts}); give at least 4 of each class.")
    return data


@dataclass(frozen=True)
class _RowKind:
    """How a CSV of single sentences or of sentence pairs names its labels and its problems."""

    words: dict[str, int]  # label spellings -> 0 / 1
    hint: str  # the spellings, for an unknown label
    empty: str  # what a skipped row lacked
    cut: str  # the note on texts cut to MAX_TEXT_CHARS ({cut}: how many)


SINGLE_ROWS = _RowKind(
    _LABEL_WORDS,
    "0/1 or negative/positive",
    "text or label",
    "Cut {cut} text(s) longer than {limit} characters.",
)
PAIR_ROWS = _RowKind(
    _PAIR_LABEL_WORDS,
    "0/1 or not_paraphrase/paraphrase",
    "sentence1, sentence2 or label",
    "Cut {cut} pair(s) with a sentence longer than {limit} characters.",
)


def _read_rows(
    reader: csv.DictReader,
    text_columns: tuple[str, ...],
    label_column: str,
    kind: _RowKind,
    max_rows: int,
    seed: int,
) -> LabelledData:
    """The rows of an uploaded CSV (one text column, or two for sentence pairs), checked row by
    row: empty rows skipped, unknown labels refused, long texts cut, a random sample of at most
    ``max_rows``."""
    rows, labels, empty, unknown, cut = [], [], 0, set(), 0
    try:
        for row in reader:
            values = [(row.get(column) or "").strip() for column in text_columns]
            label = (row.get(label_column) or "").strip().lower()
            if not all(values) or not label:
                empty += 1
                continue
            if label not in kind.words:
                unknown.add(label)
                continue
            if any(len(value) > MAX_TEXT_CHARS for value in values):
                values, cut = [value[:MAX_TEXT_CHARS] for value in values], cut + 1
            rows.append(values)
            labels.append(kind.words[label])
    except csv.Error as error:
        raise InputError(f"The CSV could not be read past row {len(rows) + empty + 1}: {error}.") from error
    if unknown:
        shown = ", ".join(repr(u) for u in sorted(unknown)[:5])
        raise InputError(f"Unknown labels: {shown}. Use {kind.hint}.")
    notes = []
    if empty:
        notes.append(f"Skipped {empty} row(s) with an empty {kind.empty}.")
    if cut:
        notes.append(kind.cut.format(cut=cut, limit=MAX_TEXT_CHARS))
    if len(rows) > max_rows:
        order = list(range(len(rows)))
        random.Random(seed).shuffle(order)
        keep = sorted(order[:max_rows])
        notes.append(f"The file has {len(rows):,} rows; a random sample of {max_rows:,} is used.")
        rows, labels = [rows[i] for i in keep], [labels[i] for i in keep]
    texts = tuple(tuple(row[c] for row in rows) for c in range(len(text_columns)))  # per column
    pairs = texts[1] if len(text_columns) == 2 else None
    return _checked(LabelledData(texts[0], tuple(labels), tuple(notes), pairs))


def split(
    data: LabelledData, validation_fraction: float = 0.2, seed: int = 0
) -> tuple[LabelledData, LabelledData]:
    """Stratified split: the same fraction of each class goes to validation."""
    rng = random.Random(seed)
    train, validation = [], []
    for label in (0, 1):
        indices = [i for i, y in enumerate(data.labels) if y == label]
        rng.shuffle(indices)
        cut = max(1, round(len(indices) * validation_fraction))
        validation += indices[:cut]
        train += indices[cut:]

    return data.pick(sorted(train)), data.pick(sorted(validation))


@dataclass(frozen=True, kw_only=True)
class TrainingConfig:
    epochs: int = 3  # passes over the training data
    learning_rate: float = 5e-5  # AdamW step size; the course's default for fine-tuning
    batch_size: int = 16  # sentences per step; padded per batch by DataCollatorWithPadding
    max_length: int = 64  # tokens per sentence; short sentences need no more
    seed: int = 42  # the classifier head's random start and the data order


Status = Literal["waiting", "running", "stopping", "stopped", "failed", "done"]


@dataclass(kw_only=True)
class Progress:
    """What a job has done so far (written by the training thread, read by the page)."""

    status: Status = "waiting"
    step: int = 0
    total_steps: int = 0
    losses: list[tuple[int, float]] = field(default_factory=list)  # (step, training loss)
    evaluations: list[dict] = field(default_factory=list)  # per epoch: epoch, accuracy, f1, loss
    # The first training batches as DataCollatorWithPadding padded them: batch number, the
    # tokens of each example before padding, and the padded [batch, sequence] shape.
    batch_shapes: list[dict] = field(default_factory=list)
    test: dict | None = None  # on held-out data, after training: examples, accuracy, f1
    message: str = ""
    seconds: float = 0.0
    output: str | None = None  # the saved checkpoint's folder, when done


def _build_model(base: str, seed: int, labels: Sequence[str] = LABELS):
    import torch
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(seed)  # the new head's random start
    return AutoModelForSequenceClassification.from_pretrained(
        base,
        num_labels=2,
        id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
        attn_implementation="eager",
    )


def f1_score(predictions: Sequence[int], labels: Sequence[int], positive: int = 1) -> float:
    """F1 of the ``positive`` class: 2·precision·recall / (precision + recall), as the course's
    MRPC metric reports it (0 when nothing is predicted or labelled positive)."""
    pairs = list(zip(predictions, labels, strict=True))
    true_positive = sum(1 for p, y in pairs if p == positive and y == positive)
    predicted = sum(1 for p, _ in pairs if p == positive)
    actual = sum(1 for _, y in pairs if y == positive)
    if true_positive == 0:
        return 0.0
    precision, recall = true_positive / predicted, true_positive / actual
    return 2 * precision * recall / (precision + recall)


def metrics(prediction) -> dict[str, float]:
    """The course's compute_metrics: accuracy and F1 from (logits [N, 2], labels [N])."""
    import numpy as np

    logits, labels = prediction
    predicted = np.argmax(logits, axis=-1)
    return {
        "accuracy": float((predicted == labels).mean()),
        "f1": f1_score([int(p) for p in predicted], [int(y) for y in labels]),
    }


class ShapeRecorder:
    """Wraps a data collator and records the padded shape of the first ``keep`` training batches
    it makes (``active`` is switched off when the first epoch ends, before any evaluation batch)."""

    def __init__(self, collator: Callable, shapes: list[dict], keep: int = SHAPES_SHOWN) -> None:
        self.collator, self.shapes, self.keep = collator, shapes, keep
        self.active = True

    def __call__(self, features: list[dict]):
        batch = self.collator(features)
        if self.active and len(self.shapes) < self.keep:
            self.shapes.append(
                {
                    "batch": len(self.shapes) + 1,
                    "lengths": [len(f["input_ids"]) for f in features],
                    "padded shape": tuple(int(n) for n in batch["input_ids"].shape),
                }
            )
        return batch


def progress_callback(
    progress: Progress,
    recorder: ShapeRecorder,
    started: float,
    should_stop: Callable[[], bool],
    evaluated: Sequence[str],
):
    """A Trainer callback that reports into ``progress``: steps and time, the loss, each
    evaluation's ``evaluated`` metrics (from ``eval_<name>``), and stops when ``should_stop()``.
    Shared by every fine-tune of the app (sentence classifiers, the NER model)."""
    from transformers import TrainerCallback

    class Report(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            progress.total_steps = state.max_steps
            progress.status = "running"
            progress.message = "Training: each step updates the weights on one batch of sentences."

        def on_step_end(self, args, state, control, **kwargs):
            progress.step = state.global_step
            progress.seconds = time.perf_counter() - started
            if should_stop():
                progress.status = "stopping"
                control.should_training_stop = True
            return control

        def on_epoch_end(self, args, state, control, **kwargs):
            recorder.active = False  # evaluation batches are not training batches

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                progress.losses.append((state.global_step, float(logs["loss"])))

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            if metrics:
                progress.evaluations.append(
                    {
                        "epoch": round(float(state.epoch or 0), 2),
                        **{name: float(metrics.get(f"eval_{name}", float("nan"))) for name in evaluated},
                    }
                )

    return Report()


def make_trainer(model, config, scratch: str, datasets: dict, collator, metrics, report):
    """The course's ``Trainer`` for every fine-tune of the app: ``config``'s epochs, learning rate,
    batch size and seed, evaluation each epoch on ``datasets["validation"]``, a log line per step
    (into ``report``, a progress_callback, not stdout), nothing saved in ``scratch``, on the CPU."""
    from transformers import PrinterCallback, Trainer, TrainingArguments

    arguments = TrainingArguments(
        output_dir=scratch,
        num_train_epochs=config.epochs,
        learning_rate=config.learning_rate,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=64,
        eval_strategy="epoch",
        logging_strategy="steps",
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        seed=config.seed,
        use_cpu=True,
        disable_tqdm=True,
    )
    trainer = Trainer(
        model=model,
        args=arguments,
        train_dataset=datasets["train"],
        eval_dataset=datasets["validation"],
        data_collator=collator,
        compute_metrics=metrics,
        callbacks=[report],
    )
    trainer.remove_callback(PrinterCallback)  # progress goes to `progress`, not stdout
    return trainer


def _datasets(tokenizer: Any, parts: dict[str, LabelledData], is_pairs: bool, max_length: int) -> dict:
    """Each part as a tokenized ``Dataset`` (``Dataset.map``, batched): pairs as
    ``tokenizer(sentence1, sentence2, truncation=True)``, single sentences as ``tokenizer(text, …)``."""
    from datasets import Dataset

    text_columns = list(PAIR_COLUMNS) if is_pairs else ["text"]

    def tokenize(batch: dict) -> Any:
        if is_pairs:  # one input: [CLS] sentence1 [SEP] sentence2 [SEP], token_type_ids 0 then 1
            return tokenizer(batch["sentence1"], batch["sentence2"], truncation=True, max_length=max_length)
        return tokenizer(batch["text"], truncation=True, max_length=max_length)

    return {
        name: Dataset.from_dict(part.columns()).map(tokenize, batched=True, remove_columns=text_columns)
        for name, part in parts.items()
    }


def _score_test(trainer: Any, dataset: Any, test: LabelledData) -> dict:
    """Accuracy and F1 on the held-out examples, scored once after training."""
    import numpy as np

    logits = trainer.predict(dataset).predictions  # [N, 2]
    predicted = [int(i) for i in np.argmax(logits, axis=-1)]  # [N]
    right = sum(p == y for p, y in zip(predicted, test.labels, strict=True))
    return {
        "examples": len(test.labels),
        "accuracy": right / len(test.labels),
        "f1": f1_score(predicted, test.labels),
        "predictions": predicted,
    }


def _metadata(
    base: str,
    train: LabelledData,
    validation: LabelledData,
    config: TrainingConfig,
    progress: Progress,
    started: float,
) -> dict:
    """What explorer_training.json records beside the saved checkpoint."""
    import torch

    return {
        "base": base,
        "train_examples": len(train.texts),
        "validation_examples": len(validation.texts),
        "config": config.__dict__,
        "validation": progress.evaluations[-1] if progress.evaluations else None,
        "pairs": train.is_pairs,
        "columns": list(PAIR_COLUMNS) if train.is_pairs else ["text"],
        "labels": list(train.label_names),
        "test": {k: v for k, v in progress.test.items() if k != "predictions"} if progress.test else None,
        "seconds": round(time.perf_counter() - started, 1),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "torch_threads": torch.get_num_threads(),
    }


def _saved_message(output: Path, wanted: Path, validation: dict | None, test: dict | None) -> str:
    """ "Saved to …" with the validation (and held-out) scores; says so when the name was taken."""
    note = (
        f"validation accuracy {validation['accuracy']:.1%}, F1 {validation['f1']:.3f}"
        if validation
        else "n/a"
    )
    if test:
        note += (
            f"; on {test['examples']} held-out examples accuracy {test['accuracy']:.1%}, F1 {test['f1']:.3f}"
        )
    message = f"Saved to {output} ({note})."
    if output != wanted:
        message += (
            f" A checkpoint named '{wanted.name}' already exists, so this one is saved as "
            f"'{output.name}'; '{wanted.name}' is unchanged."
        )
    return message


def fine_tune(
    base: str,
    train: LabelledData,
    validation: LabelledData,
    output: Path,
    config: TrainingConfig = TrainingConfig(),
    progress: Progress | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    test: LabelledData | None = None,
    replace: bool = True,
) -> Progress:
    """Fine-tune ``base`` (a checkpoint folder) and save it to ``output``; blocking. Pairs
    (``train.is_pairs``) are tokenized as ``tokenizer(sentence1, sentence2, truncation=True)``.
    ``test``, when given, is scored once after training (never used to train or to choose).
    ``replace=False`` never overwrites a checkpoint: a taken name gets ``-2``, ``-3``, … and the
    message says so (``progress.output`` is where it went)."""
    from transformers import AutoTokenizer, DataCollatorWithPadding

    progress = progress or Progress()
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = _build_model(base, config.seed, train.label_names)
    parts = {"train": train, "validation": validation, **({"test": test} if test is not None else {})}
    datasets = _datasets(tokenizer, parts, train.is_pairs, config.max_length)
    recorder = ShapeRecorder(DataCollatorWithPadding(tokenizer), progress.batch_shapes)
    report = progress_callback(progress, recorder, started, should_stop, evaluated=("accuracy", "f1", "loss"))
    with tempfile.TemporaryDirectory(prefix="explorer-trainer-") as scratch:
        trainer = make_trainer(model, config, scratch, datasets, recorder, metrics, report)
        trainer.train()
        if test is not None and not should_stop():
            progress.test = _score_test(trainer, datasets["test"], test)
    if stopped(progress, should_stop):
        return progress
    model.eval()
    metadata = _metadata(base, train, validation, config, progress, started)
    if replace:
        save_atomically(model, tokenizer, output, metadata)
        saved = output
    else:
        saved = save_new(model, tokenizer, output, metadata)
    done(progress, saved, started, _saved_message(saved, output, metadata["validation"], progress.test))
    return progress


def stopped(progress: Progress, should_stop: Callable[[], bool]) -> bool:
    """Whether the user stopped the fine-tune (then ``progress`` says that nothing was saved)."""
    if not should_stop():
        return False
    progress.status = "stopped"
    progress.message = "Stopped: nothing was saved."
    return True


def done(progress: Progress, saved: Path, started: float, message: str) -> None:
    """``progress`` of a fine-tune saved in ``saved``, started at ``started`` (perf_counter)."""
    progress.seconds = time.perf_counter() - started
    progress.output = str(saved)
    progress.status = "done"
    progress.message = message


_one_at_a_time = threading.Lock()


class BackgroundJob:
    """A fine-tune on a background thread, one at a time per server process (of any kind). The
    page keeps the job object (in its session) and reads ``progress``; ``stop()`` asks the loop to
    end after the current step. A subclass sets ``progress``, ``_stop`` and ``_finished`` and
    writes :meth:`_work`; an exception it raises is reported as "Fine-tuning failed: …"."""

    thread_name = "explorer-fine-tune"
    progress: Progress
    _stop: threading.Event
    _finished: threading.Event  # set when the thread is completely done (probes scored)

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    def _run(self) -> None:
        try:
            self.progress.message = "Waiting for another fine-tune on this server to finish…"
            with _one_at_a_time:
                if self._stop.is_set():
                    self.progress.status, self.progress.message = "stopped", "Stopped before it started."
                    return
                self.progress.message = "Tokenizing and preparing the model…"
                self._work()
        except Exception as error:  # reported on the page; nothing was saved
            self.progress.status = "failed"
            self.progress.message = f"Fine-tuning failed: {error}"
        finally:
            self._finished.set()

    def _work(self) -> None:
        raise NotImplementedError


class TrainingJob(BackgroundJob):
    """A sentence (or pair) classifier's fine-tune on a background thread (see BackgroundJob),
    with ``probes`` scored before and after."""

    def __init__(
        self,
        base: str,
        train: LabelledData,
        validation: LabelledData,
        output: Path,
        config: TrainingConfig = TrainingConfig(),
        probes: Sequence[str] = (),
        test: LabelledData | None = None,
        probe_pairs: Sequence[str] | None = None,
        replace: bool = True,
    ) -> None:
        self.progress = Progress()
        self.replace = replace  # False: a taken name gets -2, -3, … instead of being overwritten
        self.probes = tuple(probes)  # sentences to score before and after (the user's text)
        self.probe_pairs = tuple(probe_pairs) if probe_pairs is not None else None  # their second sentences
        self.label_names = train.label_names
        self.test = test
        self.before: list[tuple[float, float]] = []
        self.after: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._finished = threading.Event()
        self.config = config
        self._args = (base, train, validation, output, config)

    def _work(self) -> None:
        base, train, validation, output, config = self._args
        untrained = _build_model(base, config.seed, train.label_names)
        self.before = probabilities(untrained, base, self.probes, self.probe_pairs)
        fine_tune(
            base, train, validation, output, config, self.progress, self._stop.is_set, self.test, self.replace
        )
        if self.progress.status == "done" and self.progress.output:
            from transformers import AutoModelForSequenceClassification

            saved = self.progress.output  # `output`, or `output-2`, … when the name was taken
            reloaded = AutoModelForSequenceClassification.from_pretrained(saved)
            self.after = probabilities(reloaded, saved, self.probes, self.probe_pairs)


def start_job(
    name: str,
    train: LabelledData,
    validation: LabelledData,
    config: TrainingConfig = TrainingConfig(),
    probes: Sequence[str] = (),
    test: LabelledData | None = None,
    probe_pairs: Sequence[str] | None = None,
) -> TrainingJob:
    """Check ``name``, then fine-tune the bundled MiniLM in the background into the saved
    checkpoints folder under that name (a pair classifier when ``train.is_pairs``). A name that is
    taken when the fine-tune saves (an earlier one, or another user's at the same moment) is kept
    and this one gets ``<name>-2``, ``-3``, …, as its message says. Raises ExplorerError with what
    to fix."""
    from explorer.pipeline.checkpoints import minilm_folder, saved_name

    folder = saved_checkpoints_dir() / saved_name(name)
    if name.strip() == DEFAULT_NAME:
        raise InputError(f"'{DEFAULT_NAME}' is the default classifier's name; pick another.")
    return TrainingJob(
        str(minilm_folder()),
        train,
        validation,
        folder,
        config,
        probes=probes,
        test=test,
        probe_pairs=probe_pairs,
        replace=False,  # a name another fine-tune took gets -2, -3, …, never overwritten
    ).start()


def probabilities(
    model, tokenizer_folder: str, sentences: Sequence[str], pairs: Sequence[str] | None = None
) -> list[tuple[float, float]]:
    """[N] (P(label 0), P(label 1)) of each sentence (or pair: sentence N with ``pairs[N]``)
    under ``model`` (a single-label head)."""
    if not sentences:
        return []
    from transformers import AutoTokenizer

    from explorer.pipeline.postprocess import apply, classification_function
    from explorer.pipeline.run import classifier_logits, pair_logits

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_folder)
    if pairs is not None:
        from explorer.pipeline.encoding import encode_batch

        encoding = encode_batch(tokenizer, sentences, pairs, max_length=PAIR_MAX_LENGTH)
        logits = pair_logits(model, encoding)  # [N, 2]
    else:
        logits = classifier_logits(model, tokenizer, sentences)  # [N, 2]
    scores = apply(classification_function(model.config), logits)  # [N, 2]
    return [(float(row[0]), float(row[1])) for row in scores]


def default_classifier_folder() -> Path:
    return saved_checkpoints_dir() / DEFAULT_NAME


@dataclass(frozen=True)
class MeasuredRate:
    """How long a fine-tune took on this machine, from the explorer_training.json that `make models`
    wrote beside the checkpoint it built (loading, training and evaluating; not saving)."""

    name: str  # the checkpoint it built, e.g. "minilm-sentiment"
    examples: int  # training examples seen: sentences (or pairs) x epochs
    seconds: float
    date: str  # when it was measured (ISO)

    def estimate(self, examples: int) -> str:
        """The measurement, stated beside ``examples`` (training sentences or pairs x epochs), not
        scaled: loading, setting up and evaluating take a fixed time, so a shorter run is not
        proportionally shorter (one epoch of the default classifier took 19 s here, not 8)."""
        return (
            f"`make models` fine-tuned {self.name} on this machine in {self.seconds:.0f} s for "
            f"{self.examples:,} training examples ({self.date[:10]}; loading and evaluating included), "
            f"this run trains on {examples:,}; longer while others use the server"
        )


def measured_rate(folder: Path) -> MeasuredRate | None:
    """The rate recorded in ``folder``'s explorer_training.json (None when it was not built here or
    records no time)."""
    import json

    from explorer.pipeline.checkpoints import TRAINING_METADATA

    try:
        metadata = json.loads((folder / TRAINING_METADATA).read_text())
        examples = int(metadata["train_examples"]) * int(metadata["config"]["epochs"])
        seconds = float(metadata["seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if examples < 1 or not seconds > 0:
        return None
    return MeasuredRate(folder.name, examples, seconds, str(metadata.get("date", "")))


def build_default(force: bool = False) -> Path:
    """The default classifier: MiniLM fine-tuned on the bundled sentences (skipped when present)."""
    from explorer.pipeline.checkpoints import minilm_folder

    output = default_classifier_folder()
    if (output / "config.json").is_file() and not force:
        print(f"Default classifier: {output} (already built)")
        return output
    train, validation = bundled_dataset()
    print(
        f"Fine-tuning the default classifier on {len(train.texts)} sentences "
        f"({len(validation.texts)} for validation)…",
        flush=True,
    )
    progress = fine_tune(str(minilm_folder()), train, validation, output)
    for evaluation in progress.evaluations:
        print(f"  epoch {evaluation['epoch']}: validation accuracy {evaluation['accuracy']:.1%}")
    print(f"Default classifier: {output} ({progress.seconds:.0f} s)")
    return output


def pair_classifier_folder() -> Path:
    return saved_checkpoints_dir() / PAIR_NAME


# Pairs with hard negatives need more steps than 360 pairs in batches of 16 give at 5e-5.
PAIR_CONFIG = TrainingConfig(epochs=8, learning_rate=5e-5, batch_size=8, max_length=PAIR_MAX_LENGTH)


def build_pairs(force: bool = False) -> Path:
    """The paraphrase pair classifier: MiniLM fine-tuned on the bundled pairs, scored on the
    held-out pairs (skipped when present)."""
    from explorer.pipeline.checkpoints import minilm_folder

    output = pair_classifier_folder()
    if (output / "config.json").is_file() and not force:
        print(f"Pair classifier: {output} (already built)")
        return output
    train, validation, test = bundled_pairs()
    print(
        f"Fine-tuning the pair classifier on {len(train.texts)} pairs ({len(validation.texts)} for "
        f"validation, {len(test.texts)} held out)…",
        flush=True,
    )
    progress = fine_tune(str(minilm_folder()), train, validation, output, PAIR_CONFIG, test=test)
    for shape in progress.batch_shapes:
        print(f"  batch {shape['batch']}: padded to {list(shape['padded shape'])}")
    for evaluation in progress.evaluations:
        print(
            f"  epoch {evaluation['epoch']}: validation accuracy {evaluation['accuracy']:.1%}, "
            f"F1 {evaluation['f1']:.3f}"
        )
    if progress.losses:
        print(
            f"  training loss: {progress.losses[0][1]:.3f} at step 1, {progress.losses[-1][1]:.3f} at the last step"
        )
    if progress.test:
        print(
            f"  held-out ({progress.test['examples']} pairs): accuracy {progress.test['accuracy']:.1%}, "
            f"F1 {progress.test['f1']:.3f}"
        )
    print(f"Pair classifier: {output} ({progress.seconds:.0f} s)")
    return output


if __name__ == "__main__":
    import sys

    if "--pairs" in sys.argv:
        build_pairs(force="--force" in sys.argv)
    else:
        build_default(force="--force" in sys.argv)

"""Fine-tune a sentence classifier offline, the way the course teaches: Dataset.map for
tokenization, DataCollatorWithPadding for dynamic padding, Trainer for the loop.

A :class:`TrainingJob` runs one fine-tune on a background thread (so the page, and other users'
sessions, keep responding), records live progress, can be stopped, and writes its checkpoint to a
temporary folder that is renamed into place only when training finished: a stopped or failed run
leaves nothing half-written in the picker. One fine-tune runs at a time per server process.

`python -m explorer.finetune` builds the default classifier (bundled data, bundled MiniLM)."""

from __future__ import annotations

import csv
import datetime
import io
import json
import random
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal

from explorer.checkpoints import CLASSIFIER_NAME
from explorer.checkpoints import TRAINING_METADATA as METADATA_FILE
from explorer.errors import InputError
from explorer.paths import saved_checkpoints_dir

LABELS = ("NEGATIVE", "POSITIVE")
DEFAULT_NAME = CLASSIFIER_NAME  # the default classifier, built by `make models`
MAX_ROWS = 5_000  # an uploaded CSV larger than this is sampled down (with a note)
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_TEXT_CHARS = 1_000  # longer texts are cut (the model reads at most 64 tokens here anyway)
_LABEL_WORDS = {
    "0": 0, "negative": 0, "neg": 0, "no": 0, "bad": 0,
    "1": 1, "positive": 1, "pos": 1, "yes": 1, "good": 1,
}  # fmt: skip


@dataclass(frozen=True)
class LabelledData:
    texts: tuple[str, ...]
    labels: tuple[int, ...]  # 0 = NEGATIVE, 1 = POSITIVE
    notes: tuple[str, ...] = ()

    def counts(self) -> dict[str, int]:
        return {name: sum(1 for label in self.labels if label == i) for i, name in enumerate(LABELS)}


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


def read_labelled_csv(raw: bytes, max_rows: int = MAX_ROWS, seed: int = 0) -> LabelledData:
    """An uploaded CSV with a text column and a label column, checked row by row. Raises
    InputError with what to fix; returns the data with notes on what was skipped or sampled."""
    if not raw.strip():
        raise InputError("The file is empty. Upload a CSV with a 'text' and a 'label' column.")
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
    text_column = columns.get("text") or columns.get("sentence")
    label_column = columns.get("label")
    if not text_column or not label_column:
        found = ", ".join(repr(c) for c in columns) or "none"
        raise InputError(
            f"The CSV needs a 'text' column and a 'label' column (found: {found}). "
            "Labels are 0/1 or negative/positive."
        )
    texts, labels, empty, unknown, cut = [], [], 0, set(), 0
    try:
        for row in reader:
            sentence = (row.get(text_column) or "").strip()
            label = (row.get(label_column) or "").strip().lower()
            if not sentence or not label:
                empty += 1
                continue
            if label not in _LABEL_WORDS:
                unknown.add(label)
                continue
            if len(sentence) > MAX_TEXT_CHARS:
                sentence, cut = sentence[:MAX_TEXT_CHARS], cut + 1
            texts.append(sentence)
            labels.append(_LABEL_WORDS[label])
    except csv.Error as error:
        raise InputError(f"The CSV could not be read past row {len(texts) + empty + 1}: {error}.") from error
    if unknown:
        shown = ", ".join(repr(u) for u in sorted(unknown)[:5])
        raise InputError(f"Unknown labels: {shown}. Use 0/1 or negative/positive.")
    notes = []
    if empty:
        notes.append(f"Skipped {empty} row(s) with an empty text or label.")
    if cut:
        notes.append(f"Cut {cut} text(s) longer than {MAX_TEXT_CHARS} characters.")
    if len(texts) > max_rows:
        order = list(range(len(texts)))
        random.Random(seed).shuffle(order)
        keep = sorted(order[:max_rows])
        notes.append(f"The file has {len(texts):,} rows; a random sample of {max_rows:,} is used.")
        texts, labels = [texts[i] for i in keep], [labels[i] for i in keep]
    data = LabelledData(tuple(texts), tuple(labels), tuple(notes))
    counts = data.counts()
    if min(counts.values()) == 0:
        missing = [name for name, n in counts.items() if n == 0]
        raise InputError(f"The data has no {missing[0]} examples: a classifier needs both classes.")
    if min(counts.values()) < 4:
        raise InputError(f"Too few examples to learn from ({counts}); give at least 4 of each class.")
    return data


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

    def pick(indices: list[int]) -> LabelledData:
        indices = sorted(indices)
        return LabelledData(tuple(data.texts[i] for i in indices), tuple(data.labels[i] for i in indices))

    return pick(train), pick(validation)


@dataclass(frozen=True)
class TrainingConfig:
    epochs: int = 3  # passes over the training data
    learning_rate: float = 5e-5  # AdamW step size; the course's default for fine-tuning
    batch_size: int = 16  # sentences per step; padded per batch by DataCollatorWithPadding
    max_length: int = 64  # tokens per sentence; short sentences need no more
    seed: int = 42  # the classifier head's random start and the data order


Status = Literal["waiting", "running", "stopping", "stopped", "failed", "done"]


@dataclass
class Progress:
    """What a job has done so far (written by the training thread, read by the page)."""

    status: Status = "waiting"
    step: int = 0
    total_steps: int = 0
    losses: list[tuple[int, float]] = field(default_factory=list)  # (step, training loss)
    evaluations: list[dict] = field(default_factory=list)  # per epoch: epoch, accuracy, loss
    message: str = ""
    seconds: float = 0.0
    output: str | None = None  # the saved checkpoint's folder, when done


def _build_model(base: str, seed: int):
    import torch
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(seed)  # the new head's random start
    return AutoModelForSequenceClassification.from_pretrained(
        base,
        num_labels=2,
        id2label=dict(enumerate(LABELS)),
        label2id={name: i for i, name in enumerate(LABELS)},
        attn_implementation="eager",
    )


def fine_tune(
    base: str,
    train: LabelledData,
    validation: LabelledData,
    output: Path,
    config: TrainingConfig = TrainingConfig(),
    progress: Progress | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> Progress:
    """Fine-tune ``base`` (a checkpoint folder) and save it to ``output``; blocking."""
    import numpy as np
    import torch
    from datasets import Dataset
    from transformers import (
        AutoTokenizer,
        DataCollatorWithPadding,
        PrinterCallback,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )

    progress = progress or Progress()
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = _build_model(base, config.seed)

    def tokenize(batch):
        return tokenizer(batch["text"], truncation=True, max_length=config.max_length)

    datasets = {
        name: Dataset.from_dict({"text": list(part.texts), "label": list(part.labels)}).map(
            tokenize, batched=True, remove_columns=["text"]
        )
        for name, part in (("train", train), ("validation", validation))
    }

    def accuracy(prediction) -> dict:
        logits, labels = prediction
        return {"accuracy": float((np.argmax(logits, axis=-1) == labels).mean())}

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

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                progress.losses.append((state.global_step, float(logs["loss"])))

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            if metrics:
                progress.evaluations.append(
                    {
                        "epoch": round(float(state.epoch or 0), 2),
                        "accuracy": float(metrics.get("eval_accuracy", float("nan"))),
                        "loss": float(metrics.get("eval_loss", float("nan"))),
                    }
                )

    with tempfile.TemporaryDirectory(prefix="explorer-trainer-") as scratch:
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
            data_collator=DataCollatorWithPadding(tokenizer),
            compute_metrics=accuracy,
            callbacks=[Report()],
        )
        trainer.remove_callback(PrinterCallback)  # progress goes to `progress`, not stdout
        trainer.train()
    if should_stop():
        progress.status = "stopped"
        progress.message = "Stopped: nothing was saved."
        return progress
    model.eval()
    metadata = {
        "base": base,
        "train_examples": len(train.texts),
        "validation_examples": len(validation.texts),
        "config": config.__dict__,
        "validation": progress.evaluations[-1] if progress.evaluations else None,
        "seconds": round(time.perf_counter() - started, 1),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "torch_threads": torch.get_num_threads(),
    }
    save_atomically(model, tokenizer, output, metadata)
    progress.seconds = time.perf_counter() - started
    progress.output = str(output)
    progress.status = "done"
    accuracy_note = f"{metadata['validation']['accuracy']:.1%}" if metadata["validation"] else "n/a"
    progress.message = f"Saved to {output} (validation accuracy {accuracy_note})."
    return progress


def save_atomically(model, tokenizer, output: Path, metadata: dict | None = None) -> None:
    """save_pretrained into a temporary folder beside ``output``, then swap it into place."""
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output.name}-", dir=output.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if metadata is not None:
            (tmp / METADATA_FILE).write_text(json.dumps(metadata, indent=2))
        old = None
        if output.exists():
            old = output.parent / f".{output.name}-old-{time.time_ns()}"
            output.rename(old)
        tmp.rename(output)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


_one_at_a_time = threading.Lock()


class TrainingJob:
    """A fine-tune on a background thread. The page keeps the job object (in its session) and
    reads ``progress``; ``stop()`` asks the loop to end after the current step."""

    def __init__(
        self,
        base: str,
        train: LabelledData,
        validation: LabelledData,
        output: Path,
        config: TrainingConfig = TrainingConfig(),
        probes: Sequence[str] = (),
    ) -> None:
        self.progress = Progress()
        self.probes = tuple(probes)  # sentences to score before and after (the user's text)
        self.before: list[tuple[float, float]] = []
        self.after: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._finished = threading.Event()  # set when the thread is completely done (probes scored)
        self.config = config
        self._args = (base, train, validation, output, config)
        self._thread = threading.Thread(target=self._run, name="explorer-fine-tune", daemon=True)

    def start(self) -> TrainingJob:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    def _run(self) -> None:
        try:
            self._train()
        finally:
            self._finished.set()

    def _train(self) -> None:
        base, train, validation, output, config = self._args
        self.progress.message = "Waiting for another fine-tune on this server to finish…"
        with _one_at_a_time:
            if self._stop.is_set():
                self.progress.status, self.progress.message = "stopped", "Stopped before it started."
                return
            try:
                self.progress.message = "Tokenizing and preparing the model…"
                self.before = probabilities(_build_model(base, config.seed), base, self.probes)
                fine_tune(base, train, validation, output, config, self.progress, self._stop.is_set)
                if self.progress.status == "done":
                    from transformers import AutoModelForSequenceClassification

                    reloaded = AutoModelForSequenceClassification.from_pretrained(output)
                    self.after = probabilities(reloaded, str(output), self.probes)
            except Exception as error:  # reported on the page; nothing was saved
                self.progress.status = "failed"
                self.progress.message = f"Fine-tuning failed: {error}"


def start_job(
    name: str,
    train: LabelledData,
    validation: LabelledData,
    config: TrainingConfig = TrainingConfig(),
    probes: Sequence[str] = (),
) -> TrainingJob:
    """Check ``name``, then fine-tune the bundled MiniLM in the background into the saved
    checkpoints folder under that name. Raises ExplorerError with what to fix."""
    from explorer.checkpoints import minilm_folder, saved_name

    folder = saved_checkpoints_dir() / saved_name(name)
    if name.strip() == DEFAULT_NAME:
        raise InputError(f"'{DEFAULT_NAME}' is the default classifier's name; pick another.")
    return TrainingJob(str(minilm_folder()), train, validation, folder, config, probes=probes).start()


def probabilities(model, tokenizer_folder: str, sentences: Sequence[str]) -> list[tuple[float, float]]:
    """[N] (P(NEGATIVE), P(POSITIVE)) of each sentence under ``model`` (a single-label head)."""
    if not sentences:
        return []
    from transformers import AutoTokenizer

    from explorer.postprocess import apply, classification_function
    from explorer.run import classifier_logits

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_folder)
    logits = classifier_logits(model, tokenizer, sentences)  # [N, 2]
    scores = apply(classification_function(model.config), logits)  # [N, 2]
    return [tuple(float(x) for x in row) for row in scores]


def default_classifier_folder() -> Path:
    return saved_checkpoints_dir() / DEFAULT_NAME


def build_default(force: bool = False) -> Path:
    """The default classifier: MiniLM fine-tuned on the bundled sentences (skipped when present)."""
    from explorer.checkpoints import minilm_folder

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


if __name__ == "__main__":
    import sys

    build_default(force="--force" in sys.argv)

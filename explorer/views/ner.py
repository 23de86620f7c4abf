"""Token classification (NER): a named-entity recognizer fine-tuned here, offline, with the course's
recipe, shown step by step.

- :func:`training_data` / :func:`build_data`: the tagged sentences (bundled, or a user's CSV), counted;
- :func:`build_alignment`: one sentence's words, sub-tokens, word ids and labels (-100 where ignored);
- :func:`build_batch`: what DataCollatorForTokenClassification pads a few sentences to;
- :func:`training_progress`: a running or finished :class:`~explorer.training.ner.NerJob`, for the live fragment;
- :func:`build_report`: seqeval's entity scores on the held-out and natural sentences.
Pure: everything is read from the data, the tokenizer and the job; no Streamlit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from explorer.drawing import figures
from explorer.pipeline.token_display import shown_tokens
from explorer.training import finetune as ft
from explorer.training import ner as ner_data
from explorer.views.common import JobProgress, Note, Table, table

SOURCES = ("Sentences written for this app", "Upload a CSV")
FORMAT_HELP = ner_data.FORMAT_HELP  # the two CSV layouts a user can upload
EPOCHS = (1, 2, 3, 4, 5, 6, 8)
LEARNING_RATES = (2e-5, 5e-5, 1e-4, 2e-4, 5e-4)
DEFAULTS = ner_data.NerConfig()  # the epochs and learning rate the page starts from (measured)
SAMPLE_ROWS = 8  # sentences shown as a sample of the data
CHOICES = 30  # training sentences offered for the alignment
SPLIT_NAMES = {
    "train": "training",
    "validation": "validation",
    "test": "held out: names never seen in training",
    "natural": "held out: everyday sentences written by hand",
}
INTRO = (
    "Named-entity recognition labels **each word**: `B-PER` begins a person's name, `I-PER` continues "
    "it, `O` is outside any name (IOB2 tags). No NER model can be downloaded without the Hub, so this "
    "page trains one the way the course does: the bundled MiniLM encoder gets a new token-classification "
    "head (`AutoModelForTokenClassification`, one logit per tag for every token), the words are tokenized "
    "with `is_split_into_words=True`, labels are aligned to sub-tokens, `DataCollatorForTokenClassification` "
    "pads each batch and `Trainer` runs the loop; seqeval scores whole names."
)


@dataclass(frozen=True)
class NerData:
    """What a fine-tune reads: training and validation sentences (and notes on a user's file)."""

    train: ner_data.TaggedData
    validation: ner_data.TaggedData
    notes: tuple[Note, ...]
    held_out: dict[str, ner_data.TaggedData]  # scored after training: always the bundled test and natural


def training_data(source: str, upload: bytes | None) -> NerData | None:
    """The bundled sentences, or an uploaded CSV split for validation (None while nothing is
    uploaded). Raises ExplorerError with what to fix in the file."""
    bundled = ner_data.bundled_sentences()
    held_out = {"test": bundled["test"], "natural": bundled["natural"]}
    if source != SOURCES[1]:
        return NerData(bundled["train"], bundled["validation"], (), held_out)
    if upload is None:
        return None
    data = ner_data.read_tagged_csv(upload)
    train, validation = ner_data.split(data)
    return NerData(train, validation, tuple(Note("info", n) for n in data.notes), held_out)


@dataclass(frozen=True)
class DataView:
    counts: Table  # per split: sentences, words, names of each type
    types: str  # the entity types and their tags
    sample: Table  # a few training sentences, each name marked with its type
    overlap: Note  # names shared between training and the held-out sentences (computed)


def marked(words: tuple[str, ...], tags: tuple[str, ...]) -> str:
    """A sentence with each name in brackets followed by its type: '[Maria Lopez] PER moved …'."""
    spans = {start: (kind, end) for start, kind, end in ner_data.entities(tags)}
    out, i = [], 0
    while i < len(words):
        if i in spans:
            kind, end = spans[i]
            out.append(f"[{' '.join(words[i:end])}] {kind}")
            i = end
        else:
            out.append(words[i])
            i += 1
    return " ".join(out)


def build_data(data: NerData) -> DataView:
    parts = {"train": data.train, "validation": data.validation, **data.held_out}
    rows = []
    for name, part in parts.items():
        counts = part.entity_counts()
        rows.append(
            {
                "split": name,
                "what": SPLIT_NAMES.get(name, name),
                "sentences": len(part),
                "words": sum(len(w) for w in part.words),
                **{f"{kind} names": counts[kind] for kind in ner_data.ENTITY_TYPES},
            }
        )
    seen = data.train.entity_strings()
    shared = {name: sorted(part.entity_strings() & seen) for name, part in data.held_out.items()}
    if any(shared.values()):
        listed = "; ".join(f"{name}: {', '.join(names[:5])}" for name, names in shared.items() if names)
        overlap = Note("warning", f"Some held-out names also occur in training ({listed}).")
    else:
        totals = ", ".join(f"{len(part.entity_strings())} in {name}" for name, part in data.held_out.items())
        overlap = Note(
            "info",
            f"No held-out name ({totals}) occurs in the training sentences: the scores below measure "
            "names the model has never seen.",
        )
    return DataView(
        counts=table(rows, index="split"),
        types=", ".join(
            f"**{kind}** ({ner_data.ENTITY_NAMES[kind]}: `B-{kind}`, `I-{kind}`)"
            for kind in ner_data.ENTITY_TYPES
        )
        + ", and `O` outside names: "
        + f"{len(ner_data.TAGS)} labels.",
        sample=table(
            [
                {"sentence": marked(w, t), "tags": " ".join(t)}
                for w, t in zip(data.train.words[:SAMPLE_ROWS], data.train.tags[:SAMPLE_ROWS], strict=True)
            ]
        ),
        overlap=overlap,
    )


def sentence_choices(data: NerData) -> list[str]:
    """The training sentences offered for the alignment view (their words joined by spaces)."""
    return [" ".join(words) for words in data.train.words[:CHOICES]]


def default_choice(tokenizer, data: NerData) -> int:
    """The first offered sentence where some word splits into several sub-tokens (0 if none)."""
    for i, words in enumerate(data.train.words[:CHOICES]):
        encoded = tokenizer(list(words), is_split_into_words=True)
        ids = [w for w in encoded.word_ids() if w is not None]
        if len(ids) > len(set(ids)):
            return i
    return 0


@dataclass(frozen=True)
class AlignmentView:
    code: str  # the call that makes it
    table: Table  # per sub-token: sub-token, word id, word, label
    explanation: Note  # counts: words, sub-tokens, labelled, ignored


def build_alignment(tokenizer, words: tuple[str, ...], tags: tuple[str, ...]) -> AlignmentView:
    aligned = ner_data.alignment(tokenizer, words, tags)
    shown = shown_tokens(tokenizer, aligned.tokens)
    raw_differs = shown != tuple(aligned.tokens)
    rows = [
        {
            "position": i,
            "sub-token": text,
            **({"raw piece": token} if raw_differs else {}),
            "word id": "None" if word is None else str(word),
            "word": "" if word is None else aligned.words[word],
            "label id": label,
            "label": "-100 (ignored)" if label == ner_data.IGNORED else ner_data.TAGS[label],
        }
        for i, (token, text, word, label) in enumerate(
            zip(aligned.tokens, shown, aligned.word_ids, aligned.labels, strict=True)
        )
    ]
    specials = [t for t, w in zip(shown, aligned.word_ids, strict=True) if w is None]
    later = sum(
        1 for i, w in enumerate(aligned.word_ids) if w is not None and i > 0 and aligned.word_ids[i - 1] == w
    )
    labelled = sum(1 for label in aligned.labels if label != ner_data.IGNORED)
    special_text = (
        f"the {len(specials)} special token(s) the tokenizer adds ({', '.join(f'`{t}`' for t in specials)})"
        if specials
        else "no special tokens (this tokenizer adds none)"
    )
    explanation = Note(
        "info",
        f"**{len(words)}** words became **{len(aligned.tokens)}** tokens. **{labelled}** carry a label: the "
        f"first sub-token of each word. **{len(aligned.tokens) - labelled}** get -100, which the loss "
        f"ignores: {later} later sub-token(s) of split words and {special_text}. "
        "`word_ids()` is what links each sub-token back to its word. Only first sub-tokens are trained, so "
        'read the model\'s tags there too: `pipeline("token-classification", aggregation_strategy="first")`.',
    )
    return AlignmentView(
        code="tokenizer(words, is_split_into_words=True, truncation=True).word_ids()",
        table=table(rows, index="position"),
        explanation=explanation,
    )


@dataclass(frozen=True)
class BatchView:
    table: Table  # per sentence: tokens before padding, and its padded labels
    shapes: str  # each tensor the collator returns and its [batch, sequence] shape
    explanation: Note


def build_batch(tokenizer, data: NerData, count: int = 4) -> BatchView:
    batch = ner_data.collate(tokenizer, data.train, count)
    width = max(batch.lengths)
    rows = [
        {
            "sentence": i,
            "tokens before padding": length,
            "padded labels": " ".join(str(x) for x in labels),
        }
        for i, (length, labels) in enumerate(zip(batch.lengths, batch.labels, strict=True))
    ]
    shapes = ", ".join(f"`{name}` {list(shape)}" for name, shape in batch.shapes.items())
    return BatchView(
        table=table(rows, index="sentence"),
        shapes=f"`DataCollatorForTokenClassification(tokenizer)` on the first {len(batch.lengths)} training "
        f"sentences returns {shapes}.",
        explanation=Note(
            "caption",
            f"Every sentence is padded to the batch's longest, {width} tokens: `input_ids` with the pad id "
            f"{batch.pad_id}, `labels` with -100 so that padding adds nothing to the loss. Another batch "
            "pads to its own longest sentence.",
        ),
    )


def estimate(data: NerData, epochs: int) -> str:
    batch = ner_data.NerConfig().batch_size
    steps = math.ceil(len(data.train) / batch) * epochs
    rate = ft.measured_rate(ner_data.ner_folder())
    return (
        f"{steps} steps ({epochs} epoch(s) of {math.ceil(len(data.train) / batch)} batches of {batch})"
        + ("" if rate is None else "; " + rate.estimate(len(data.train) * epochs))
        + "."
    )


@dataclass(frozen=True)
class ReportView:
    overall: Table  # per held-out split: precision, recall, F1, names, token accuracy
    per_type: Table  # per split and entity type: precision, recall, F1, names
    caption: str


def build_report(held_out: dict[str, dict]) -> ReportView | None:
    """seqeval's scores per held-out split (from a finished job or the saved model's metadata)."""
    if not held_out:
        return None
    overall = [
        {
            "split": name,
            "what": SPLIT_NAMES.get(name, name),
            "names": result["entities"],
            "precision": round(result["precision"], 3),
            "recall": round(result["recall"], 3),
            "F1": round(result["f1"], 3),
            "token accuracy": f"{result['token_accuracy']:.1%}",
        }
        for name, result in held_out.items()
    ]
    per_type = [
        {
            "split": name,
            "type": kind,
            "names": scores["entities"],
            "precision": round(scores["precision"], 3),
            "recall": round(scores["recall"], 3),
            "F1": round(scores["f1"], 3),
        }
        for name, result in held_out.items()
        for kind, scores in result["per_type"].items()
    ]
    return ReportView(
        overall=table(overall, index="split"),
        per_type=table(per_type, index=["split", "type"]),
        caption=(
            "seqeval counts a name as found only when its type and all of its words are right "
            "(precision: found names that are right; recall: true names found). Token accuracy counts "
            "words, and `O` words are most of them, so it looks better than F1."
        ),
    )


@dataclass(frozen=True)
class SavedModel:
    ref: str  # saved:minilm-ner
    built: bool
    status: Note
    report: ReportView | None


def saved_model(folder: Path | None = None) -> SavedModel:
    """Is saved:minilm-ner built, and how well did it do?"""
    metadata = ner_data.saved_metadata(folder)
    if metadata is None:
        return SavedModel(
            ner_data.REF,
            False,
            Note(
                "info",
                "No NER model is built yet: fine-tune one below (or run `python -m explorer.training.ner`).",
            ),
            None,
        )
    return SavedModel(
        ner_data.REF,
        True,
        Note(
            "success",
            f"`{ner_data.REF}` is built: {metadata['train_examples']} training sentences, "
            f"{metadata['config']['epochs']} epochs, {metadata['seconds']:.0f} s; {ner_data.summary(metadata)}.",
        ),
        build_report(metadata.get("held_out") or {}),
    )


@dataclass(frozen=True, kw_only=True)
class ProgressView(JobProgress):
    """loss: the loss curve and validation F1; evaluations: per epoch validation precision, recall,
    F1, token accuracy and loss."""

    report: ReportView | None  # seqeval on the held-out sentences, once scored


def _loss_figure(progress, epochs: int):
    steps, losses = zip(*progress.losses, strict=True)
    per_epoch = progress.total_steps / max(epochs, 1)
    as_accuracy = [{"epoch": e["epoch"], "accuracy": e["f1"]} for e in progress.evaluations]
    figure = figures.loss_curve(list(steps), list(losses), as_accuracy, per_epoch)
    if len(figure.data) > 1:
        figure.data[1].name = "validation entity F1"
    figure.update_layout(
        title={"text": "Fine-tuning: loss and validation entity F1"},
        yaxis2={"title": {"text": "validation entity F1"}, "tickformat": ".2f"},
    )
    return figure


def training_progress(job: Any) -> ProgressView:
    """What ``job`` (an explorer.training.ner.NerJob, or anything with the same fields) has done."""
    progress = job.progress
    message = None
    if progress.message:
        message = Note("error" if progress.status == "failed" else "caption", progress.message)
    evaluations = None
    if progress.evaluations:
        evaluations = table(
            [
                {
                    "epoch": round(e["epoch"]),
                    "precision": round(e["precision"], 3),
                    "recall": round(e["recall"], 3),
                    "entity F1": round(e["f1"], 3),
                    "token accuracy": f"{e['token_accuracy']:.1%}",
                    "validation loss": round(e["loss"], 4),
                }
                for e in progress.evaluations
            ],
            index="epoch",
        )
    batches = None
    if progress.batch_shapes:
        batches = table(
            [
                {
                    "batch": s["batch"],
                    "sentences": len(s["lengths"]),
                    "tokens before padding (shortest – longest)": f"{min(s['lengths'])} – {max(s['lengths'])}",
                    "padded shape [batch, sequence]": str(list(s["padded shape"])),
                }
                for s in progress.batch_shapes
            ],
            index="batch",
        )
    done = job.finished and progress.status == "done" and progress.output
    of = f" of {progress.total_steps}" if progress.total_steps else ""
    return ProgressView(
        fraction=min(progress.step / max(progress.total_steps, 1), 1.0),
        text=f"{progress.status}: step {progress.step}{of} · {progress.seconds:.0f} s",
        message=message,
        can_stop=not job.finished,
        loss=_loss_figure(progress, job.config.epochs) if progress.losses else None,
        evaluations=evaluations,
        batches=batches,
        report=build_report(progress.test) if progress.test else None,
        finished=job.finished,
        saved=Note("success", f"{progress.message} It is in the checkpoint picker now.") if done else None,
        saved_ref=f"saved:{Path(progress.output).name}" if done else None,
    )


def start_training(data: NerData, epochs: int, learning_rate: float) -> ner_data.NerJob:
    """Start a fine-tune of the bundled MiniLM into saved:minilm-ner (the page keeps the job)."""
    config = ner_data.NerConfig(epochs=epochs, learning_rate=learning_rate)
    return ner_data.start_job(data.train, data.validation, config)

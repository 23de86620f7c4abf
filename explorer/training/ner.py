"""Fine-tune a named-entity recognizer offline, the way the course teaches token classification:
words pre-split (``tokenizer(words, is_split_into_words=True)``), one label per word aligned to the
sub-tokens (the first sub-token of a word carries the word's label, the others and the special
tokens get -100, which the loss ignores), ``DataCollatorForTokenClassification`` pads the labels
with -100 as it pads the ids, ``Trainer`` runs the loop, and seqeval scores whole entities
(precision, recall, F1), not tokens.

The data are sentences written for this app (``explorer/data/ner_sentences.csv``, made by
``explorer/data/ner_generate.py``): IOB2 tags for people (PER), places (LOC), organisations (ORG)
and other names (MISC: nationalities, languages, events). The held-out ``test`` sentences share no
entity string with the training sentences; the ``natural`` sentences were written by hand.

`python -m explorer.training.ner` builds ``saved:minilm-ner`` once (``--force`` builds it again) and prints
the entity F1 on the held-out and natural sentences. A :class:`NerJob` runs the same fine-tune on
a background thread for the page (progress, stop), as :class:`explorer.training.finetune.TrainingJob` does.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from explorer.errors import InputError
from explorer.paths import saved_checkpoints_dir
from explorer.pipeline.checkpoints import TRAINING_METADATA
from explorer.pipeline.saving import save_atomically
from explorer.training.finetune import (
    BackgroundJob,
    Progress,
    ShapeRecorder,
    done,
    make_trainer,
    progress_callback,
    stopped,
)

NAME = "minilm-ner"  # the saved checkpoint: saved:minilm-ner
REF = f"saved:{NAME}"
ENTITY_TYPES = ("PER", "ORG", "LOC", "MISC")
ENTITY_NAMES = {"PER": "person", "ORG": "organisation", "LOC": "place", "MISC": "other name"}
# CoNLL-2003's label order (the course's dataset): O, then B-/I- of each type.
TAGS = ("O", *(f"{prefix}-{kind}" for kind in ENTITY_TYPES for prefix in ("B", "I")))
IGNORED = -100  # the label of special tokens, of a word's later sub-tokens, and of padding
SPLITS = ("train", "validation", "test", "natural")
MAX_SENTENCES = 5_000  # an uploaded file with more sentences is cut (with a note)
MAX_WORDS = 200  # words per sentence; longer sentences are refused
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
DATA_FILE = "data/ner_sentences.csv"
FORMAT_HELP = (
    "A CSV in one of two layouts. **One sentence per row**: a `tokens` column (the words, separated "
    "by single spaces, punctuation as words of its own) and a `tags` column (one IOB2 tag per word, "
    "separated by spaces). **One word per row** (as CoNLL files): `token` and `tag` columns, with an "
    "empty row between sentences (or a `sentence` column that numbers them). Tags: "
    + ", ".join(f"`{t}`" for t in TAGS)
    + "."
)


@dataclass(frozen=True)
class TaggedData:
    """Sentences as words, each word with its IOB2 tag: ``words[i][j]`` is tagged ``tags[i][j]``."""

    words: tuple[tuple[str, ...], ...]
    tags: tuple[tuple[str, ...], ...]
    notes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.words)

    def entity_counts(self) -> dict[str, int]:
        """How many entities (B- tags, and I- tags that start one) of each type."""
        counts = Counter(kind for _, kind, _ in (e for s in self.tags for e in entities(s)))
        return {kind: counts.get(kind, 0) for kind in ENTITY_TYPES}

    def entity_strings(self) -> set[str]:
        return {
            " ".join(words[start:end])
            for words, tags in zip(self.words, self.tags, strict=True)
            for start, _, end in entities(tags)
        }

    def columns(self) -> dict[str, list]:
        """The columns a datasets.Dataset is made from: words and label ids per word."""
        return {
            "words": [list(w) for w in self.words],
            "word_labels": [[TAGS.index(t) for t in s] for s in self.tags],
        }


def entities(tags: Sequence[str]) -> list[tuple[int, str, int]]:
    """(start, type, end) of each entity in IOB2 tags; an I- tag after O or after another type
    starts an entity, as seqeval's default mode reads it."""
    found: list[list] = []
    previous = "O"
    for i, tag in enumerate(tags):
        prefix, _, kind = tag.partition("-")
        if prefix == "B" or (prefix == "I" and previous[2:] != kind):
            found.append([i, kind, i + 1])
        elif prefix == "I":
            found[-1][2] = i + 1
        previous = tag
    return [tuple(e) for e in found]


def bundled_sentences() -> dict[str, TaggedData]:
    """The sentences written for this app, by split: train, validation, test, natural."""
    text = resources.files("explorer").joinpath(DATA_FILE).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    return {
        split: TaggedData(
            tuple(tuple(r["tokens"].split(" ")) for r in rows if r["split"] == split),
            tuple(tuple(r["tags"].split(" ")) for r in rows if r["split"] == split),
        )
        for split in SPLITS
    }


# --- Reading a user's CSV -----------------------------------------------------------------------


def read_tagged_csv(raw: bytes, max_sentences: int = MAX_SENTENCES) -> TaggedData:
    """An uploaded CSV of tagged sentences (see FORMAT_HELP), checked sentence by sentence. Raises
    InputError saying what to fix (which row, which tag)."""
    if not raw.strip():
        raise InputError(f"The file is empty. {FORMAT_HELP}")
    if len(raw) > MAX_UPLOAD_BYTES:
        raise InputError(f"The file is {len(raw) / 1e6:.0f} MB; upload at most 10 MB.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(
            f"The file is not UTF-8 text (byte {error.start} cannot be read). Save it as CSV UTF-8."
        ) from error
    try:
        table = list(csv.reader(io.StringIO(text)))
    except csv.Error as error:
        raise InputError(f"The file is not a readable CSV: {error}.") from error
    header = [name.strip().lower() for name in table[0]]
    body = table[1:]
    if "tokens" in header and "tags" in header:
        sentences = _sentence_rows(body, header.index("tokens"), header.index("tags"))
    elif "token" in header and "tag" in header:
        group = header.index("sentence") if "sentence" in header else None
        sentences = _word_rows(body, header.index("token"), header.index("tag"), group)
    else:
        found = ", ".join(repr(c) for c in header if c) or "none"
        raise InputError(f"The CSV's columns are {found}. {FORMAT_HELP}")
    return _checked(sentences, max_sentences)


def _cell(row: list[str], column: int) -> str:
    return row[column].strip() if column < len(row) else ""


def _sentence_rows(body: list[list[str]], words_at: int, tags_at: int) -> list[tuple[int, list, list]]:
    """(row number, words, tags) of a file with one sentence per row."""
    sentences = []
    for number, row in enumerate(body, start=2):
        words, tags = _cell(row, words_at).split(), _cell(row, tags_at).split()
        if not words and not tags:
            continue
        if len(words) != len(tags):
            raise InputError(
                f"Row {number} has {len(words)} word(s) but {len(tags)} tag(s): every word needs exactly "
                f"one tag (words and tags are separated by single spaces). The row starts "
                f"“{' '.join(words[:8])[:80]}”."
            )
        sentences.append((number, words, tags))
    return sentences


def _word_rows(
    body: list[list[str]], word_at: int, tag_at: int, group_at: int | None
) -> list[tuple[int, list, list]]:
    """(first row number, words, tags) of a file with one word per row."""
    sentences: list[tuple[int, list, list]] = []
    current: tuple[int, list, list] | None = None
    last_group = None
    for number, row in enumerate(body, start=2):
        word, tag = _cell(row, word_at), _cell(row, tag_at)
        group = _cell(row, group_at) if group_at is not None else None
        if not word and not tag:
            current = None  # an empty row ends a sentence
            continue
        if bool(word) != bool(tag):
            missing = "tag" if word else "word"
            raise InputError(
                f"Row {number} has a {'word' if word else 'tag'} but no {missing}: every word needs "
                f"exactly one tag ({'word ' + repr(word) if word else 'tag ' + repr(tag)})."
            )
        if current is None or (group_at is not None and group != last_group):
            current = (number, [], [])
            sentences.append(current)
        last_group = group
        current[1].append(word)
        current[2].append(tag)
    return sentences


def _checked(sentences: list[tuple[int, list, list]], max_sentences: int) -> TaggedData:
    """Known tags only; sentences not too long; enough of them to learn from; notes on repairs."""
    if not sentences:
        raise InputError(f"The file has no tagged sentences. {FORMAT_HELP}")
    known = set(TAGS)
    upper = {tag.upper(): tag for tag in TAGS}
    words, tags, dangling = [], [], 0
    for number, sentence_words, sentence_tags in sentences:
        fixed = [upper.get(tag.upper(), tag) for tag in sentence_tags]  # b-per -> B-PER
        unknown = [tag for tag in fixed if tag not in known]
        if unknown:
            raise InputError(
                f"Row {number}: unknown tag {unknown[0]!r}. Use IOB2 tags: "
                + ", ".join(TAGS)
                + " (O outside names; B- starts a name, I- continues it)."
            )
        if len(sentence_words) > MAX_WORDS:
            raise InputError(f"Row {number}: a sentence of {len(sentence_words)} words; at most {MAX_WORDS}.")
        dangling += sum(
            1
            for i, tag in enumerate(fixed)
            if tag.startswith("I-") and (i == 0 or fixed[i - 1][2:] != tag[2:])
        )
        words.append(tuple(sentence_words))
        tags.append(tuple(fixed))
    notes = []
    if dangling:
        notes.append(
            f"{dangling} I- tag(s) follow O or another type (no B- before them): each is read as the start "
            "of a name, as seqeval reads it."
        )
    if len(words) > max_sentences:
        notes.append(f"The file has {len(words):,} sentences; the first {max_sentences:,} are used.")
        words, tags = words[:max_sentences], tags[:max_sentences]
    data = TaggedData(tuple(words), tuple(tags), tuple(notes))
    if len(data) < 10 or sum(data.entity_counts().values()) < 5:
        raise InputError(
            f"Too little to learn from: {len(data)} sentence(s) with {sum(data.entity_counts().values())} "
            "name(s). Give at least 10 sentences and 5 tagged names."
        )
    return data


def split(data: TaggedData, validation_fraction: float = 0.2) -> tuple[TaggedData, TaggedData]:
    """Every fifth sentence to validation (a user's file has no split column)."""
    step = max(2, round(1 / validation_fraction))
    keep = [i for i in range(len(data)) if i % step != step - 1]
    held = [i for i in range(len(data)) if i % step == step - 1]

    def pick(indices: list[int]) -> TaggedData:
        return TaggedData(tuple(data.words[i] for i in indices), tuple(data.tags[i] for i in indices))

    return pick(keep), pick(held)


# --- The course's recipe: alignment, batches, metrics -------------------------------------------


def align_labels(word_ids: Sequence[int | None], word_labels: Sequence[int]) -> list[int]:
    """[S] the label of each sub-token: the word's label on its first sub-token, IGNORED (-100) on
    its later sub-tokens and on special tokens (word id None)."""
    labels, previous = [], None
    for word in word_ids:
        if word is None or word == previous:
            labels.append(IGNORED)
        else:
            labels.append(word_labels[word])
        previous = word
    return labels


def tokenize_and_align(tokenizer, batch: dict[str, list], max_length: int) -> dict[str, list]:
    """Dataset.map's function: the words tokenized as pre-split words, and aligned labels."""
    encoded = tokenizer(batch["words"], is_split_into_words=True, truncation=True, max_length=max_length)
    encoded["labels"] = [
        align_labels(encoded.word_ids(i), labels) for i, labels in enumerate(batch["word_labels"])
    ]
    return encoded


@dataclass(frozen=True)
class Alignment:
    """One sentence through the recipe: each sub-token with its word and its training label."""

    tokens: tuple[str, ...]  # [S] sub-tokens, special tokens included
    word_ids: tuple[int | None, ...]  # [S] index of the word each sub-token comes from (None: special)
    words: tuple[str, ...]  # the sentence's words
    labels: tuple[int, ...]  # [S] label id, or -100


def alignment(tokenizer, words: Sequence[str], tags: Sequence[str], max_length: int = 128) -> Alignment:
    """How ``tokenizer`` splits the words of one sentence and which sub-tokens carry a label."""
    encoded = tokenizer(list(words), is_split_into_words=True, truncation=True, max_length=max_length)
    word_ids = encoded.word_ids()
    return Alignment(
        tokens=tuple(tokenizer.convert_ids_to_tokens(encoded["input_ids"])),
        word_ids=tuple(word_ids),
        words=tuple(words),
        labels=tuple(align_labels(word_ids, [TAGS.index(t) for t in tags])),
    )


@dataclass(frozen=True)
class CollatedBatch:
    """What DataCollatorForTokenClassification makes of a few sentences."""

    lengths: tuple[int, ...]  # tokens of each sentence before padding
    shapes: dict[str, tuple[int, ...]]  # tensor name -> [B, S]
    labels: tuple[tuple[int, ...], ...]  # [B, S] the padded labels (-100 past each sentence's end)
    pad_id: int  # the tokenizer's pad token id (input_ids past each sentence's end)


def collate(tokenizer, data: TaggedData, count: int = 4, max_length: int = 128) -> CollatedBatch:
    """The first ``count`` sentences of ``data`` as one training batch."""
    from transformers import DataCollatorForTokenClassification

    features = []
    for words, tags in zip(data.words[:count], data.tags[:count], strict=True):
        encoded = tokenizer(list(words), is_split_into_words=True, truncation=True, max_length=max_length)
        features.append(
            {
                **{k: list(v) for k, v in encoded.items()},
                "labels": align_labels(encoded.word_ids(), [TAGS.index(t) for t in tags]),
            }
        )
    batch = DataCollatorForTokenClassification(tokenizer)(features)  # each tensor [B, S]
    return CollatedBatch(
        lengths=tuple(len(f["input_ids"]) for f in features),
        shapes={name: tuple(int(n) for n in tensor.shape) for name, tensor in batch.items()},
        labels=tuple(tuple(int(x) for x in row) for row in batch["labels"].tolist()),
        pad_id=int(tokenizer.pad_token_id),
    )


def word_predictions(logits, labels) -> tuple[list[list[str]], list[list[str]]]:
    """From logits [N, S, K] and aligned labels [N, S]: (true tags, predicted tags) per sentence,
    one per word (read at each word's first sub-token, where the label is not -100)."""
    import numpy as np

    predicted = np.argmax(logits, axis=-1)  # [N, S]
    truth, guess = [], []
    for row_labels, row_predicted in zip(labels, predicted, strict=True):
        kept = row_labels != IGNORED  # [S]
        truth.append([TAGS[int(i)] for i in row_labels[kept]])
        guess.append([TAGS[int(i)] for i in row_predicted[kept]])
    return truth, guess


def scores(truth: list[list[str]], guess: list[list[str]]) -> dict:
    """seqeval's entity-level scores: overall precision, recall, F1, token accuracy, and per type."""
    from seqeval.metrics import accuracy_score, classification_report

    report = classification_report(truth, guess, output_dict=True, zero_division=0)
    overall = report.get("micro avg", {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 0})
    return {
        "precision": float(overall["precision"]),
        "recall": float(overall["recall"]),
        "f1": float(overall["f1-score"]),
        "entities": int(overall["support"]),
        "token_accuracy": float(accuracy_score(truth, guess)),
        "per_type": {
            kind: {
                "precision": float(report[kind]["precision"]),
                "recall": float(report[kind]["recall"]),
                "f1": float(report[kind]["f1-score"]),
                "entities": int(report[kind]["support"]),
            }
            for kind in ENTITY_TYPES
            if kind in report
        },
    }


def metrics(prediction) -> dict[str, float]:
    """Trainer's compute_metrics: seqeval scores from (logits [N, S, K], labels [N, S])."""
    logits, labels = prediction
    result = scores(*word_predictions(logits, labels))
    return {k: result[k] for k in ("precision", "recall", "f1", "token_accuracy")}


# --- Training -----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class NerConfig:
    # Measured on the bundled data (2026-12, 2-core machine, light load), held-out entity F1:
    #   6 epochs at 1e-4: test 0.944, natural 0.788 (validation F1 1.0 from epoch 5), 107 s under load
    #   4 epochs at 1e-4: test 0.905, natural 0.804, 34 s
    #   4 epochs at 2e-4: test 0.966, natural 0.804 (validation F1 1.0 from epoch 3), 33 s  <- chosen
    epochs: int = 4  # passes over the training sentences
    learning_rate: float = 2e-4  # a new 9-way head on 520 short sentences: 5e-5 needs many more epochs
    batch_size: int = 16  # sentences per step, padded per batch by DataCollatorForTokenClassification
    max_length: int = 64  # sub-tokens per sentence; the bundled sentences need at most ~40
    seed: int = 42  # the head's random start and the data order


def _build_model(base: str, seed: int):
    import torch
    from transformers import AutoModelForTokenClassification

    torch.manual_seed(seed)  # the new head's random start
    return AutoModelForTokenClassification.from_pretrained(
        base,
        num_labels=len(TAGS),
        id2label=dict(enumerate(TAGS)),
        label2id={tag: i for i, tag in enumerate(TAGS)},
        attn_implementation="eager",
    )


def _dataset(tokenizer, data: TaggedData, max_length: int):
    from datasets import Dataset

    return Dataset.from_dict(data.columns()).map(
        lambda batch: tokenize_and_align(tokenizer, batch, max_length),
        batched=True,
        remove_columns=["words", "word_labels"],
    )


def fine_tune(
    base: str,
    train: TaggedData,
    validation: TaggedData,
    output: Path,
    config: NerConfig = NerConfig(),
    progress: Progress | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    held_out: dict[str, TaggedData] | None = None,
) -> Progress:
    """Fine-tune ``base`` (a checkpoint folder) for NER and save it to ``output``; blocking. Each
    of ``held_out`` (name -> sentences) is scored once after training, never used to train."""
    from transformers import AutoTokenizer, DataCollatorForTokenClassification

    progress = progress or Progress()
    held_out = held_out or {}
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = _build_model(base, config.seed)
    datasets = {
        name: _dataset(tokenizer, part, config.max_length)
        for name, part in {"train": train, "validation": validation, **held_out}.items()
    }
    recorder = ShapeRecorder(DataCollatorForTokenClassification(tokenizer), progress.batch_shapes)
    report = progress_callback(progress, recorder, started, should_stop, evaluated=_EVALUATED)
    with tempfile.TemporaryDirectory(prefix="explorer-ner-") as scratch:
        trainer = make_trainer(model, config, scratch, datasets, recorder, metrics, report)
        trainer.train()
        if not should_stop():
            progress.test = {}
            for name in held_out:
                prediction = trainer.predict(datasets[name])  # predictions [N, S, K], label_ids [N, S]
                progress.test[name] = scores(*word_predictions(prediction.predictions, prediction.label_ids))
    if stopped(progress, should_stop):
        return progress
    model.eval()
    metadata = _metadata(base, train, validation, config, progress, started)
    save_atomically(model, tokenizer, output, metadata)
    done(progress, output, started, f"Saved to {output} ({summary(metadata)}).")
    return progress


def _metadata(
    base: str,
    train: TaggedData,
    validation: TaggedData,
    config: NerConfig,
    progress: Progress,
    started: float,
) -> dict:
    """What explorer_training.json records beside the saved NER checkpoint."""
    import torch

    return {
        "task": "token-classification",
        "base": base,
        "train_examples": len(train),
        "validation_examples": len(validation),
        "config": config.__dict__,
        "labels": list(TAGS),
        # no "accuracy" key: explorer.pipeline.checkpoints' picker description is for sentence classifiers
        "validation_scores": progress.evaluations[-1] if progress.evaluations else None,
        "held_out": progress.test,
        "seconds": round(time.perf_counter() - started, 1),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "torch_threads": torch.get_num_threads(),
    }


_EVALUATED = ("precision", "recall", "f1", "token_accuracy", "loss")


def summary(metadata: dict) -> str:
    """One line: the entity F1 on validation and on each held-out split."""
    parts = []
    if metadata.get("validation_scores"):
        parts.append(f"validation entity F1 {metadata['validation_scores']['f1']:.3f}")
    for name, result in (metadata.get("held_out") or {}).items():
        parts.append(f"{name} ({result['entities']} names) F1 {result['f1']:.3f}")
    return ", ".join(parts) or "no scores"


def saved_metadata(folder: Path | None = None) -> dict | None:
    """What the saved NER checkpoint was trained on and how well it did (None when not built)."""
    folder = folder or ner_folder()
    try:
        return json.loads((folder / TRAINING_METADATA).read_text())
    except (OSError, ValueError):
        return None


@dataclass(kw_only=True)
class NerJob(BackgroundJob):
    """A NER fine-tune on a background thread: the page keeps the job (in its session) and reads
    ``progress``; ``stop()`` asks the loop to end after the current step."""

    base: str
    train: TaggedData
    validation: TaggedData
    output: Path
    config: NerConfig = NerConfig()
    held_out: dict[str, TaggedData] = field(default_factory=dict)
    progress: Progress = field(default_factory=Progress)
    label_names: tuple[str, ...] = TAGS
    _stop: threading.Event = field(default_factory=threading.Event)
    _finished: threading.Event = field(default_factory=threading.Event)

    thread_name = "explorer-ner-fine-tune"

    def _work(self) -> None:
        fine_tune(
            self.base,
            self.train,
            self.validation,
            self.output,
            self.config,
            self.progress,
            self._stop.is_set,
            self.held_out,
        )


def ner_folder() -> Path:
    return saved_checkpoints_dir() / NAME


def start_job(train: TaggedData, validation: TaggedData, config: NerConfig = NerConfig()) -> NerJob:
    """Fine-tune the bundled MiniLM in the background into saved:minilm-ner, scored afterwards on
    the bundled held-out and natural sentences."""
    from explorer.pipeline.checkpoints import minilm_folder

    bundled = bundled_sentences()
    held_out = {"test": bundled["test"], "natural": bundled["natural"]}
    return NerJob(
        base=str(minilm_folder()),
        train=train,
        validation=validation,
        output=ner_folder(),
        config=config,
        held_out=held_out,
    ).start()


def build_default(force: bool = False) -> Path:
    """saved:minilm-ner: MiniLM fine-tuned on the bundled sentences (skipped when present)."""
    from explorer.pipeline.checkpoints import minilm_folder

    output = ner_folder()
    if (output / "config.json").is_file() and not force:
        print(f"NER model: {output} (already built)")
        return output
    data = bundled_sentences()
    print(
        f"Fine-tuning the NER model on {len(data['train'])} sentences ({len(data['validation'])} for "
        f"validation; {len(data['test'])} held out with unseen names, {len(data['natural'])} natural)…",
        flush=True,
    )
    held_out = {"test": data["test"], "natural": data["natural"]}
    progress = fine_tune(str(minilm_folder()), data["train"], data["validation"], output, held_out=held_out)
    for e in progress.evaluations:
        print(f"  epoch {e['epoch']:.0f}: validation entity F1 {e['f1']:.3f}, loss {e['loss']:.3f}")
    for name, result in (progress.test or {}).items():
        print(
            f"  {name}: precision {result['precision']:.3f}, recall {result['recall']:.3f}, "
            f"F1 {result['f1']:.3f} on {result['entities']} names"
        )
    print(f"NER model: {output} ({progress.seconds:.0f} s)")
    return output


if __name__ == "__main__":
    import sys

    build_default(force="--force" in sys.argv)

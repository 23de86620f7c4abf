"""Step ③ of the Pipeline page for a checkpoint without a task head (feature extraction): what
:mod:`explorer.pipeline.tasks.feature_extraction` computes, said and drawn: the token vectors and
their check against ``pipeline("feature-extraction")``, the pooling, the sentence embeddings and
their cosine similarities, what pooling the padding would do without the attention mask, the
embedding way of zero-shot, and an embedding map of the bundled sentences with the nearest ones to
each of the user's (semantic search)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go

from explorer.drawing import figures
from explorer.drawing.render import visible
from explorer.pipeline.tasks import BASE, TaskInputs
from explorer.pipeline.tasks import feature_extraction as fe
from explorer.pipeline.tasks.feature_extraction import (
    CHECK_TOLERANCE,
    MAX_LABELS,
    MODE_TEXT,
    BundledVectors,
    Pooling,
)
from explorer.training import finetune
from explorer.views.common import Note, Table, table
from explorer.views.tasks.zero_shot import list_notes

SHOWN_DIMENSIONS = 4  # first values of each sentence vector shown in the table
SHORT = 48  # characters of a sentence in a chart label or a table cell


@dataclass(frozen=True, kw_only=True)
class MaskDemo:
    """The course's mask argument, for pooling: one sentence alone, then padded, pooled three ways."""

    intro: Note
    table: Table | None  # one row per way: cosine and largest difference vs the sentence alone
    conclusion: Note | None


@dataclass(frozen=True, kw_only=True)
class LabelPart:
    """The embedding way of zero-shot: cosine between each sentence and each candidate label."""

    intro: Note
    notes: tuple[Note, ...]  # no labels, the cap, duplicates
    heatmap: go.Figure | None  # [B, labels] cosines
    table: Table | None  # each sentence's labels, most similar first


@dataclass(frozen=True, kw_only=True)
class EmbeddingMap:
    """The bundled labelled sentences, PCA to 2-D, the user's sentences placed on the same axes."""

    intro: Note
    timing: Note  # how long the bundled vectors took (computed once per checkpoint), or what it costs
    figure: go.Figure | None  # None until the bundled vectors are computed
    nearest: Table | None  # semantic search: the most similar bundled sentences per user sentence
    # Not computed yet for this checkpoint: a button's label, and what it runs (fills the cache the
    # next build reads). None once computed.
    offer: str | None = None
    compute: Callable[[], Any] | None = None


@dataclass(frozen=True, kw_only=True)
class View:
    """Step ③ for a checkpoint without a task head: token vectors -> pooling -> sentence embeddings."""

    intro: Note  # what the model returned: token vectors [B, S, D]
    check: Note  # the token vectors vs pipeline("feature-extraction")
    pooling: Note  # which pooling, and who chose it
    notes: tuple[Note, ...]  # sentences cut at the checkpoint's max_seq_length, …
    embeddings_title: str  # "Sentence embeddings: shape [B, D]"
    embeddings: Table  # per sentence: real tokens (cut at the limit), length, the first values
    similarity_title: str
    similarity: go.Figure | None  # [B, B] cosine heatmap
    similarity_table: Table | None  # every pair once, with its cosine
    similarity_note: Note
    mask: MaskDemo
    labels: LabelPart
    embedding_map: EmbeddingMap


def _short(text: str, limit: int = SHORT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- The bundled sentences -----------------------------------------------------------------------


def bundled_corpus() -> fe.Corpus:
    """The app's bundled labelled sentences (train + validation), with their label names."""
    train, validation = finetune.bundled_dataset()  # read at call time (tests swap in a smaller set)
    return fe.Corpus(
        texts=train.texts + validation.texts,
        labels=tuple(finetune.LABELS[i] for i in train.labels + validation.labels),
    )


def bundled_vectors(loaded: Any, pooling: Pooling) -> BundledVectors:
    """The bundled sentences embedded by ``loaded`` (computed once per checkpoint, then kept)."""
    return fe.bundled_vectors(loaded, pooling, bundled_corpus())


# --- The token vectors, their check, the pooling ----------------------------------------------------


def _intro(loaded: Any, tokens: np.ndarray) -> Note:
    B, S, D = tokens.shape
    if loaded.is_encoder_decoder:
        kind = (
            " It is an encoder-decoder: these are its **encoder's** vectors (each has read the whole "
            "sentence, both ways); its decoder, which writes text, is not used here."
        )
    elif loaded.is_decoder:
        kind = (
            " It is a decoder: each token's vector has seen only the tokens before it, so the last token's "
            "vector is the only one that has read the whole sentence."
        )
    else:
        kind = " It is an encoder: each token's vector has read the whole sentence, both ways."
    returned = (
        ' This is what `pipeline("feature-extraction")` returns.' if fe.pipeline_returns_them(loaded) else ""
    )
    headless = (
        "has no task head: its output is "
        if loaded.head_class == BASE
        else "has a task head; feature extraction reads the layer below it: "
    )
    return Note(
        "markdown",
        f"`{loaded.model_class}` {headless}one vector per token, `last_hidden_state` of shape "
        f"**[{B}, {S}, {D}]** (sentences × tokens, padding included × hidden size).{returned}{kind} "
        "To compare whole sentences, step ③ pools each sentence's token "
        f"vectors into one vector of {D} numbers: a **sentence embedding**.",
    )


def _token_check(loaded: Any, encoding: Any, tokens: np.ndarray) -> Note:
    """The token vectors [B, S, D] against pipeline("feature-extraction")'s, said."""
    found = fe.check_tokens(loaded, encoding, tokens)
    if not found.compared:
        return Note(
            "info",
            'Not checked against `pipeline("feature-extraction")`: it returns the model\'s first output, '
            "which for this model is not these vectors (a head's logits, or an encoder-decoder's "
            "decoder side).",
        )
    if found.error is not None:
        return Note(
            "warning",
            f'`pipeline("feature-extraction")` could not run on this checkpoint ({found.error}), so the '
            "token vectors are not checked against it.",
        )
    if found.mismatch is not None:
        b, theirs, ours = found.mismatch
        return Note(
            "warning",
            f'`pipeline("feature-extraction")` returned {theirs} token vectors for sentence '
            f"{b} and the batch has {ours}: they tokenized it differently.",
        )
    largest = found.largest
    if largest <= CHECK_TOLERANCE:
        return Note(
            "success",
            f'Checked: `pipeline("feature-extraction")` returns the same token vectors (each sentence run '
            f"alone, without padding): largest difference {largest:.1e} ≤ {CHECK_TOLERANCE:.0e}.",
        )
    return Note(
        "warning",
        f'`pipeline("feature-extraction")` (each sentence alone, without padding) differs from the '
        f"batch's real tokens by up to {largest:.1e}, more than {CHECK_TOLERANCE:.0e}.",
    )


def _pooling_note(pooling: Pooling) -> Note:
    ways = "; ".join(MODE_TEXT[mode] for mode in pooling.modes)
    joined = " The modes' vectors are joined end to end." if len(pooling.modes) > 1 else ""
    scaled = (
        " Then each sentence vector is divided by its length (L2 norm), so a dot product of two of them "
        "is their cosine similarity."
        if pooling.normalize
        else ""
    )
    return Note("markdown", f"**Pooling.** {pooling.source} That is {ways}.{joined}{scaled}")


def _longer_notes(found: fe.PageEmbeddings) -> tuple[Note, ...]:
    if not found.longer:
        return ()
    longer, limit = ", ".join(str(b) for b in found.longer), found.limit
    return (
        Note(
            "info",
            f"Sentence(s) {longer} are longer than the {limit} tokens this checkpoint's "
            "sentence_bert_config.json allows (max_seq_length): as sentence-transformers does, their "
            f"embeddings pool only the first {limit} tokens.",
        ),
    )


def _embeddings_table(embeddings: np.ndarray, pooled: np.ndarray, sentences: Sequence[str]) -> Table:
    rows = []
    for b, vector in enumerate(embeddings):
        row = {"sentence": f"{b} · {_short(sentences[b])}", "real tokens": int(pooled[b])}
        row["length (L2 norm)"] = round(float(np.linalg.norm(vector)), 4)
        for d in range(min(SHOWN_DIMENSIONS, len(vector))):
            row[f"dim {d}"] = round(float(vector[d]), 4)
        rows.append(row)
    return table(rows, index="sentence")


def _similarity(
    embeddings: np.ndarray, sentences: Sequence[str], pooling: Pooling
) -> tuple[go.Figure | None, Table | None, Note]:
    B = len(sentences)
    if B < 2:
        return (
            None,
            None,
            Note("info", "Type a second sentence (one per line) to compare sentence embeddings."),
        )
    similarity = fe.cosine(embeddings, embeddings)  # [B, B]
    names = [figures.label(b, _short(s, 30)) for b, s in enumerate(sentences)]
    figure = figures.matrix_heatmap(
        similarity,
        names,
        names,
        f"Cosine similarity of the {B} sentence embeddings",
        "sentence",
        "sentence",
        value_name="cosine",
    )
    rows = [
        {
            "sentence": f"{i} · {_short(sentences[i])}",
            "other": f"{j} · {_short(sentences[j])}",
            "cosine": round(float(similarity[i, j]), 4),
        }
        for i in range(B)
        for j in range(i + 1, B)
    ]
    i, j = np.unravel_index(np.argmax(similarity + np.tril(np.full((B, B), -np.inf))), (B, B))
    note = Note(
        "markdown",
        "Cosine similarity: 1 = same direction, 0 = unrelated, −1 = opposite"
        + (" (with normalised vectors it is just their dot product)" if pooling.normalize else "")
        + f". The most similar pair here: sentences {i} and {j} ({similarity[i, j]:.3f}).",
    )
    return figure, table(rows[:200]), note


# --- The mask demo ---------------------------------------------------------------------------------


def _mask_demo(loaded: Any, encoding: Any, pooling: Pooling) -> MaskDemo:
    found = fe.mask_demo(loaded, encoding, pooling)
    b, n, target = found.sentence, found.tokens, found.target
    if not found.ways:
        return MaskDemo(
            intro=Note(
                "info", f"Sentence {b} fills the model's {found.limit} tokens: there is no room to pad it."
            ),
            table=None,
            conclusion=None,
        )
    rows = [
        {
            "way": "alone, no padding (the reference)",
            "positions treated as real": n,
            "cosine vs alone": 1.0,
            "largest |difference|": 0.0,
        }
    ] + [
        {
            "way": way.name,
            "positions treated as real": way.real,
            "cosine vs alone": round(way.cosine, 6),
            "largest |difference|": float(f"{way.difference:.2e}"),
        }
        for way in found.ways
    ]
    pad = loaded.batch_tokenizer.pad_token or "the pad token"
    where = (
        "in this batch it gets" if target == encoding.shape[1] else "beside a longer sentence it would get"
    )
    intro = Note(
        "markdown",
        f"**Why pooling needs the attention mask.** Sentence {b} has {n} tokens; {where} "
        f"{target - n} × `{pad}` ({found.padding_side} padding) to make {target}. The padding "
        "positions still come out of the model with vectors. Below, the sentence alone and padded, "
        f"pooled three ways ({pooling.mode} pooling).",
    )
    conclusion = _mask_conclusion([(way.cosine, way.difference) for way in found.ways])
    return MaskDemo(intro=intro, table=table(rows, index="way"), conclusion=conclusion)


def _mask_conclusion(results: list[tuple[float, float]]) -> Note:
    """What the three padded ways did, from their numbers (cosine, largest difference vs alone)."""
    (_, masked), (pooled_cos, pooled_diff), (none_cos, none_diff) = results

    def said(cos: float, diff: float) -> str:
        if diff <= CHECK_TOLERANCE:
            return f"changes nothing here (largest difference {diff:.1e})"
        return f"moves the vector (cosine {cos:.4f} with the sentence alone, largest difference {diff:.1e})"

    same = masked <= CHECK_TOLERANCE
    first = (
        f"With the mask, padding changes nothing: the same vector as the sentence alone (largest difference "
        f"{masked:.1e})."
        if same
        else f"Even with the mask the padded vector differs from the sentence alone by up to {masked:.1e}."
    )
    return Note(
        "success" if same else "warning",
        f"{first} Pooling over the padding too {said(pooled_cos, pooled_diff)}; without the mask "
        f"anywhere, the padding {said(none_cos, none_diff)}.",
    )


# --- Candidate labels, the embedding way -------------------------------------------------------------


def parse_labels(text: str) -> tuple[tuple[str, ...], tuple[Note, ...]]:
    """(labels, notes): comma-separated candidate labels, stripped, duplicates and empties left
    out, at most MAX_LABELS (each of these said in a note)."""
    parsed = fe.parse_labels(text)
    notes = list_notes(
        parsed,
        MAX_LABELS,
        repeated="{repeated} repeated label(s) left out.",
        capped="Only the first {cap} of {typed} labels are compared (a cap, to keep it quick).",
    )
    return parsed.items, tuple(notes)


_LABELS_INTRO = Note(
    "markdown",
    "**Zero-shot, the embedding way.** Each candidate label is embedded like a sentence, and each "
    "sentence gets the label whose embedding is closest (cosine similarity). A cosine is not a "
    'probability, and this is not `pipeline("zero-shot-classification")`\'s way: that pipeline needs a '
    "natural-language-inference head (entailment vs contradiction), which this checkpoint does not have.",
)


def _label_part(
    loaded: Any, sentences: Sequence[str], embeddings: np.ndarray, text: str, pooling: Pooling
) -> LabelPart:
    labels, notes = parse_labels(text)
    if not labels:
        empty = Note("info", "Type candidate labels, separated by commas (e.g. sports, politics, cooking).")
        return LabelPart(intro=_LABELS_INTRO, notes=(*notes, empty), heatmap=None, table=None)
    similarity = fe.label_similarity(loaded, embeddings, labels, pooling)  # [B, L]
    figure = figures.matrix_heatmap(
        similarity,
        [figures.label(b, _short(s, 30)) for b, s in enumerate(sentences)],
        [figures.label(k, _short(label, 30)) for k, label in enumerate(labels)],
        "Cosine similarity: sentence embedding vs label embedding",
        "candidate label",
        "sentence",
        value_name="cosine",
    )
    best = fe.ranked(similarity)  # [B, NEAREST]
    rows = [
        {
            "sentence": f"{b} · {_short(sentence)}",
            "rank": rank,
            "label": _short(labels[k]),
            "cosine": round(float(similarity[b, k]), 4),
        }
        for b, sentence in enumerate(sentences)
        for rank, k in enumerate(best[b], start=1)
    ]
    return LabelPart(
        intro=_LABELS_INTRO, notes=notes, heatmap=figure, table=table(rows, index=["sentence", "rank"])
    )


# --- The embedding map ---------------------------------------------------------------------------

# Okabe-Ito colours and distinct symbols: readable without colour vision too.
_LABEL_STYLE = {"NEGATIVE": ("#D55E00", "circle"), "POSITIVE": ("#0072B2", "diamond")}


def _map_figure(
    bundled: BundledVectors, points: np.ndarray, users: np.ndarray, sentences: Sequence[str], kept: float
) -> go.Figure:
    """[N, 2] bundled points coloured by label, [B, 2] the user's sentences as numbered stars."""
    figure = go.Figure()
    labels = np.array(bundled.labels)
    for name in sorted(set(bundled.labels)):
        colour, symbol = _LABEL_STYLE.get(name, ("#999999", "square"))
        chosen = labels == name
        figure.add_trace(
            go.Scatter(
                x=np.round(points[chosen, 0], 4),
                y=np.round(points[chosen, 1], 4),
                mode="markers",
                name=f"bundled: {name}",
                marker={"color": colour, "symbol": symbol, "size": 7, "opacity": 0.6},
                text=[visible(t, quote=False) for t, c in zip(bundled.texts, chosen, strict=True) if c],
                hovertemplate="%{text}<extra>" + name + "</extra>",
            )
        )
    figure.add_trace(
        go.Scatter(
            x=np.round(users[:, 0], 4),
            y=np.round(users[:, 1], 4),
            mode="markers+text",
            name="your sentences",
            marker={
                "color": "#000000",
                "symbol": "star",
                "size": 16,
                "line": {"color": "#F0E442", "width": 1},
            },
            text=[str(b) for b in range(len(sentences))],
            textposition="top center",
            hovertext=[figures.label(b, _short(s, 60)) for b, s in enumerate(sentences)],
            hovertemplate="%{hovertext}<extra>your sentence</extra>",
        )
    )
    figure.update_layout(
        title={
            "text": (
                f"Embedding map: {len(bundled.texts)} bundled sentences, PCA to 2-D "
                f"({kept:.0%} of the variance)"
            )
        },
        xaxis_title="principal component 1",
        yaxis_title="principal component 2",
        height=520,
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        plot_bgcolor="white",
    )
    return figure


def _nearest(bundled: BundledVectors, embeddings: np.ndarray, sentences: Sequence[str]) -> Table:
    similarity = fe.cosine(embeddings, bundled.vectors)  # [B, N]
    best = fe.ranked(similarity)  # [B, NEAREST]
    rows = [
        {
            "sentence": f"{b} · {_short(sentence)}",
            "rank": rank,
            "nearest bundled sentence": bundled.texts[k],
            "label": bundled.labels[k],
            "cosine": round(float(similarity[b, k]), 4),
        }
        for b, sentence in enumerate(sentences)
        for rank, k in enumerate(best[b], start=1)
    ]
    return table(rows, index=["sentence", "rank"])


def _embedding_map(
    loaded: Any, embeddings: np.ndarray, sentences: Sequence[str], pooling: Pooling
) -> EmbeddingMap:
    count = len(bundled_corpus().texts)
    intro = Note(
        "markdown",
        f"**Embedding map and semantic search.** The app's {count} labelled sentences (the ones the "
        "default classifier is fine-tuned on), embedded the same way and drawn on their two main "
        "directions (PCA). Your sentences are the stars; below, the bundled sentences closest to each "
        "(cosine similarity), a semantic search. The labels are the dataset's, not this model's: it "
        "never saw them.",
    )
    bundled = fe.cached_bundled_vectors(loaded, pooling)
    if bundled is None:
        cost = Note(
            "caption",
            f"Not computed yet for this checkpoint: {count} sentences through the model, once; then every "
            "session reuses them.",
        )
        return EmbeddingMap(
            intro=intro,
            timing=cost,
            figure=None,
            nearest=None,
            offer=f"Embed the {count} bundled sentences",
            compute=functools.partial(bundled_vectors, loaded, pooling),
        )
    points, users, kept = fe.pca_2d(bundled.vectors, embeddings)  # [N, 2], [B, 2]
    timing = Note(
        "caption",
        f"The {count} bundled sentence embeddings took {bundled.seconds:.2f} s to compute, once for this "
        "checkpoint; they are kept in memory for every session.",
    )
    return EmbeddingMap(
        intro=intro,
        timing=timing,
        figure=_map_figure(bundled, points, users, sentences, kept),
        nearest=_nearest(bundled, embeddings, sentences),
    )


def build(loaded: Any, encoding: Any, run: Any, inputs: TaskInputs) -> View:
    """Step ③ for a headless checkpoint: pool the run's token vectors into sentence embeddings as
    the checkpoint says, compare them, and place them among the bundled sentences."""
    pooling = fe.pooling_for(loaded)
    sentences = tuple(encoding.sentences)
    tokens = fe.token_vectors(loaded, encoding, run)  # [B, S, D]
    found = fe.page_embeddings(loaded, encoding, tokens, pooling)  # [B, D], [B]
    embeddings = found.embeddings  # [B, D]
    figure, pairs, similarity_note = _similarity(embeddings, sentences, pooling)
    B, D = embeddings.shape
    return View(
        intro=_intro(loaded, tokens),
        check=_token_check(loaded, encoding, tokens),
        pooling=_pooling_note(pooling),
        notes=_longer_notes(found),
        embeddings_title=f"Sentence embeddings: shape [{B}, {D}]",
        embeddings=_embeddings_table(embeddings, found.pooled, sentences),
        similarity_title="How similar are the sentences?",
        similarity=figure,
        similarity_table=pairs,
        similarity_note=similarity_note,
        mask=_mask_demo(loaded, encoding, pooling),
        labels=_label_part(loaded, sentences, embeddings, inputs.labels, pooling),
        embedding_map=_embedding_map(loaded, embeddings, sentences, pooling),
    )

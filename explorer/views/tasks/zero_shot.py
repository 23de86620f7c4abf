"""Step ③ of the Pipeline page for an NLI checkpoint (zero-shot classification): what
:mod:`explorer.pipeline.tasks.zero_shot` computes, said and drawn (notes, tables, token chips, a heatmap)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go

from explorer.drawing.figures import label as axis_label
from explorer.drawing.render import probability_bars_html, visible
from explorer.explain.tokenizer_lab import pair_layout
from explorer.pipeline import postprocess, tasks
from explorer.pipeline.tasks import zero_shot as zs
from explorer.pipeline.tasks.zero_shot import MAX_LABELS, MAX_PAIR_TOKENS, PIPELINE, SAME
from explorer.pipeline.token_display import PLAIN, TokenScheme, scheme_of, shown_tokens
from explorer.views.common import Note, Table, shown_sentence, table
from explorer.views.tokenizer import code_span

CHIP_PAIRS = 3  # pairs per sentence shown as token chips


@dataclass(frozen=True, kw_only=True)
class PairChips:
    """One (sentence, hypothesis) pair as the model receives it."""

    caption: str  # Markdown: which sentence and label
    html: str  # escaped chips: token, id, token_type_id (when the tokenizer makes them)


@dataclass(frozen=True, kw_only=True)
class SentenceScores:
    """One sentence against every label."""

    sentence: str  # as typed (cut for display after 300 characters)
    best: Note  # the winning label and its score
    bars_html: str  # labels best first, with their scores (escaped)
    pairs: Table  # one row per label, in the order typed: hypothesis, every NLI logit, score
    chips: tuple[PairChips, ...]  # the first CHIP_PAIRS pairs
    more_pairs: str  # caption about the pairs not drawn ("" when all are)


@dataclass(frozen=True, kw_only=True)
class View:
    """Step ③ of the Pipeline page for an NLI checkpoint."""

    notes: tuple[Note, ...]  # what was done with the labels and template as typed (caps, problems)
    steps: tuple[Note, ...]  # pairs -> NLI logits -> which logits -> which softmax, for THIS head
    layout: Note | None  # how this tokenizer joins sentence and hypothesis (token_type_ids or not)
    sentences: tuple[SentenceScores, ...]
    heatmap: go.Figure | None  # [sentences, labels] scores (two or more sentences)
    check: Note | None  # compared with transformers' pipeline("zero-shot-classification")


# --- Inputs ------------------------------------------------------------------------------------


def parse_labels(text: str) -> tuple[tuple[str, ...], tuple[Note, ...]]:
    """The labels as the pipeline reads a string (split on commas, stripped, empty ones dropped),
    repeats counted once, at most MAX_LABELS; and what was done, as notes."""
    parsed = zs.parse_labels(text)
    notes = list_notes(
        parsed,
        MAX_LABELS,
        repeated="{repeated} repeated label(s) counted once.",
        capped="{typed} labels: only the first {cap} are scored (each label is one more pass through the "
        "model for every sentence).",
    )
    return parsed.items, tuple(notes)


def list_notes(parsed: zs.ParsedList, cap: int, *, repeated: str, capped: str) -> list[Note]:
    """What reading a typed list (labels, choices) did, said: ``repeated`` (a caption) when repeats
    were counted once, ``capped`` (a warning) when ``cap`` cut the list. Both are ``str.format``
    templates that may use {repeated}, {typed} and {cap}."""
    said = {"repeated": parsed.repeated, "typed": parsed.typed, "cap": cap}
    notes = []
    if parsed.repeated:
        notes.append(Note("caption", repeated.format(**said)))
    if parsed.typed > cap:
        notes.append(Note("warning", capped.format(**said)))
    return notes


def template_problem(template: str, labels: tuple[str, ...]) -> str | None:
    """Why ``template`` cannot hold the labels (None when it can): the pipeline refuses a template
    that ``format`` leaves unchanged (read on the first label); other ``{…}`` fields raise in
    ``format`` (for some labels only, e.g. ``{0[3]}``: every label is tried)."""
    example = code_span("This example is {}.")
    try:
        filled = [template.format(label) for label in labels][0]
    except (IndexError, KeyError, ValueError, AttributeError, TypeError) as error:
        return (
            f"The hypothesis template {code_span(template)} cannot be filled in ({type(error).__name__}: "
            f"{html.escape(str(error))}). Put exactly one `{{}}` where the label goes, e.g. {example}; "
            "write `{{` and `}}` for literal braces."
        )
    if filled == template:
        return (
            f"The hypothesis template {code_span(template)} has no `{{}}` for the label, so every "
            f"hypothesis would be the same sentence (the pipeline refuses it). Try {example}."
        )
    return None


# --- Token chips and the pair's layout ---------------------------------------------------------

_CHIP_STYLE = """
<style>
.zs-chips{display:flex;flex-wrap:wrap;gap:5px;margin:2px 0 12px 0}
.zs-chip{display:inline-flex;flex-direction:column;align-items:center;border-radius:6px;padding:2px 6px;
  border:1px solid #9aa5b1;background:#eef4fb;color:#10243e;unicode-bidi:isolate}
.zs-chip.zs-b{background:#e3f1e6;border-color:#3d7a4a}
.zs-chip.zs-special{background:#fff1d6;border-color:#c58a00}
.zs-chip .zs-sub{font-size:.7rem;color:#3b4a5a;font-family:monospace}
</style>
"""


def pair_chips_html(
    pair: zs.PairTokens, names: tuple[str, str] = ("sentence", "hypothesis"), scheme: TokenScheme = PLAIN
) -> str:
    """A pair as chips: token, id (and token_type_id); the second text's tokens green, special
    tokens yellow. Every token is escaped (user text can contain HTML)."""
    chips = []
    for position, (token, text, token_id, segment) in enumerate(
        zip(pair.tokens, shown_tokens(scheme, pair.tokens), pair.ids, pair.segments, strict=True)
    ):
        kind = "zs-special" if segment is None else ("zs-b" if segment == 1 else "")
        sub = f"{token_id}" + (f" · type {pair.type_ids[position]}" if pair.type_ids is not None else "")
        where = "special token" if segment is None else names[segment]
        raw = f" · raw piece {token}" if text != token else ""
        title = html.escape(f"position {position} · {where}{raw}", quote=True)
        chips.append(
            f'<span class="zs-chip {kind}" title="{title}">'
            f"<span>{visible(text)}</span><span class='zs-sub'>{sub}</span></span>"
        )
    return _CHIP_STYLE + f'<div class="zs-chips" data-testid="pair-chips">{"".join(chips)}</div>'


def pair_chips(
    loaded: Any,
    first: str,
    second: str,
    accepts_types: bool,
    truncation: str = "only_first",
    names: tuple[str, str] = ("sentence", "hypothesis"),
) -> str:
    """One pair as the model receives it, as chips (token_type_ids only if the model reads them)."""
    pair = zs.pair_tokens(loaded, first, second, accepts_types, truncation)
    return pair_chips_html(pair, names, scheme_of(loaded.tokenizer))


def _differing_types(layout: Any, names: tuple[str, str], between: str) -> Note:
    first_types = ", ".join(str(t) for t in layout.types_of(0))
    second_types = ", ".join(str(t) for t in layout.types_of(1))
    return Note(
        "markdown",
        f"Each pair reads {_parts(layout, names)}. `token_type_ids` (under each chip) are **{first_types}** "
        f"for the {names[0]} and **{second_types}** for the {names[1]}"
        + (f"; the tokenizer also puts {between} between them." if between else "."),
    )


def _parts(layout: Any, names: tuple[str, str]) -> str:
    return " ".join(
        {"A": f"*{names[0]}*", "B": f"*{names[1]}*"}.get(part, code_span(part)) for part in layout.parts
    )


def layout_note(
    loaded: Any,
    first: str,
    second: str,
    accepts_types: bool,
    names: tuple[str, str] = ("sentence", "hypothesis"),
) -> Note:
    """How this tokenizer joins the two texts of a pair, read from its own encoding."""
    layout = pair_layout(loaded.batch_tokenizer, first, second)
    shape = f"Each pair reads {_parts(layout, names)}."
    empty = [name for letter, name in zip("AB", names, strict=True) if letter not in layout.parts]
    if empty:
        return Note(
            "info",
            f"{shape} Here the {' and the '.join(empty)} has no tokens at all (this tokenizer drops its "
            "characters), so the model reads only the special tokens in its place.",
        )
    between = " ".join(code_span(token) for token in layout.between)
    if layout.token_type_ids is not None and accepts_types and layout.types_of(0) != layout.types_of(1):
        return _differing_types(layout, names, between)
    why = (
        "This tokenizer returns no `token_type_ids`"
        if layout.token_type_ids is None
        else f"`token_type_ids` do not tell the two texts apart for {loaded.model_class}"
    )
    joined = (
        f"the model tells the {names[0]} from the {names[1]} only by {between}, which the tokenizer "
        "puts between them."
        if between
        else f"nothing marks where the {names[1]} starts: the tokenizer just joins the two texts."
    )
    return Note("markdown", f"{shape} {why}: {joined}")


# --- The scores --------------------------------------------------------------------------------


def _fmt(value: float) -> float:
    return round(float(value), 4)


def _sentence(
    loaded: Any,
    premise: str,
    labels: tuple[str, ...],
    hypotheses: list[str],
    logits: np.ndarray,
    scores: np.ndarray,
    accepts_types: bool,
) -> SentenceScores:
    """One sentence: logits [L, K] and scores [L] for its L labels."""
    names = postprocess.label_names(loaded.config, logits.shape[1])
    order = np.argsort(-scores, kind="stable")  # [L] best first
    rows = []
    for i, (name, hypothesis) in enumerate(zip(labels, hypotheses, strict=True)):
        row: dict[str, str | float] = {"label": name, "hypothesis": hypothesis}
        row.update({f"logit {k} ({names[k]})": _fmt(logits[i, k]) for k in range(logits.shape[1])})
        row["score"] = _fmt(scores[i])
        rows.append(row)
    best = int(order[0])
    shown = min(CHIP_PAIRS, len(labels))
    chips = tuple(
        PairChips(
            caption=f"Pair {i + 1}: the sentence + {code_span(hypotheses[i])}",
            html=pair_chips(loaded, premise, hypotheses[i], accepts_types),
        )
        for i in range(shown)
    )
    return SentenceScores(
        sentence=shown_sentence(premise),
        best=Note("markdown", f"Best label: {code_span(labels[best])} (score {scores[best]:.3f})."),
        bars_html=probability_bars_html([labels[i] for i in order], [float(scores[i]) for i in order]),
        pairs=table(rows, index="label"),
        chips=chips,
        more_pairs=(
            f"… and {len(labels) - shown} more pair(s), differing only in the hypothesis."
            if len(labels) > shown
            else ""
        ),
    )


def _pairs_and_logits(loaded: Any, L: int, B: int, entailment: int) -> list[Note]:
    names = postprocess.label_names(loaded.config, loaded.config.num_labels)
    N = B * L
    step = zs.pairs_per_forward(loaded)
    forwards = -(-N // step)
    return [
        Note(
            "markdown",
            f"**Pairs.** Each sentence is the premise; each label, put into the template, is the "
            f"hypothesis: {B} sentence(s) × {L} label(s) = **{N} pairs**, tokenized as "
            '`tokenizer(sentence, hypothesis, truncation="only_first")` (only the sentence is cut when a '
            f"pair is longer than {zs.limit(loaded)} tokens) and run through the head in {forwards} "
            f"batch(es) of at most {step} pair(s)"
            + ("." if step > 1 else " (this model's config names no pad token, so pairs are not padded)."),
        ),
        Note(
            "markdown",
            f"**Logits.** The head gives {len(names)} logits per pair ("
            + ", ".join(f"{k}: {code_span(n)}" for k, n in enumerate(names))
            + f"). Entailment is logit **{entailment}** ({code_span(names[entailment])}), the first label "
            'whose name starts with "entail".',
        ),
    ]


def _steps(loaded: Any, labels: tuple[str, ...], B: int, result: zs.Scores) -> list[Note]:
    names = postprocess.label_names(loaded.config, loaded.config.num_labels)
    L, entailment, against = len(labels), result.entailment, result.against
    steps = _pairs_and_logits(loaded, L, B, entailment)
    if result.how == "labels":
        steps.append(
            Note(
                "markdown",
                f"**Scores (single-label).** For each sentence, a softmax over its {L} entailment logits: "
                "the labels compete and their scores add up to 1. The other logits are not used.",
            )
        )
        return steps
    reason = (
        "With one label the pipeline always scores it this way."
        if L == 1
        else "Multi-label: the labels do not compete, so their scores need not add up to 1."
    )
    steps.append(
        Note(
            "markdown",
            f"**Scores (each label on its own).** For each pair, a softmax over two logits, "
            f"[logit {against} ({code_span(names[against])}), logit {entailment} "
            f"({code_span(names[entailment])})]; the score is the entailment part. {reason}",
        )
    )
    if not str(names[against]).lower().startswith("contra"):
        steps.append(
            Note(
                "warning",
                f"The pipeline picks the logit set against entailment by position (index 0, or the last "
                f"when entailment is 0), not by name: for this head it is {code_span(names[against])}. "
                "The scores here follow the pipeline.",
            )
        )
    return steps


def _heatmap(labels: tuple[str, ...], sentences: tuple[str, ...], scores: np.ndarray, how: str) -> go.Figure:
    """[B, L] scores as a heatmap: sentences down, labels across."""
    figure = go.Figure(
        go.Heatmap(
            z=np.round(scores, 4),
            x=[axis_label(i, name[:40]) for i, name in enumerate(labels)],
            y=[axis_label(b, sentence[:40]) for b, sentence in enumerate(sentences)],
            zmin=0.0,
            zmax=1.0,
            colorscale="Viridis",
            colorbar={"title": {"text": "score"}},
            hovertemplate="%{y}<br>label %{x}<br>score %{z:.3f}<extra></extra>",
        )
    )
    title = (
        "Zero-shot scores: softmax over the labels, per sentence"
        if how == "labels"
        else "Zero-shot scores: each label on its own (entailment vs the other logit)"
    )
    figure.update_layout(
        title={"text": html.escape(title)},
        xaxis_title="candidate label",
        yaxis_title="sentence",
        height=max(300, 40 * len(sentences) + 220),
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
    )
    figure.update_yaxes(autorange="reversed")
    figure.update_xaxes(tickangle=-45)
    return figure


def check_note(found: zs.Check, sentences: tuple[str, ...], labels: tuple[str, ...]) -> Note:
    """What the comparison with transformers' pipeline found, said."""
    if found.error is not None:
        return Note("warning", f"transformers' pipeline could not run for the check: {found.error}"[:400])
    checked, largest = found.checked, found.largest
    which = (
        "every sentence"
        if checked == len(sentences)
        else f"the first {checked} of {len(sentences)} sentences (the pipeline runs one pair at a time)"
    )
    call = f'`pipeline("{PIPELINE}")`'
    if largest <= SAME:
        return Note(
            "success",
            f"The same as transformers' {call} on {which}: largest difference {largest:.1e} "
            f"over {checked * len(labels)} scores.",
        )
    return Note(
        "warning",
        f"Differs from transformers' {call} on {which}: largest difference {largest:.2e} "
        f"(more than {SAME:.0e}).",
    )


def check(
    loaded: Any,
    sentences: tuple[str, ...],
    labels: tuple[str, ...],
    template: str,
    multi_label: bool,
    scores: np.ndarray,
) -> Note:
    """Our scores [B, L] against transformers' pipeline on the first sentences, said."""
    found = zs.check(loaded, sentences, labels, template, multi_label, scores)
    return check_note(found, sentences, labels)


# --- Refusals and caps -------------------------------------------------------------------------


def _refused(notes: list[Note]) -> View:
    return View(notes=tuple(notes), steps=(), layout=None, sentences=(), heatmap=None, check=None)


def _cut_notes(loaded: Any, lengths: list[int], hypotheses: list[str]) -> list[Note]:
    """Which sentences truncation (only_first) cut to fit beside the longest hypothesis."""
    fits, most = zs.room(loaded, hypotheses), zs.limit(loaded)
    notes = [
        Note(
            "warning",
            f"Sentence {b} has {n:,} tokens: beside a hypothesis, in the model's limit of {most} "
            f"tokens, at most its first {fits} are read (truncation cuts only the sentence).",
        )
        for b, n in enumerate(lengths)
        if n > fits
    ]
    model_max = getattr(loaded.batch_tokenizer, "model_max_length", None)
    if notes and model_max != most:
        notes.append(
            Note(
                "caption",
                f"transformers' pipeline cuts at the tokenizer's own limit ({model_max}), not at "
                f"{most}: the check below may differ for the sentences cut.",
            )
        )
    return notes


def _refusal(loaded: Any, labels: tuple[str, ...], template: str) -> Note | None:
    """Why no pair can be scored (no labels, a bad template, a hypothesis too long), or None."""
    if not labels:
        return Note(
            "info",
            "Type candidate labels, separated by commas (e.g. `education, politics, business`): "
            "zero-shot classification scores each sentence against each of them.",
        )
    problem = template_problem(template, labels)
    if problem:
        return Note("warning", problem)
    too_long = zs.too_long(loaded, [template.format(name) for name in labels])
    if too_long:
        named = ", ".join(code_span(labels[i]) for i in too_long[:5])
        return Note(
            "warning",
            f"The hypothesis for {named} is too long: with the special tokens it leaves no room for "
            f"the sentence in the model's limit of {zs.limit(loaded)} tokens. Use shorter labels or a "
            "shorter template.",
        )
    return None


_NO_ENTAILMENT = Note(
    "warning",
    'No label of this head\'s `label2id` starts with "entail", so the pipeline cannot tell '
    "which logit means entailment. Zero-shot classification needs an NLI head.",
)


def _within_budget(
    loaded: Any, sentences: tuple[str, ...], labels: tuple[str, ...], hypotheses: list[str]
) -> tuple[tuple[str, ...], list[int], list[Note]]:
    """(the sentences scored, [B] their tokens, notes): the first ones within MAX_PAIR_TOKENS."""
    lengths = zs.token_counts(loaded, list(sentences))  # [B]
    kept = zs.sentences_within_budget(loaded, lengths, hypotheses)
    notes = []
    if kept < len(sentences):
        notes.append(
            Note(
                "warning",
                f"Only the first {kept} of {len(sentences)} sentences are scored: each sentence is paired "
                f"with all {len(labels)} labels, and one run reads at most {MAX_PAIR_TOKENS:,} tokens of "
                "pairs. Use fewer labels or shorter sentences to score them all.",
            )
        )
    return sentences[:kept], lengths[:kept], notes


def build(loaded: Any, encoding: Any, run: Any, inputs: tasks.TaskInputs) -> View:
    """Step ③ for an NLI checkpoint: the sentences of ``encoding`` against the labels typed."""
    labels, parsed_notes = parse_labels(inputs.labels)
    refusal = _refusal(loaded, labels, inputs.template)
    if refusal is not None:
        return _refused([*parsed_notes, refusal])
    hypotheses = [inputs.template.format(name) for name in labels]  # [L]
    sentences, lengths, notes = _within_budget(loaded, tuple(encoding.sentences), labels, hypotheses)
    notes = [*parsed_notes, *notes, *_cut_notes(loaded, lengths, hypotheses)]
    entailment = zs.entailment_index(loaded.config)
    if entailment < 0:
        return _refused([*notes, _NO_ENTAILMENT])
    result = zs.score(loaded, sentences, hypotheses, entailment, inputs.multi_label)  # [B, L]
    B, L = len(sentences), len(labels)
    if inputs.multi_label is False and L == 1:
        notes.append(Note("caption", "One label: it is scored on its own (as with multi-label)."))
    example = next((b for b, n in enumerate(lengths) if n), 0)  # a sentence with tokens shows the layout
    return View(
        notes=tuple(notes),
        steps=tuple(_steps(loaded, labels, B, result)),
        layout=layout_note(loaded, sentences[example], hypotheses[0], result.accepts_types),
        sentences=tuple(
            _sentence(
                loaded,
                sentences[b],
                labels,
                hypotheses,
                result.logits[b],
                result.scores[b],
                result.accepts_types,
            )
            for b in range(B)
        ),
        heatmap=_heatmap(labels, sentences, result.scores, result.how) if B > 1 else None,
        check=check(loaded, sentences, labels, inputs.template, inputs.multi_label, result.scores),
    )

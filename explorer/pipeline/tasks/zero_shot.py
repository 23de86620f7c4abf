"""Zero-shot classification: an NLI head labels sentences with labels the user names.

transformers 5.23 ``pipelines/zero_shot_classification.py``, step by step:

1. each label goes into the hypothesis template (``"This example is {}."``); each sentence (the
   premise) is paired with each hypothesis: ``tokenizer(sentence, hypothesis,
   truncation="only_first")`` (only the sentence is cut when a pair is too long);
2. every pair through the NLI head (here in batches, through :func:`explorer.pipeline.run.task_forward`):
   one logit per relation (entailment, neutral, contradiction…) per pair;
3. the entailment id is the first label in ``config.label2id`` whose name starts with "entail";
   the "against" logit is index 0, or the last one when entailment is 0 (the pipeline's rule, by
   position, not by name). Single-label: softmax of the entailment logits over the labels.
   Multi-label (or one label): per label, softmax over [against, entailment], keep entailment.

Then the same sentences through transformers' own pipeline, and the largest difference.
"""

from __future__ import annotations

import dataclasses
import html
import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go

from explorer.drawing.figures import label as axis_label
from explorer.drawing.render import probability_bars_html, visible
from explorer.explain.tokenizer_lab import pair_layout
from explorer.pipeline import postprocess, tasks
from explorer.pipeline import run as runner
from explorer.views.common import Note, Table, shown_sentence, table
from explorer.views.tokenizer import code_span

MAX_LABELS = 100  # candidate labels scored (each one is a forward pass per sentence)
PAIRS_PER_FORWARD = 32  # pairs per call of the model
# Tokens of (sentence, hypothesis) pairs one run reads: 8 sentences × 100 labels of 20-token pairs
# (800 such pairs through MiniLM took 61 s here, 2 CPU cores under a load of 11). The first
# sentence always runs: at worst 100 pairs of the model's limit (51,200 tokens for 512).
MAX_PAIR_TOKENS = 16_000
CHECK_PAIRS = 100  # pairs transformers' pipeline re-runs for the check (it runs one pair per forward)
CHIP_PAIRS = 3  # pairs per sentence shown as token chips
SAME = 1e-5  # largest difference still called "the same" as the pipeline
PIPELINE = "zero-shot-classification"


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
    found = [part.strip() for part in (text or "").split(",") if part.strip()]
    labels = tuple(dict.fromkeys(found))
    notes = []
    if len(labels) < len(found):
        notes.append(Note("caption", f"{len(found) - len(labels)} repeated label(s) counted once."))
    if len(labels) > MAX_LABELS:
        notes.append(
            Note(
                "warning",
                f"{len(labels)} labels: only the first {MAX_LABELS} are scored (each label is one more "
                "pass through the model for every sentence).",
            )
        )
        labels = labels[:MAX_LABELS]
    return labels, tuple(notes)


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


def entailment_index(config: Any) -> int:
    """The pipeline's entailment id: the first label in ``label2id`` whose name starts with
    "entail" (case-insensitive); -1 when none does."""
    for name, index in (getattr(config, "label2id", None) or {}).items():
        if str(name).lower().startswith(tasks.ENTAILMENT_PREFIX):
            return int(index)
    return -1


def against_index(entailment: int, num_labels: int) -> int:
    """The logit the pipeline sets against entailment (multi-label): index 0, or the last one when
    entailment is 0 (``contradiction_id = -1 if entailment_id == 0 else 0``), as a positive index."""
    return num_labels - 1 if entailment == 0 else 0


# --- Pairs through the model -------------------------------------------------------------------


def _limit(loaded: Any) -> int:
    return int(loaded.max_tokens)


def encode_pairs(
    tokenizer: Any, firsts: list[str], seconds: list[str], limit: int, truncation: str = "only_first"
) -> Any:
    """``tokenizer(firsts, seconds)`` padded on the right (positions count from 0) and truncated to
    ``limit`` tokens: "only_first" as the zero-shot pipeline (only the first text is cut)."""
    return tokenizer(
        firsts,
        seconds,
        padding=True,
        padding_side="right",
        truncation=truncation,
        max_length=limit,
        return_special_tokens_mask=True,
    )


def pairs_per_forward(loaded: Any) -> int:
    """PAIRS_PER_FORWARD, or 1 for a model whose config names no pad token: a decoder's
    classifier (GPT-2 style) finds each row's last token by the pad id and refuses padded batches."""
    return PAIRS_PER_FORWARD if getattr(loaded.config, "pad_token_id", None) is not None else 1


def pair_logits(loaded: Any, premises: list[str], hypotheses: list[str]) -> np.ndarray:
    """[N, K] float32 NLI logits of N (premise, hypothesis) pairs, pairs_per_forward at a time."""
    tokenizer = loaded.batch_tokenizer
    limit, step = _limit(loaded), pairs_per_forward(loaded)
    chunks = []
    for start in range(0, len(premises), step):
        encoded = encode_pairs(
            tokenizer,
            premises[start : start + step],
            hypotheses[start : start + step],
            limit,
        )
        inputs = {
            name: np.array(encoded[name], dtype=np.int64)  # [n, S]
            for name in ("input_ids", "attention_mask", "token_type_ids")
            if name in encoded
        }
        chunks.append(runner.task_forward(loaded, inputs, ("logits",))["logits"])  # [n, K]
    return np.concatenate(chunks, axis=0)  # [N, K]


def scores_from_logits(
    logits: np.ndarray, entailment: int, against: int, multi_label: bool
) -> tuple[np.ndarray, str]:
    """[B, L] scores from [B, L, K] NLI logits, as the pipeline's postprocess; and the function
    used ("labels": softmax over the labels, "each": per label, against vs entailment)."""
    labels = logits.shape[1]
    if multi_label or labels == 1:
        pair = logits[..., [against, entailment]]  # [B, L, 2]
        return postprocess.apply("softmax", pair)[..., 1], "each"  # [B, L]
    return postprocess.apply("softmax", logits[..., entailment]), "labels"  # [B, L]


# --- What the page shows -----------------------------------------------------------------------

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
    tokens: list[str],
    ids: list[int],
    segments: list[int | None],
    type_ids: list[int] | None,
    names: tuple[str, str] = ("sentence", "hypothesis"),
) -> str:
    """A pair as chips: token, id (and token_type_id); the second text's tokens green, special
    tokens yellow. Every token is escaped (user text can contain HTML)."""
    chips = []
    for position, (token, token_id, segment) in enumerate(zip(tokens, ids, segments, strict=True)):
        kind = "zs-special" if segment is None else ("zs-b" if segment == 1 else "")
        sub = f"{token_id}" + (f" · type {type_ids[position]}" if type_ids is not None else "")
        where = "special token" if segment is None else names[segment]
        chips.append(
            f'<span class="zs-chip {kind}" title="position {position} · {where}">'
            f"<span>{visible(token)}</span><span class='zs-sub'>{sub}</span></span>"
        )
    return _CHIP_STYLE + f'<div class="zs-chips" data-testid="pair-chips">{"".join(chips)}</div>'


def pair_segments(tokenizer: Any, encoded: Any, second: str) -> list[int | None]:
    """0 / 1 / None per token of one encoded pair: the fast tokenizer's sequence ids, else the
    last non-special tokens are the second text (truncation only_first never cuts it)."""
    try:
        return list(encoded.sequence_ids(0))
    except (AttributeError, ValueError):
        pass
    special = list(encoded["special_tokens_mask"][0])
    hypothesis_tokens = len(tokenizer(second, add_special_tokens=False)["input_ids"])
    real = [p for p, flag in enumerate(special) if not flag]
    second = set(real[len(real) - hypothesis_tokens :])
    return [None if flag else (1 if p in second else 0) for p, flag in enumerate(special)]


def pair_chips(
    loaded: Any,
    first: str,
    second: str,
    accepts_types: bool,
    truncation: str = "only_first",
    names: tuple[str, str] = ("sentence", "hypothesis"),
) -> str:
    """One pair as the model receives it, as chips (token_type_ids only if the model reads them)."""
    tokenizer = loaded.batch_tokenizer
    encoded = encode_pairs(tokenizer, [first], [second], _limit(loaded), truncation)
    ids = [int(i) for i in encoded["input_ids"][0]]
    types = encoded.get("token_type_ids")
    type_ids = [int(t) for t in types[0]] if types is not None and accepts_types else None
    segments = pair_segments(tokenizer, encoded, second)
    return pair_chips_html(tokenizer.convert_ids_to_tokens(ids), ids, segments, type_ids, names)


def layout_note(
    loaded: Any,
    first: str,
    second: str,
    accepts_types: bool,
    names: tuple[str, str] = ("sentence", "hypothesis"),
) -> Note:
    """How this tokenizer joins the two texts of a pair, read from its own encoding."""
    layout = pair_layout(loaded.batch_tokenizer, first, second)
    parts = " ".join(
        {"A": f"*{names[0]}*", "B": f"*{names[1]}*"}.get(part, code_span(part)) for part in layout.parts
    )
    shape = f"Each pair reads {parts}."
    empty = [name for letter, name in zip("AB", names, strict=True) if letter not in layout.parts]
    if empty:
        return Note(
            "info",
            f"{shape} Here the {' and the '.join(empty)} has no tokens at all (this tokenizer drops its "
            "characters), so the model reads only the special tokens in its place.",
        )
    between = " ".join(code_span(token) for token in layout.between)
    if layout.token_type_ids is not None and accepts_types and layout.types_of(0) != layout.types_of(1):
        first_types = ", ".join(str(t) for t in layout.types_of(0))
        second_types = ", ".join(str(t) for t in layout.types_of(1))
        return Note(
            "markdown",
            f"{shape} `token_type_ids` (under each chip) are **{first_types}** for the {names[0]} and "
            f"**{second_types}** for the {names[1]}"
            + (f"; the tokenizer also puts {between} between them." if between else "."),
        )
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
        row = {"label": name, "hypothesis": hypothesis}
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


def _steps(loaded: Any, labels: tuple[str, ...], B: int, entailment: int, against: int, how: str) -> list:
    names = postprocess.label_names(loaded.config, loaded.config.num_labels)
    L, N = len(labels), B * len(labels)
    step = pairs_per_forward(loaded)
    forwards = -(-N // step)
    steps = [
        Note(
            "markdown",
            f"**Pairs.** Each sentence is the premise; each label, put into the template, is the "
            f"hypothesis: {B} sentence(s) × {L} label(s) = **{N} pairs**, tokenized as "
            '`tokenizer(sentence, hypothesis, truncation="only_first")` (only the sentence is cut when a '
            f"pair is longer than {_limit(loaded)} tokens) and run through the head in {forwards} "
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
    if how == "labels":
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


def check(
    loaded: Any,
    sentences: tuple[str, ...],
    labels: tuple[str, ...],
    template: str,
    multi_label: bool,
    scores: np.ndarray,
) -> Note:
    """Our scores [B, L] against transformers' pipeline on the first sentences (CHECK_PAIRS pairs)."""
    checked = max(1, min(len(sentences), CHECK_PAIRS // len(labels)))
    try:
        # With the batch tokenizer (a private copy with a pad token where the checkpoint has none):
        # the pipeline would otherwise set a pad token on the tokenizer every session shares.
        results = runner.transformers_pipeline(
            PIPELINE,
            dataclasses.replace(loaded, tokenizer=loaded.batch_tokenizer),
            list(sentences[:checked]),
            candidate_labels=list(labels),
            hypothesis_template=template,
            multi_label=multi_label,
        )
    except Exception as error:  # a check only: say why it could not run
        return Note("warning", f"transformers' pipeline could not run for the check: {error}"[:400])
    if isinstance(results, dict):
        results = [results]
    largest = 0.0
    for b, result in enumerate(results):
        theirs = dict(zip(result["labels"], result["scores"], strict=True))
        for i, name in enumerate(labels):
            largest = max(largest, abs(float(theirs[name]) - float(scores[b, i])))
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


def _refused(notes: list[Note]) -> View:
    return View(notes=tuple(notes), steps=(), layout=None, sentences=(), heatmap=None, check=None)


def _too_long(loaded: Any, hypotheses: list[str]) -> list[int]:
    """Indices of hypotheses that leave no room for even one token of the sentence."""
    tokenizer = loaded.batch_tokenizer
    specials = tokenizer.num_special_tokens_to_add(pair=True)
    lengths = [len(ids) for ids in tokenizer(hypotheses, add_special_tokens=False)["input_ids"]]
    return [i for i, n in enumerate(lengths) if n + specials + 1 > _limit(loaded)]


def _token_counts(loaded: Any, texts: list[str]) -> list[int]:
    """[N] tokens of each text alone (no special tokens)."""
    return [len(ids) for ids in loaded.batch_tokenizer(texts, add_special_tokens=False)["input_ids"]]


def _room(loaded: Any, hypotheses: list[str]) -> int:
    """Tokens of a sentence that fit beside the longest hypothesis and the special tokens."""
    specials = loaded.batch_tokenizer.num_special_tokens_to_add(pair=True)
    return _limit(loaded) - specials - max(_token_counts(loaded, hypotheses))


def sentences_within_budget(loaded: Any, lengths: list[int], hypotheses: list[str]) -> int:
    """How many sentences (from the first) the run scores: each is paired with every label, and
    the pairs' tokens together stay within MAX_PAIR_TOKENS (the first sentence always runs)."""
    room = _room(loaded, hypotheses)
    pair_tokens = _limit(loaded) - room  # the hypothesis and special tokens of the longest pair
    total, kept = 0, 0
    for n in lengths:
        total += (min(n, room) + pair_tokens) * len(hypotheses)
        if kept and total > MAX_PAIR_TOKENS:
            break
        kept += 1
    return kept


def _cut_notes(loaded: Any, lengths: list[int], hypotheses: list[str]) -> list[Note]:
    """Which sentences truncation (only_first) cut to fit beside the longest hypothesis."""
    room = _room(loaded, hypotheses)
    notes = [
        Note(
            "warning",
            f"Sentence {b} has {n:,} tokens: beside a hypothesis, in the model's limit of {_limit(loaded)} "
            f"tokens, at most its first {room} are read (truncation cuts only the sentence).",
        )
        for b, n in enumerate(lengths)
        if n > room
    ]
    model_max = getattr(loaded.batch_tokenizer, "model_max_length", None)
    if notes and model_max != _limit(loaded):
        notes.append(
            Note(
                "caption",
                f"transformers' pipeline cuts at the tokenizer's own limit ({model_max}), not at "
                f"{_limit(loaded)}: the check below may differ for the sentences cut.",
            )
        )
    return notes


def build(loaded: Any, encoding: Any, run: Any, inputs: tasks.TaskInputs) -> View:
    """Step ③ for an NLI checkpoint: the sentences of ``encoding`` against the labels typed."""
    sentences = tuple(encoding.sentences)
    labels, notes = parse_labels(inputs.labels)
    notes = list(notes)
    if not labels:
        return _refused(
            [
                *notes,
                Note(
                    "info",
                    "Type candidate labels, separated by commas (e.g. `education, politics, business`): "
                    "zero-shot classification scores each sentence against each of them.",
                ),
            ]
        )
    problem = template_problem(inputs.template, labels)
    if problem:
        return _refused([*notes, Note("warning", problem)])
    hypotheses = [inputs.template.format(name) for name in labels]  # [L]
    too_long = _too_long(loaded, hypotheses)
    if too_long:
        named = ", ".join(code_span(labels[i]) for i in too_long[:5])
        return _refused(
            [
                *notes,
                Note(
                    "warning",
                    f"The hypothesis for {named} is too long: with the special tokens it leaves no room for "
                    f"the sentence in the model's limit of {_limit(loaded)} tokens. Use shorter labels or a "
                    "shorter template.",
                ),
            ]
        )
    lengths = _token_counts(loaded, list(sentences))  # [B]
    kept = sentences_within_budget(loaded, lengths, hypotheses)
    if kept < len(sentences):
        notes.append(
            Note(
                "warning",
                f"Only the first {kept} of {len(sentences)} sentences are scored: each sentence is paired "
                f"with all {len(labels)} labels, and one run reads at most {MAX_PAIR_TOKENS:,} tokens of "
                "pairs. Use fewer labels or shorter sentences to score them all.",
            )
        )
        sentences, lengths = sentences[:kept], lengths[:kept]
    notes.extend(_cut_notes(loaded, lengths, hypotheses))
    num_labels = int(loaded.config.num_labels)
    entailment = entailment_index(loaded.config)
    if entailment < 0:
        return _refused(
            [
                *notes,
                Note(
                    "warning",
                    'No label of this head\'s `label2id` starts with "entail", so the pipeline cannot tell '
                    "which logit means entailment. Zero-shot classification needs an NLI head.",
                ),
            ]
        )
    against = against_index(entailment, num_labels)
    B, L = len(sentences), len(labels)
    premises = [sentence for sentence in sentences for _ in labels]  # [B * L], labels vary fastest
    logits = pair_logits(loaded, premises, hypotheses * B).reshape(B, L, num_labels)  # [B, L, K]
    scores, how = scores_from_logits(logits, entailment, against, inputs.multi_label)  # [B, L]
    if inputs.multi_label is False and L == 1:
        notes.append(Note("caption", "One label: it is scored on its own (as with multi-label)."))
    accepts_types = "token_type_ids" in inspect.signature(loaded.model.forward).parameters
    example = next((b for b, n in enumerate(lengths) if n), 0)  # a sentence with tokens shows the layout
    return View(
        notes=tuple(notes),
        steps=tuple(_steps(loaded, labels, B, entailment, against, how)),
        layout=layout_note(loaded, sentences[example], hypotheses[0], accepts_types),
        sentences=tuple(
            _sentence(loaded, sentences[b], labels, hypotheses, logits[b], scores[b], accepts_types)
            for b in range(B)
        ),
        heatmap=_heatmap(labels, sentences, scores, how) if B > 1 else None,
        check=check(loaded, sentences, labels, inputs.template, inputs.multi_label, scores),
    )

"""Step ③ of the Pipeline page for a question-answering checkpoint: what
:mod:`explorer.pipeline.tasks.question_answering` computes (windows, start and end logits, spans,
the answer), said and drawn (notes, the context with the answer marked, tables, logit charts)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go

from explorer.drawing.figures import label as axis_label
from explorer.drawing.render import visible
from explorer.errors import InputError
from explorer.pipeline.tasks.question_answering import (
    CONTEXT,
    MASKED_LOGIT,
    MAX_ANSWER_TOKENS,
    MAX_CONTEXT_CHARACTERS,
    PIPELINE_MAX_LENGTH,
    QUESTION,
    SPANS_PER_WINDOW,
    SPECIAL,
    Answer,
    Result,
    Span,
    WindowResult,
    answer_question,
)
from explorer.pipeline.tasks.zero_shot import accepts_token_types
from explorer.pipeline.token_display import PLAIN, TokenScheme, scheme_of, shown_tokens
from explorer.views.common import Note, Table, table
from explorer.views.tokenizer import code_span

if TYPE_CHECKING:
    from explorer.pipeline.encoding import Encoding
    from explorer.pipeline.loading import LoadedCheckpoint
    from explorer.pipeline.run import ModelRun
    from explorer.pipeline.tasks import TaskInputs

SHOWN_CONTEXT = 1500  # characters of context shown around the answer
# Colours readable by colour-blind viewers (Okabe-Ito): candidates blue, the answer orange.
_MASKED_COLOUR, _CANDIDATE_COLOUR, _ANSWER_COLOUR = "#bdbdbd", "#0072b2", "#e69f00"


# --- The View (step ③ of the Pipeline page) -----------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class View:
    """Step ③ of the Pipeline page for a question-answering checkpoint."""

    removed: Note  # version 5 has no pipeline("question-answering"): this computes what it did
    problem: Note | None  # empty question / context, question too long: nothing else is shown
    steps: tuple[Note, ...]  # pair, windows, masking, softmax and spans, for THIS checkpoint
    answer: Note | None  # the answer's score and where it is
    answer_html: str  # the context with the answer highlighted (escaped)
    parts: Table | None  # the spans whose scores make the answer's score
    others: Table | None  # the next best answers
    others_title: str  # Markdown above them: which spans their totals come from
    windows: Table | None  # one row per window (two or more windows)
    window_labels: tuple[str, ...]  # [W] for a window picker
    figures: tuple[go.Figure, ...]  # [W] start and end logits over each window's tokens
    best_window: int  # the window of the answer's first span
    result: Result | None


def _fmt(value: float) -> float:
    return round(float(value), 4)


def _removed_note() -> Note:
    return Note(
        "info",
        'transformers 5 removed `pipeline("question-answering")`, which the course calls. This section '
        "computes what version 4's pipeline returned (`top_k=1`, its default `doc_stride`, `max_seq_len` "
        "and `max_answer_len`) from this checkpoint's start and end logits; the app's tests compare it "
        "with version 4 on tiny BERT, DistilBERT and RoBERTa checkpoints.",
    )


def _pair_note(loaded: Any, result: Result) -> Note:
    """How this tokenizer lays out (question, context), read from the first window."""
    first = result.results[0]
    parts: list[str] = []
    for token, segment in zip(first.tokens, first.segments, strict=True):
        if segment == SPECIAL:
            parts.append(code_span(token))
        elif not parts or parts[-1] != f"*{segment}*":
            parts.append(f"*{segment}*")
    layout = " ".join(parts)
    sentences = "the sidebar's sentences joined with spaces"
    text = f"The question and the context ({sentences}) go in as one sentence pair: {layout}."
    if first.token_type_ids is not None and accepts_token_types(loaded):
        by_segment = {
            name: sorted({t for t, s in zip(first.token_type_ids, first.segments, strict=True) if s == name})
            for name in (QUESTION, CONTEXT)
        }
        text += (
            f" `token_type_ids` are {', '.join(map(str, by_segment[QUESTION]))} on the question and "
            f"{', '.join(map(str, by_segment[CONTEXT]))} on the context."
        )
    else:
        names = ", ".join(loaded.tokenizer.model_input_names)
        how = (
            "the model tells the question from the context by the special tokens between them."
            if _between(first)
            else "nothing marks where one text ends and the other starts: the tokenizer just joins them."
        )
        text += f" This tokenizer gives {loaded.model_class} no `token_type_ids` (its model inputs: {names}): {how}"
    return Note("markdown", text)


def _between(window: WindowResult) -> tuple[str, ...]:
    """The special tokens between the pair's two texts."""
    texts = [i for i, segment in enumerate(window.segments) if segment != SPECIAL]
    if not texts:
        return ()
    first_text = window.segments[texts[0]]
    end_of_first = max(i for i in texts if window.segments[i] == first_text)
    start_of_second = min((i for i in texts if window.segments[i] != first_text), default=end_of_first + 1)
    return window.tokens[end_of_first + 1 : start_of_second]


def _window_note(loaded: Any, result: Result) -> Note:
    windows = result.windows
    limit = (
        f"{windows.max_length} tokens (the pipeline's cap of {PIPELINE_MAX_LENGTH}; this checkpoint reads "
        f"up to {loaded.max_tokens})"
        if loaded.max_tokens > PIPELINE_MAX_LENGTH
        else f"{windows.max_length} tokens (this checkpoint's limit)"
    )
    texts, side = (
        ("question, context", "only_second")
        if windows.context_sequence == 1
        else ("context, question", "only_first")
    )
    call = (
        f'tokenizer({texts}, truncation="{side}", max_length={windows.max_length}, '
        f"stride={windows.stride}, return_overflowing_tokens=True)"
    )
    if windows.total == 1:
        return Note(
            "markdown",
            f"As one pair, question and context take {windows.pair_tokens} tokens, within a window of "
            f"{limit}: one window, one pass through the model.",
        )
    return Note(
        "markdown",
        f"As one pair, question and context would take {windows.pair_tokens} tokens, more than a window "
        f"of {limit}. As the course's chapter 6 does, `{call}` cuts the context into "
        f"**{windows.total} overlapping windows**: each repeats the question and shares {windows.stride} "
        "context tokens with the window before it, so an answer cut at one window's edge is whole in the "
        "next. Each window goes through the model; the answer is the best over all windows.",
    )


def _cap_note(result: Result) -> Note | None:
    windows = result.windows
    searched = len(result.results)
    cut = len(result.context) > MAX_CONTEXT_CHARACTERS
    if windows.total <= searched and not cut:
        return None
    last = result.results[-1].context_span[1]
    made = (
        f"The first {MAX_CONTEXT_CHARACTERS:,} characters of the context (the rest was not tokenized) make"
        if cut
        else "The context makes"
    )
    return Note(
        "warning",
        f"{made} {windows.total} windows; only the first {searched} were searched (each is a pass "
        f"through the model), so the answer comes from the first {last:,} characters of "
        f"{len(result.context):,}. Shorten the text to search all of it.",
    )


def _mask_note(result: Result) -> Note:
    best = result.results[_best_window(result)]
    question = sum(1 for s in best.segments if s == QUESTION)
    specials = [t for t, s in zip(best.tokens, best.segments, strict=True) if s == SPECIAL]
    kept = [t for t, s, a in zip(best.tokens, best.segments, best.allowed, strict=True) if s == SPECIAL and a]
    masked = " ".join(code_span(t) for t in dict.fromkeys(t for t in specials if t not in kept))
    which = f"the {question} question tokens" + (f" and the special tokens {masked}" if masked else "")
    text = (
        f"Only context tokens can be the answer: before the softmax, {which} get the logit "
        f"{MASKED_LOGIT:g} (grey in the chart), so their probability is 0."
    )
    if result.windows.context_sequence == 0:
        text += (
            " (This tokenizer pads on the left, so the context comes first; version 4's pipeline then "
            "masked no token at all, a bug the app does not copy.)"
        )
    if kept:
        text += (
            f" The {code_span(kept[0])} token stays in the softmax (models trained with unanswerable "
            "questions point at it when the context holds no answer), then its probability is set to 0 "
            "(`handle_impossible_answer=False`)."
        )
    elif best.segments[0] == CONTEXT:
        text += (
            " The pipeline then sets the first token's probability to 0 (its rule for a CLS token, "
            "which this tokenizer does not add: here the first token is the context's first)."
        )
    start_sum, end_sum = best.start_probabilities.sum(), best.end_probabilities.sum()
    text += (
        f" In window {best.index + 1} the context tokens' start probabilities add up to {start_sum:.4f} "
        f"and their end probabilities to {end_sum:.4f}."
    )
    return Note("markdown", text)


def _span_note(result: Result) -> Note:
    return Note(
        "markdown",
        "A span from token *i* to token *j* scores p_start(*i*) × p_end(*j*), for *i* ≤ *j* and at most "
        f"{MAX_ANSWER_TOKENS} tokens (`max_answer_len`). The pipeline takes each window's "
        f"{SPANS_PER_WINDOW} best spans, widens each to whole words (`align_to_words=True`), and adds up "
        "the scores of the spans that give the same text, ignoring case, in every window: the highest "
        "total is the answer, and that total is its score.",
    )


def _best_window(result: Result) -> int:
    answer = result.answer
    return answer.parts[0].window if answer is not None else 0


def _answer_note(result: Result) -> Note | None:
    answer = result.answer
    if answer is None or answer.score <= 0.0:
        return Note(
            "warning", "No span of the context scored above 0: the pipeline would return an empty answer."
        )
    parts = len(answer.parts)
    added = f", the sum of {parts} spans' scores" if parts > 1 else ""
    where = f" in window {answer.parts[0].window + 1}" if len(result.results) > 1 else ""
    return Note(
        "success",
        f"The answer (highlighted below) is characters {answer.start}–{answer.end} of the context{where}, "
        f"with score {answer.score:.4f}{added}.",
    )


def answer_html(result: Result) -> str:
    """The question, the answer and its score, then the context with the answer highlighted
    (every user string escaped; a long context cut around the answer)."""
    context, answer = result.context, result.answer
    start, end = (answer.start, answer.end) if answer is not None else (0, 0)
    first = max(0, min(start, len(context)) - SHOWN_CONTEXT // 2)
    last = min(len(context), max(end, first + SHOWN_CONTEXT))
    before = ("… " if first > 0 else "") + visible(context[first:start])
    after = visible(context[end:last]) + (" …" if last < len(context) else "")
    marked = (
        '<mark style="background:#ffd37a;color:#10243e;border-radius:3px;padding:0 2px;'
        'outline:2px solid #e69f00">' + visible(context[start:end]) + "</mark>"
    )
    score = f"{answer.score:.4f}" if answer is not None else "–"
    shown = visible(answer.text) if answer is not None else ""
    return (
        '<div data-testid="qa-answer" style="background:#fff;color:#10243e;border:1px solid #c5ccd3;'
        'border-radius:6px;padding:8px 12px;margin:6px 0 12px 0;line-height:1.7">'
        f'<div dir="auto" style="unicode-bidi:plaintext"><b>Question:</b> {visible(result.question)}</div>'
        f'<div dir="auto" style="unicode-bidi:plaintext"><b>Answer:</b> <code>{shown}</code> '
        f"(score {html.escape(score)})</div>"
        f'<div dir="auto" style="unicode-bidi:plaintext;margin-top:6px">{before}{marked}{after}</div>'
        "</div>"
    )


def _span_tokens(result: Result, span: Span) -> str:
    tokens = result.results[span.window].tokens[span.start_token : span.end_token + 1]
    return " ".join(tokens)


def _parts_table(result: Result) -> Table | None:
    answer = result.answer
    if answer is None:
        return None
    rows = [
        {
            "window": span.window + 1,
            "tokens": f"{span.start_token}–{span.end_token}",
            "span's tokens": _span_tokens(result, span),
            "widened to words": span.text,
            "p_start": _fmt(span.start_probability),
            "p_end": _fmt(span.end_probability),
            "score": _fmt(span.score),
        }
        for span in answer.parts
    ]
    return table(rows)


def _others_table(result: Result, shown: int = 5) -> Table | None:
    scored = [a for a in result.answers if a.score > 0.0]  # spans with start > end score 0
    if len(scored) < 2:
        return None
    rows = [
        {"rank": rank, "answer": a.text, "score": _fmt(a.score), "spans added": len(a.parts)}
        for rank, a in enumerate(scored[:shown], start=1)
    ]
    return table(rows, index="rank")


def _windows_table(result: Result) -> Table | None:
    if len(result.results) < 2:
        return None
    rows = []
    for window in result.results:
        best = window.spans[0] if window.spans else None
        rows.append(
            {
                "window": window.index + 1,
                "tokens": len(window.tokens),
                "context characters": f"{window.context_span[0]}–{window.context_span[1]}",
                "its best span": best.text if best else "",
                "p_start × p_end": _fmt(best.score) if best else 0.0,
            }
        )
    return table(rows, index="window")


def logits_figure(window: WindowResult, answer: Answer | None, scheme: TokenScheme = PLAIN) -> go.Figure:
    """Two rows over the window's tokens: start logits (top), end logits (bottom). Masked tokens
    grey, the answer's start / end token orange; hover shows each token's probability after
    masking. (Axes laid out by hand: plotly's make_subplots costs ~0.1 s a figure.)"""
    labels = [axis_label(i, token) for i, token in enumerate(shown_tokens(scheme, window.tokens))]
    chosen = [p for p in (answer.parts if answer else ()) if p.window == window.index][:1]
    traces = []
    for axis, logits, probs, name in (
        ("y", window.start_logits, window.start_probabilities, "start"),
        ("y2", window.end_logits, window.end_probabilities, "end"),
    ):
        marked = {p.start_token if name == "start" else p.end_token for p in chosen}
        colours = [
            _ANSWER_COLOUR if i in marked else _CANDIDATE_COLOUR if window.allowed[i] else _MASKED_COLOUR
            for i in range(len(labels))
        ]
        notes = [
            f"p_{name} {probs[i]:.4f}" if window.allowed[i] else "masked: cannot be in the answer"
            for i in range(len(labels))
        ]
        traces.append(
            go.Bar(
                x=labels,
                y=np.round(logits.astype(np.float64), 4),
                xaxis="x",
                yaxis=axis,
                marker={"color": colours},
                customdata=notes,
                name=f"{name} logits",
                showlegend=False,
                hovertemplate=f"%{{x}}<br>{name} logit %{{y:.3f}}<br>%{{customdata}}<extra></extra>",
            )
        )
    title = (
        f"Window {window.index + 1}: start logits (top) and end logits (bottom) per token "
        "(grey: masked; orange: the answer's start and end)"
    )
    layout = {
        "title": {"text": html.escape(title)},
        "height": 520,
        "margin": {"l": 10, "r": 10, "t": 80, "b": 10},
        "plot_bgcolor": "white",
        "bargap": 0.15,
        "xaxis": {"anchor": "y2", "tickangle": -60, "title": {"text": "token (position · text)"}},
        "yaxis": {"domain": [0.55, 1.0], "title": {"text": "start logit"}},
        "yaxis2": {"domain": [0.0, 0.45], "title": {"text": "end logit"}},
    }
    return go.Figure(data=traces, layout=layout)


def _problem_view(problem: str) -> View:
    return View(
        removed=_removed_note(),
        problem=Note("warning", problem),
        steps=(),
        answer=None,
        answer_html="",
        parts=None,
        others=None,
        others_title="",
        windows=None,
        window_labels=(),
        figures=(),
        best_window=0,
        result=None,
    )


def build(loaded: LoadedCheckpoint, encoding: Encoding, run: ModelRun | None, inputs: TaskInputs) -> View:
    """Step ③ for a question-answering checkpoint: the question from ``inputs``, the context the
    sidebar's sentences joined with a space (``run``, the sentences' own pass, is not needed)."""
    context = " ".join(encoding.sentences)
    try:
        result = answer_question(loaded, str(inputs.question or ""), context)
    except InputError as error:
        return _problem_view(str(error))
    steps = tuple(
        note
        for note in (
            _pair_note(loaded, result),
            _window_note(loaded, result),
            _cap_note(result),
            _mask_note(result),
            _span_note(result),
        )
        if note is not None
    )
    return View(
        removed=_removed_note(),
        problem=None,
        steps=steps,
        answer=_answer_note(result),
        answer_html=answer_html(result),
        parts=_parts_table(result),
        others=_others_table(result),
        others_title=(
            f"**The next best answers**: totals over the {SPANS_PER_WINDOW} best spans per window that "
            f"`top_k=1` looks at (`top_k=k` looks at 2k + 10, so with `top_k=3` the totals can differ)."
        ),
        windows=_windows_table(result),
        window_labels=tuple(
            f"window {w.index + 1}: context characters {w.context_span[0]}–{w.context_span[1]}"
            for w in result.results
        ),
        figures=tuple(logits_figure(w, result.answer, scheme_of(loaded.tokenizer)) for w in result.results),
        best_window=_best_window(result),
        result=result,
    )

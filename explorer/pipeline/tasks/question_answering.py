"""Question answering (extractive): the answer is a span of the context, found from two logits
per token ("the answer starts here", "the answer ends here").

transformers 5 removed ``pipeline("question-answering")``, which the course calls; this module
computes what version 4's pipeline (4.57, ``pipelines/question_answering.py``) returned with
``top_k=1`` and its defaults, step by step:

1. preprocess: ``tokenizer(question, context, truncation="only_second", max_length=M,
   stride=K, return_overflowing_tokens=True, return_offsets_mapping=True)`` with
   M = min(the checkpoint's limit, 384) and K = min(M // 2, 128): a context longer than the model
   is cut into overlapping windows, each repeating the question (the course's chapter 6 does the
   same with 384 and 128);
2. each window through the model (:func:`explorer.pipeline.run.task_forward`): start and end logits [W, S];
3. postprocess, per window: every token that is not the context's (question, special tokens,
   padding) gets the logit -10000, except the CLS token, which stays in the softmax; softmax over
   the tokens (start and end separately); the first token's probability is then set to 0
   (``handle_impossible_answer=False``); a span (i, j) scores p_start(i) × p_end(j) for i ≤ j and
   at most ``max_answer_len`` = 15 tokens; the 12 best spans of each window (``top_k * 2 + 10``)
   are widened to whole words (``align_to_words=True``) and spans that give the same text,
   ignoring case, within and across windows, have their scores added. The highest total wins.

Everything after the forward pass is pure NumPy; probabilities come from ``explorer.pipeline.postprocess``.
"""

from __future__ import annotations

import html
import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go

from explorer.drawing.figures import label as axis_label
from explorer.drawing.render import visible
from explorer.errors import InputError
from explorer.pipeline import postprocess
from explorer.pipeline import run as runner
from explorer.views.common import Note, Table, table
from explorer.views.tokenizer import code_span

if TYPE_CHECKING:
    from explorer.pipeline.encoding import Encoding
    from explorer.pipeline.loading import LoadedCheckpoint
    from explorer.pipeline.run import ModelRun
    from explorer.pipeline.tasks import TaskInputs

MAX_ANSWER_TOKENS = 15  # the pipeline's max_answer_len
SPANS_PER_WINDOW = 12  # the pipeline's pre_topk = top_k * 2 + 10 with top_k = 1 (align_to_words)
PIPELINE_MAX_LENGTH = 384  # the pipeline's max_seq_len: min(tokenizer.model_max_length, 384)
PIPELINE_MAX_STRIDE = 128  # its doc_stride: min(max_seq_len // 2, 128)
MASKED_LOGIT = -10000.0  # what the pipeline writes over the logits of tokens that cannot answer
MAX_WINDOWS = 16  # windows searched (each one is a forward pass of up to max_length tokens)
WINDOWS_PER_FORWARD = 8  # windows per call of the model
# Characters of context tokenized: far more than MAX_WINDOWS windows hold (16 x 384 tokens), so
# only a pasted book is cut, and tokenizing it stays well under a second.
MAX_CONTEXT_CHARACTERS = 100_000
SHOWN_CONTEXT = 1500  # characters of context shown around the answer
QUESTION, CONTEXT, SPECIAL = "question", "context", "special"
# Colours readable by colour-blind viewers (Okabe-Ito): candidates blue, the answer orange.
_MASKED_COLOUR, _CANDIDATE_COLOUR, _ANSWER_COLOUR = "#bdbdbd", "#0072b2", "#e69f00"


# --- Preprocess: question + context -> windows --------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Windows:
    """The question and context as the model receives them: W windows of S tokens (padded).
    Arrays are int64; -1 marks "none" in sequence_ids and word_ids."""

    input_ids: np.ndarray  # [W, S]
    attention_mask: np.ndarray  # [W, S] 1 = real token, 0 = padding
    token_type_ids: np.ndarray | None  # [W, S] None when the tokenizer's model inputs have none
    sequence_ids: np.ndarray  # [W, S] 0 / 1 = first / second text of the pair, -1 = special or padding
    word_ids: np.ndarray  # [W, S] the word each token belongs to (within its text), -1 = none
    offsets: np.ndarray  # [W, S, 2] characters of its own text each token covers
    tokens: tuple[tuple[str, ...], ...]  # [W][S] token strings, padding included
    context_sequence: int  # which text of the pair is the context: 1 (question first) or 0
    total: int  # windows the whole context makes (only the first MAX_WINDOWS are kept)
    pair_tokens: int  # question + context + special tokens, before any window is cut
    max_length: int  # M: longest window
    stride: int  # K: tokens a window shares with the one before it


def window_settings(loaded: LoadedCheckpoint) -> tuple[int, int]:
    """(max_length, stride) as the pipeline chooses them: M = min(limit, 384), K = min(M // 2, 128)."""
    max_length = min(int(loaded.max_tokens), PIPELINE_MAX_LENGTH)
    return max_length, min(max_length // 2, PIPELINE_MAX_STRIDE)


def _count(tokenizer: Any, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])


def split_windows(
    tokenizer: Any, question: str, context: str, max_length: int, stride: int, max_windows: int = MAX_WINDOWS
) -> Windows:
    """Tokenize (question, context) into overlapping windows, as the pipeline does. Raises
    InputError when the question leaves the context too little room in a window."""
    question_first = tokenizer.padding_side == "right"  # the pipeline's rule
    question_tokens, context_tokens = _count(tokenizer, question), _count(tokenizer, context)
    specials = tokenizer.num_special_tokens_to_add(pair=True)
    pair_tokens = question_tokens + context_tokens + specials
    room = max_length - question_tokens - specials  # context tokens one window holds
    if pair_tokens > max_length and room <= stride:
        raise InputError(
            f"The question takes {question_tokens} tokens, leaving {max(room, 0)} of the window's "
            f"{max_length} for the context: a window must hold more context tokens than the "
            f"{stride} it shares with the next one. Shorten the question."
        )
    first, second = (question, context) if question_first else (context, question)
    encoded = tokenizer(
        first,
        second,
        truncation="only_second" if question_first else "only_first",
        max_length=max_length,
        stride=stride,
        padding="longest",
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        return_token_type_ids=True,
    )
    total = len(encoded["input_ids"])
    kept = range(min(total, max_windows))

    def ints(rows: Any) -> np.ndarray:
        return np.array([[(-1 if v is None else int(v)) for v in row] for row in rows], dtype=np.int64)

    types = None
    if "token_type_ids" in tokenizer.model_input_names:  # what the pipeline passes to the model
        types = np.array([encoded["token_type_ids"][w] for w in kept], dtype=np.int64)  # [W, S]
    ids = np.array([encoded["input_ids"][w] for w in kept], dtype=np.int64)  # [W, S]
    return Windows(
        input_ids=ids,
        attention_mask=np.array([encoded["attention_mask"][w] for w in kept], dtype=np.int64),  # [W, S]
        token_type_ids=types,
        sequence_ids=ints(encoded.sequence_ids(w) for w in kept),  # [W, S]
        word_ids=ints(encoded.word_ids(w) for w in kept),  # [W, S]
        offsets=np.array([encoded["offset_mapping"][w] for w in kept], dtype=np.int64).reshape(
            len(ids), -1, 2
        ),  # [W, S, 2]
        tokens=tuple(tuple(tokenizer.convert_ids_to_tokens([int(i) for i in row])) for row in ids),
        context_sequence=1 if question_first else 0,
        total=total,
        pair_tokens=pair_tokens,
        max_length=max_length,
        stride=stride,
    )


def forward(loaded: LoadedCheckpoint, windows: Windows) -> tuple[np.ndarray, np.ndarray]:
    """(start_logits [W, S], end_logits [W, S]) float32, WINDOWS_PER_FORWARD windows per call."""
    starts, ends = [], []
    for first in range(0, len(windows.input_ids), WINDOWS_PER_FORWARD):
        part = slice(first, first + WINDOWS_PER_FORWARD)
        inputs = {"input_ids": windows.input_ids[part], "attention_mask": windows.attention_mask[part]}
        if windows.token_type_ids is not None:
            inputs["token_type_ids"] = windows.token_type_ids[part]
        out = runner.task_forward(loaded, inputs, ("start_logits", "end_logits"))
        starts.append(out["start_logits"])  # [w, S]
        ends.append(out["end_logits"])  # [w, S]
    return np.concatenate(starts), np.concatenate(ends)


# --- Postprocess (pure NumPy) -----------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Span:
    """One candidate span of a window: tokens start..end (inclusive), widened to whole words."""

    window: int
    start_token: int  # positions in the window (padding removed)
    end_token: int
    start_probability: float
    end_probability: float
    score: float  # start_probability × end_probability
    start: int  # characters of the context (after widening to whole words)
    end: int
    text: str  # context[start:end]


@dataclass(frozen=True, kw_only=True)
class WindowResult:
    """One window after the model: its real tokens (padding removed) and what postprocess made."""

    index: int
    tokens: tuple[str, ...]  # [T]
    segments: tuple[str, ...]  # [T] QUESTION / CONTEXT / SPECIAL
    token_type_ids: tuple[int, ...] | None  # [T]
    start_logits: np.ndarray  # [T] float32, as the model returned them
    end_logits: np.ndarray  # [T]
    allowed: np.ndarray  # [T] bool: in the softmax (context tokens and CLS tokens)
    start_probabilities: np.ndarray  # [T] float64: softmax over the allowed tokens, first token set to 0
    end_probabilities: np.ndarray  # [T]
    context_span: tuple[int, int]  # characters of the context this window covers
    spans: tuple[Span, ...]  # its SPANS_PER_WINDOW best spans, best first


@dataclass(frozen=True, kw_only=True)
class Answer:
    """A text the spans gave, with the scores of every span that gave it (ignoring case) added."""

    text: str
    start: int  # characters of the context: the first span that gave this text
    end: int
    score: float  # the sum of the parts' scores: what the pipeline returns as "score"
    parts: tuple[Span, ...]


@dataclass(frozen=True, kw_only=True)
class Result:
    """pipeline("question-answering")(question=..., context=..., top_k=1), computed step by step."""

    question: str
    context: str
    windows: Windows
    results: tuple[WindowResult, ...]  # one per window searched
    answers: tuple[Answer, ...]  # every distinct text, best total first
    cls_token: str | None

    @property
    def answer(self) -> Answer | None:
        return self.answers[0] if self.answers else None


def probabilities(logits: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """[T] logits, [T] bool -> [T] float64: the pipeline's softmax over the allowed tokens (the
    others get MASKED_LOGIT, so their probability is 0), then the first token's set to 0."""
    masked = np.where(allowed, logits.astype(np.float64), MASKED_LOGIT)  # [T]
    probs = postprocess.apply("softmax", masked).copy()  # [T]
    probs[0] = 0.0  # "Mask CLS": no empty answer (handle_impossible_answer=False)
    return probs


def best_spans(
    start_probs: np.ndarray,
    end_probs: np.ndarray,
    desired: np.ndarray,
    k: int = SPANS_PER_WINDOW,
    max_tokens: int = MAX_ANSWER_TOKENS,
) -> list[tuple[int, int, float]]:
    """The k best (start, end, score) with start ≤ end < start + max_tokens, as the pipeline's
    decode_spans picks them, keeping those whose start and end are both ``desired`` [T]."""
    scores = np.tril(np.triu(np.outer(start_probs, end_probs)), max_tokens - 1)  # [T, T] start x end
    flat = scores.ravel()
    if len(flat) < k:
        order = np.argsort(-flat)
    else:
        top = np.argpartition(-flat, k)[:k]
        order = top[np.argsort(-flat[top])]
    starts, ends = np.unravel_index(order, scores.shape)
    return [
        (int(s), int(e), float(scores[s, e]))
        for s, e in zip(starts, ends, strict=True)
        if desired[s] and desired[e]
    ]


def _word_chars(word_ids: np.ndarray, sequence: np.ndarray, offsets: np.ndarray, word: int, side: int) -> int:
    """The first (side 0) or last (side 1) character of a context word within this window."""
    tokens = np.flatnonzero((word_ids == word) & sequence)
    if len(tokens) == 0:
        raise LookupError(word)
    return int(offsets[tokens[0] if side == 0 else tokens[-1], side])


def char_span(window: Windows, w: int, real: np.ndarray, s: int, e: int) -> tuple[int, int]:
    """Characters of the context for tokens s..e of window w (``real`` [T] its real positions),
    widened to whole words (``align_to_words=True``); the tokens' own offsets when a token
    belongs to no word, as the pipeline falls back."""
    words = window.word_ids[w, real]  # [T]
    offsets = window.offsets[w, real]  # [T, 2]
    sequence = window.sequence_ids[w, real] == window.context_sequence  # [T]
    try:
        if words[s] < 0 or words[e] < 0:
            raise LookupError(s)
        return (
            _word_chars(words, sequence, offsets, int(words[s]), 0),
            _word_chars(words, sequence, offsets, int(words[e]), 1),
        )
    except LookupError:
        return int(offsets[s, 0]), int(offsets[e, 1])


def _segments(sequence: np.ndarray, context_sequence: int) -> tuple[str, ...]:
    return tuple(SPECIAL if s < 0 else CONTEXT if s == context_sequence else QUESTION for s in sequence)


def window_result(
    windows: Windows,
    w: int,
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    context: str,
    cls_id: int | None,
) -> WindowResult:
    """Postprocess one window: [S] logits (padding included) -> its probabilities and best spans."""
    real = np.flatnonzero(windows.attention_mask[w])  # [T] positions of real tokens
    sequence = windows.sequence_ids[w, real]  # [T]
    ids = windows.input_ids[w, real]  # [T]
    allowed = sequence == windows.context_sequence  # [T] context tokens...
    if cls_id is not None:
        allowed |= ids == cls_id  # ...and the CLS token, kept in the softmax
    start_probs = probabilities(start_logits[real], allowed)  # [T]
    end_probs = probabilities(end_logits[real], allowed)  # [T]
    desired = allowed.copy()
    # The pipeline's check `np.isin(starts, undesired_tokens.nonzero())` also finds 0 among the
    # row indices of its [1, T] mask: position 0 passes (with score 0, it never wins).
    desired[0] = True
    spans = []
    for s, e, score in best_spans(start_probs, end_probs, desired):
        start, end = char_span(windows, w, real, s, e)
        spans.append(
            Span(
                window=w,
                start_token=s,
                end_token=e,
                start_probability=float(start_probs[s]),
                end_probability=float(end_probs[e]),
                score=score,
                start=start,
                end=end,
                text=context[start:end],
            )
        )
    in_context = windows.offsets[w, real][sequence == windows.context_sequence]  # [C, 2]
    covered = (int(in_context[:, 0].min()), int(in_context[:, 1].max())) if len(in_context) else (0, 0)
    types = None if windows.token_type_ids is None else tuple(int(t) for t in windows.token_type_ids[w, real])
    return WindowResult(
        index=w,
        tokens=tuple(windows.tokens[w][i] for i in real),
        segments=_segments(sequence, windows.context_sequence),
        token_type_ids=types,
        start_logits=start_logits[real],
        end_logits=end_logits[real],
        allowed=allowed,
        start_probabilities=start_probs,
        end_probabilities=end_probs,
        context_span=covered,
        spans=tuple(spans),
    )


def merge(results: Sequence[WindowResult]) -> tuple[Answer, ...]:
    """Spans that give the same text (ignoring case) count as one answer whose score is the sum
    of theirs, in window order; best total first (ties: the first found)."""
    texts: dict[str, list[Span]] = {}
    for result in results:
        for span in result.spans:
            texts.setdefault(span.text.lower(), []).append(span)
    answers = [
        Answer(
            text=parts[0].text,
            start=parts[0].start,
            end=parts[0].end,
            score=float(sum(p.score for p in parts)),
            parts=tuple(parts),
        )
        for parts in texts.values()
    ]
    return tuple(sorted(answers, key=lambda a: a.score, reverse=True))


def answer_question(
    loaded: LoadedCheckpoint, question: str, context: str, max_windows: int = MAX_WINDOWS
) -> Result:
    """The whole task: windows, the model, postprocess. Raises InputError for an empty question
    or context, or a question too long for a window."""
    if not question.strip():
        raise InputError("Type a question: the answer is looked for in the sentences of the sidebar.")
    if not context.strip():
        raise InputError("The context is empty: type the text to search in the sidebar.")
    tokenizer = loaded.batch_tokenizer  # the shipped one, or a copy with a pad token (windows are padded)
    if not getattr(tokenizer, "is_fast", False):
        raise InputError(
            f"{type(tokenizer).__name__} gives no character offsets, which finding the answer in the "
            "text needs (a fast tokenizer does)."
        )
    max_length, stride = window_settings(loaded)
    searched = context[:MAX_CONTEXT_CHARACTERS]  # offsets into a prefix are offsets into the context
    windows = split_windows(tokenizer, question, searched, max_length, stride, max_windows)
    start_logits, end_logits = forward(loaded, windows)  # [W, S] each
    cls_id = tokenizer.cls_token_id
    results = tuple(
        window_result(windows, w, start_logits[w], end_logits[w], context, cls_id)
        for w in range(len(windows.input_ids))
    )
    return Result(
        question=question,
        context=context,
        windows=windows,
        results=results,
        answers=merge(results),
        cls_token=tokenizer.cls_token if cls_id is not None else None,
    )


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
    if (
        first.token_type_ids is not None
        and "token_type_ids" in inspect.signature(loaded.model.forward).parameters
    ):
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


def logits_figure(window: WindowResult, answer: Answer | None) -> go.Figure:
    """Two rows over the window's tokens: start logits (top), end logits (bottom). Masked tokens
    grey, the answer's start / end token orange; hover shows each token's probability after
    masking. (Axes laid out by hand: plotly's make_subplots costs ~0.1 s a figure.)"""
    labels = [axis_label(i, token) for i, token in enumerate(window.tokens)]
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
        figures=tuple(logits_figure(w, result.answer) for w in result.results),
        best_window=_best_window(result),
        result=result,
    )

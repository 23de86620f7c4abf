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
The computation only: what step ③ of the Pipeline page says and draws of it is
:mod:`explorer.views.tasks.question_answering`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from explorer.errors import InputError
from explorer.pipeline import postprocess
from explorer.pipeline import run as runner

if TYPE_CHECKING:
    from explorer.pipeline.loading import LoadedCheckpoint

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
QUESTION, CONTEXT, SPECIAL = "question", "context", "special"


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

"""Token classification (NER): token logits -> softmax -> a label per token -> entities.

As transformers 5.23's ``pipelines/token_classification.py`` does it, step by step:

- each token's probabilities: a softmax over the labels of ``config.id2label``
  (:func:`explorer.pipeline.postprocess.apply`), its label the most probable one;
- :func:`gather`: the tokens the pipeline reads (special tokens and padding left out), each with
  its character span and whether it continues a word (``is_subword``: from the tokenizer's
  continuing-subword prefix, e.g. WordPiece's ``##``, else the pipeline's fallback heuristic: no
  space just before the token);
- :func:`aggregate`: ``aggregation_strategy`` none (one entry per token), simple (adjacent tokens
  of one entity type join unless the later one says B-; the mean score), first / average / max
  (tokens merged into words first, each word one label), and "O" left out.

The forward pass is :mod:`explorer.pipeline.run`'s (``ModelRun.token_logits`` [B, S, K]); the check runs
transformers' own pipeline through :func:`explorer.pipeline.run.transformers_pipeline`.
The computation only: what step ③ of the Pipeline page says and draws of it is
:mod:`explorer.views.tasks.token_classification`.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from explorer.pipeline import postprocess
from explorer.pipeline import run as runner

STRATEGIES = ("none", "simple", "first", "average", "max")
WORD_STRATEGIES = ("first", "average", "max")  # merge tokens into words before grouping
IGNORED_LABELS = ("O",)  # the pipeline's default ignore_labels: "outside any entity"
CHECK_TOLERANCE = 1e-5  # scores within this of the pipeline's are "the same"
PIPELINE = 'pipeline("token-classification")'


# --- Pure postprocessing, as the pipeline does it -------------------------------------------------


def split_tag(label: str) -> tuple[str, str]:
    """(B or I, entity type) as the pipeline's ``get_tag`` reads a label: "B-PER" -> (B, PER),
    "I-PER" -> (I, PER); a label without those prefixes continues ("I") its own type."""
    if label.startswith("B-"):
        return "B", label[2:]
    if label.startswith("I-"):
        return "I", label[2:]
    return "I", label


def group_name(label: str) -> str:
    """The entity_group of an entity that starts with ``label`` (the pipeline splits at the first "-")."""
    return label.split("-", 1)[-1]


def entity_types(labels: Sequence[str]) -> tuple[str, ...]:
    """[T] the entity types of the labels, in id order, "O" (ignored) left out."""
    types: list[str] = []
    for label in labels:
        tag = split_tag(label)[1]
        if label not in IGNORED_LABELS and tag not in IGNORED_LABELS and tag not in types:
            types.append(tag)
    return tuple(types)


@dataclass(frozen=True, kw_only=True)
class PreEntity:
    """One token the pipeline reads (not special, not padding), before aggregation."""

    position: int  # column in the batch
    index: int  # the token's index in the sentence as the pipeline numbers it (padding excluded)
    word: str  # the token as the vocabulary spells it; an unknown token: its characters
    scores: np.ndarray  # [K] float64 probabilities over the labels
    start: int | None  # character span in the sentence (None: the tokenizer gives no offsets)
    end: int | None
    is_subword: bool  # continues the word of the token before it


@dataclass(frozen=True, kw_only=True)
class Entity:
    """One entry of the pipeline's output: a token ("none") or a group of tokens / words."""

    label: str  # "entity" (none: the token's label) or "entity_group" (the type, e.g. PER)
    score: float
    word: str
    start: int | None
    end: int | None
    index: int | None = None  # "none" only: the token's index in the sentence
    positions: tuple[int, ...] = ()  # the batch columns it covers


def marks_subwords(tokenizer: Any) -> bool:
    """Whether the tokenizer is word-aware as the pipeline tests it: its model has a
    continuing-subword prefix (WordPiece's ``##``)."""
    backend = getattr(tokenizer, "_tokenizer", None)
    return bool(backend and getattr(backend.model, "continuing_subword_prefix", None))


def gather(
    sentence: str,
    tokens: Sequence[str],
    input_ids: np.ndarray,
    probabilities: np.ndarray,
    offsets: np.ndarray | None,
    skipped: np.ndarray,
    *,
    unk_id: int | None,
    word_aware: bool,
    first_column: int = 0,
) -> list[PreEntity]:
    """The pipeline's ``gather_pre_entities`` for one sentence of the batch.

    tokens [S], input_ids [S], probabilities [S, K], offsets [S, 2] or None, skipped [S] (1 =
    special token or padding); ``first_column``: where the sentence starts in its row (left
    padding), so ``index`` counts from its first token as the pipeline's does."""
    real = np.flatnonzero(skipped == 0)  # [n] the tokens the pipeline reads
    pre = []
    for s in (int(position) for position in real):
        word, start, end, is_subword = tokens[s], None, None, False
        if offsets is not None:
            start, end = int(offsets[s, 0]), int(offsets[s, 1])
            word_ref = sentence[start:end]
            if word_aware:
                is_subword = len(word) != len(word_ref)
            else:  # the pipeline's fallback heuristic: no space just before the token
                is_subword = start > 0 and " " not in sentence[start - 1 : start + 1]
            if unk_id is not None and int(input_ids[s]) == unk_id:
                word, is_subword = word_ref, False
        pre.append(
            PreEntity(
                position=int(s),
                index=int(s) - first_column,
                word=word,
                scores=probabilities[s],
                start=start,
                end=end,
                is_subword=is_subword,
            )
        )
    return pre


def _token_entity(pre: PreEntity, labels: Sequence[str]) -> Entity:
    best = int(pre.scores.argmax())
    return Entity(
        label=labels[best],
        score=float(pre.scores[best]),
        word=pre.word,
        start=pre.start,
        end=pre.end,
        index=pre.index,
        positions=(pre.position,),
    )


def _word_entity(
    group: list[PreEntity], strategy: str, labels: Sequence[str], join: Callable[[list[str]], str]
) -> Entity:
    """The pipeline's ``aggregate_word``: one label for the tokens of one word."""
    if strategy == "first":
        scores = group[0].scores
    elif strategy == "max":
        scores = max(group, key=lambda pre: pre.scores.max()).scores
    else:  # average
        scores = np.nanmean(np.stack([pre.scores for pre in group]), axis=0)  # [K]
    best = int(scores.argmax())
    return Entity(
        label=labels[best],
        score=float(scores[best]),
        word=join([pre.word for pre in group]),
        start=group[0].start,
        end=group[-1].end,
        positions=tuple(pre.position for pre in group),
    )


def words(
    pre: Sequence[PreEntity], strategy: str, labels: Sequence[str], join: Callable[[list[str]], str]
) -> list[Entity]:
    """The pipeline's ``aggregate_words``: a token that continues a word joins it."""
    groups: list[list[PreEntity]] = []
    for token in pre:
        if groups and token.is_subword:
            groups[-1].append(token)
        else:
            groups.append([token])
    return [_word_entity(group, strategy, labels, join) for group in groups]


def _group(members: list[Entity], join: Callable[[list[str]], str]) -> Entity:
    """The pipeline's ``group_sub_entities``: the first member's type, the mean score."""
    return Entity(
        label=group_name(members[0].label),
        score=float(np.nanmean([member.score for member in members])),
        word=join([member.word for member in members]),
        start=members[0].start,
        end=members[-1].end,
        positions=tuple(p for member in members for p in member.positions),
    )


def group(entities: Sequence[Entity], join: Callable[[list[str]], str]) -> list[Entity]:
    """The pipeline's ``group_entities``: adjacent entries of one type join, unless the later one
    begins an entity (B-)."""
    groups: list[list[Entity]] = []
    for entity in entities:
        bi, tag = split_tag(entity.label)
        if groups and tag == split_tag(groups[-1][-1].label)[1] and bi != "B":
            groups[-1].append(entity)
        else:
            groups.append([entity])
    return [_group(members, join) for members in groups]


def aggregate(
    pre: Sequence[PreEntity], strategy: str, labels: Sequence[str], join: Callable[[list[str]], str]
) -> list[Entity]:
    """The entities ``pipeline("token-classification", aggregation_strategy=strategy)`` returns
    for these tokens ("O" left out). ``join`` turns tokens into text
    (``tokenizer.convert_tokens_to_string``)."""
    if strategy in WORD_STRATEGIES:
        entries = words(pre, strategy, labels, join)
    else:
        entries = [_token_entity(token, labels) for token in pre]
    if strategy != "none":
        entries = group(entries, join)
    return [entry for entry in entries if entry.label not in IGNORED_LABELS]


@dataclass(frozen=True, kw_only=True)
class TokenLabel:
    """One real token of a sentence with its label (a chip)."""

    position: int  # column in the batch
    token: str
    label: str  # the most probable label
    probability: float  # its probability
    special: bool  # a special token: the pipeline skips it
    start: int | None
    end: int | None


@dataclass(frozen=True, kw_only=True)
class SentenceLabels:
    """One sentence of the batch: its tokens' labels and its entities."""

    tokens: tuple[TokenLabel, ...]  # [n] its real tokens (specials included), in order
    read: int  # tokens the pipeline reads (special tokens and padding left out)
    entities: tuple[Entity, ...]  # what the pipeline returns for it, with the strategy in use
    typed_specials: tuple[str, ...]  # special tokens typed in the text (not flagged special there)
    truncated: int  # tokens truncation cut
    # The last character the kept tokens cover (the whole sentence when nothing was cut); None when
    # the tokenizer gives no character offsets.
    shown_end: int | None


@dataclass(frozen=True, kw_only=True)
class Labels:
    """Step ③'s numbers for a token classifier."""

    strategy: str  # the aggregation_strategy in use
    labels: tuple[str, ...]  # [K] config.id2label, in id order
    probabilities: np.ndarray  # [B, S, K] float64 softmax over the labels
    specials: tuple[str, ...]  # the special tokens in the batch (real positions), sorted
    sentences: tuple[SentenceLabels, ...]  # [B]


@dataclass(frozen=True, kw_only=True)
class Check:
    """Our entities against transformers' pipeline."""

    largest: float | None  # largest score difference; None when they differ or it did not run
    differ: tuple[dict[str, Any], ...]  # the entries where they differ
    error: str | None  # why the pipeline could not run (None: it ran)


def choose_strategy(text: str, fast: bool) -> tuple[str, str | None]:
    """(the strategy to use, why the one typed was replaced: "unknown", "slow" or None): an unknown
    name, or a word strategy with a slow tokenizer (which the pipeline refuses), becomes "simple"."""
    strategy = (text or "").strip().lower()
    if strategy not in STRATEGIES:
        return "simple", "unknown"
    if strategy in WORD_STRATEGIES and not fast:
        return "simple", "slow"
    return strategy, None


def is_decoder_body(loaded: Any) -> bool:
    """A decoder body (GPT-2, Llama… under a token-classification head): a model type with a
    causal-LM head and no masked-LM head."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    kind = getattr(loaded.config, "model_type", "")
    return kind in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and kind not in MODEL_FOR_MASKED_LM_MAPPING_NAMES


def subword_prefix(tokenizer: Any) -> str | None:
    """The tokenizer's continuing-subword prefix (WordPiece's ``##``), None when it has none."""
    backend = getattr(tokenizer, "_tokenizer", None)
    return getattr(backend.model, "continuing_subword_prefix", None) if backend is not None else None


def _token_labels(
    encoding: Any, probabilities: np.ndarray, b: int, labels: Sequence[str]
) -> tuple[TokenLabel, ...]:
    """Sentence ``b``'s real tokens, each with its most probable label; probabilities [S, K]."""
    special = np.asarray(encoding.special_tokens_mask[b])  # [S]
    offsets = encoding.offsets[b] if encoding.offsets is not None else None  # [S, 2]
    best = probabilities.argmax(axis=-1)  # [S]
    return tuple(
        TokenLabel(
            position=int(s),
            token=encoding.tokens[b][s],
            label=labels[int(best[s])],
            probability=float(probabilities[s, best[s]]),
            special=bool(special[s]),
            start=int(offsets[s, 0]) if offsets is not None and not special[s] else None,
            end=int(offsets[s, 1]) if offsets is not None and not special[s] else None,
        )
        for s in np.flatnonzero(np.asarray(encoding.attention_mask[b]))  # [n]
    )


def label_sentence(
    loaded: Any, encoding: Any, probabilities: np.ndarray, b: int, strategy: str
) -> SentenceLabels:
    """Sentence ``b``: probabilities [S, K] of its row -> its tokens' labels and its entities."""
    labels = postprocess.label_names(loaded.config, probabilities.shape[-1])
    mask = np.asarray(encoding.attention_mask[b])  # [S]
    special = np.asarray(encoding.special_tokens_mask[b])  # [S]
    offsets = encoding.offsets[b] if encoding.offsets is not None else None  # [S, 2]
    sentence = encoding.sentences[b]
    real = np.flatnonzero(mask)  # [n]
    skipped = ((mask == 0) | (special == 1)).astype(np.int64)  # [S]
    pre = gather(
        sentence,
        encoding.tokens[b],
        encoding.input_ids[b],
        probabilities,
        offsets,
        skipped,
        unk_id=loaded.tokenizer.unk_token_id,
        word_aware=marks_subwords(loaded.tokenizer),
        first_column=int(real[0]) if len(real) else 0,
    )
    tokens = _token_labels(encoding, probabilities, b, labels)
    specials = set(loaded.tokenizer.all_special_tokens)
    shown_end = None
    if offsets is not None:
        kept_end = max((int(offsets[s, 1]) for s in real if not special[s]), default=0)
        shown_end = len(sentence) if not encoding.truncated[b] else kept_end
    return SentenceLabels(
        tokens=tokens,
        read=len(pre),
        entities=tuple(aggregate(pre, strategy, labels, loaded.tokenizer.convert_tokens_to_string)),
        typed_specials=tuple(sorted({t.token for t in tokens if not t.special and t.token in specials})),
        truncated=int(encoding.truncated[b]),
        shown_end=shown_end,
    )


def label_tokens(loaded: Any, encoding: Any, run: Any, strategy: str) -> Labels:
    """Every sentence's tokens labelled and grouped into entities with ``strategy``."""
    logits = run.token_logits  # [B, S, K]
    probabilities = postprocess.apply("softmax", logits)  # [B, S, K] float64
    specials = sorted(
        {
            token
            for b, row in enumerate(encoding.tokens)
            for s, token in enumerate(row)
            if encoding.special_tokens_mask[b, s] and encoding.attention_mask[b, s]
        }
    )
    return Labels(
        strategy=strategy,
        labels=tuple(postprocess.label_names(loaded.config, logits.shape[-1])),
        probabilities=probabilities,
        specials=tuple(specials),
        sentences=tuple(
            label_sentence(loaded, encoding, probabilities[b], b, strategy) for b in range(logits.shape[0])
        ),
    )


def _theirs(result: dict[str, Any]) -> tuple[str, Any, Any, str, float]:
    label = result.get("entity_group", result.get("entity"))
    return (
        str(result.get("word")),
        result.get("start"),
        result.get("end"),
        str(label),
        float(result["score"]),
    )


def compare(
    ours: Sequence[Sequence[Entity]], theirs: Sequence[Sequence[dict[str, Any]]]
) -> tuple[float | None, list[dict[str, Any]]]:
    """(largest |score difference| when every entity matches in word, start, end and label, else
    None; the rows where they differ)."""
    largest, differ = 0.0, []
    for b, (mine, pipeline_entities) in enumerate(zip(ours, theirs, strict=True)):
        count = max(len(mine), len(pipeline_entities))
        for i in range(count):
            a = mine[i] if i < len(mine) else None
            t = _theirs(pipeline_entities[i]) if i < len(pipeline_entities) else None
            key_a = (a.word, a.start, a.end, a.label) if a else None
            if a is not None and t is not None and key_a == t[:4]:
                largest = max(largest, abs(a.score - t[4]))
                continue
            differ.append(
                {
                    "sentence": b,
                    "entry": i,
                    "ours": "—" if a is None else f"{a.label} {a.word!r} {a.start}–{a.end}",
                    "pipeline": "—" if t is None else f"{t[3]} {t[0]!r} {t[1]}–{t[2]}",
                }
            )
    return (None if differ else largest), differ


# The pipeline's answers, kept for a page rerun that asks again (another widget changed): the same
# model object (held weakly: an evicted checkpoint is not kept alive), sentences and strategy.
_ANSWERS: OrderedDict[tuple[int, tuple[str, ...], str], tuple[Any, list]] = OrderedDict()
_ANSWERS_LOCK = threading.Lock()
MAX_ANSWERS = 32


def pipeline_entities(loaded: Any, sentences: tuple[str, ...], strategy: str) -> list[list[dict[str, Any]]]:
    """[B] what ``pipeline("token-classification", aggregation_strategy=strategy)`` returns for
    each sentence, run through :func:`explorer.pipeline.run.transformers_pipeline` (remembered per model,
    sentences and strategy)."""
    key = (id(loaded.model), sentences, strategy)
    with _ANSWERS_LOCK:
        if key in _ANSWERS and _ANSWERS[key][0]() is loaded.model:
            _ANSWERS.move_to_end(key)
            return _ANSWERS[key][1]
    answer = runner.transformers_pipeline(
        "token-classification", loaded, list(sentences), aggregation_strategy=strategy
    )
    with _ANSWERS_LOCK:
        _ANSWERS[key] = (weakref.ref(loaded.model), answer)
        while len(_ANSWERS) > MAX_ANSWERS:
            _ANSWERS.popitem(last=False)
    return answer


def check(loaded: Any, encoding: Any, strategy: str, ours: Sequence[Sequence[Entity]]) -> Check:
    """Our entities [B] against transformers' own pipeline, each sentence run alone."""
    try:
        theirs = pipeline_entities(loaded, tuple(encoding.sentences), strategy)  # [B] lists of dicts
    except Exception as error:  # the library refuses this checkpoint: say so, do not hide it
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        return Check(largest=None, differ=(), error=reason)
    largest, differ = compare(ours, theirs)
    return Check(largest=largest, differ=tuple(differ), error=None)

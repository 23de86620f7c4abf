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
"""

from __future__ import annotations

import html
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from explorer.drawing.render import visible
from explorer.pipeline import postprocess
from explorer.pipeline import run as runner
from explorer.pipeline.tasks import TaskInputs
from explorer.views.common import Note, Table, table

STRATEGIES = ("none", "simple", "first", "average", "max")
WORD_STRATEGIES = ("first", "average", "max")  # merge tokens into words before grouping
IGNORED_LABELS = ("O",)  # the pipeline's default ignore_labels: "outside any entity"
CHECK_TOLERANCE = 1e-5  # scores within this of the pipeline's are "the same"
PIPELINE = 'pipeline("token-classification")'

# Okabe & Ito's palette: told apart with every common colour-vision deficiency. One per entity type.
PALETTE = ("#E69F00", "#56B4E9", "#009E73", "#CC79A7", "#0072B2", "#D55E00", "#F0E442", "#999933")
MUTED = "#c5ccd3"  # "O" and special tokens


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
    for s in real:
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


# --- HTML (every user string escaped with render.visible) -------------------------------------------

_STYLE = """
<style>
.tx-ner-chips{display:flex;flex-wrap:wrap;gap:5px;margin:4px 0 10px 0}
.tx-ner-chip{display:inline-flex;flex-direction:column;align-items:center;border-radius:6px;
  padding:2px 6px;border:2px solid #c5ccd3;background:#fff;color:#10243e;font-size:.95rem;
  unicode-bidi:isolate}
.tx-ner-chip .tx-ner-label{font-size:.72rem;font-family:monospace;color:#10243e}
.tx-ner-chip.tx-ner-o{background:#f3f5f7;color:#6b7785}
.tx-ner-chip.tx-ner-o .tx-ner-label{color:#6b7785}
.tx-ner-chip.tx-ner-special{background:#f3f5f7;border-style:dashed;color:#6b7785}
.tx-ner-text{line-height:2.1;font-size:1.05rem;color:#10243e;background:#fff;padding:6px 8px;
  border-radius:6px;border:1px solid #e1e5ea;unicode-bidi:isolate}
.tx-ner-text mark{color:#10243e;border-radius:4px;padding:1px 3px;border:2px solid;unicode-bidi:isolate}
.tx-ner-text mark .tx-ner-tag{font-size:.68rem;font-family:monospace;margin-left:4px;font-weight:600}
.tx-ner-legend{display:flex;flex-wrap:wrap;gap:8px;font-size:.8rem;margin:2px 0 8px 0}
.tx-ner-legend span{border:2px solid;border-radius:4px;padding:0 5px;color:#10243e}
</style>
"""


def colours(types: Sequence[str]) -> dict[str, str]:
    """{entity type: colour} in the order of the checkpoint's labels."""
    return {tag: PALETTE[i % len(PALETTE)] for i, tag in enumerate(types)}


def _fill(colour: str) -> str:
    return f"background:{colour}40;border-color:{colour}"  # 25% tint, full-colour border


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


def chips_html(token_labels: Sequence[TokenLabel], palette: dict[str, str]) -> str:
    """Each token with its label and probability; coloured by entity type, "O" muted."""
    chips = []
    for token in token_labels:
        tag = split_tag(token.label)[1]
        style, kind = "", "tx-ner-chip"
        if token.special:
            kind += " tx-ner-special"
        elif token.label in IGNORED_LABELS or tag not in palette:
            kind += " tx-ner-o"
        else:
            style = f' style="{_fill(palette[tag])}"'
        where = f"characters {token.start}–{token.end}" if token.start is not None else "no character span"
        title = f"position {token.position} · {where} · {token.label} {token.probability:.3f}"
        if token.special:
            title += " · special token: the pipeline skips it"
        chips.append(
            f'<span class="{kind}"{style} title="{html.escape(title, quote=True)}">'
            f'<span class="tx-ner-tok">{visible(token.token)}</span>'
            f'<span class="tx-ner-label">{visible(token.label)} {token.probability:.2f}</span></span>'
        )
    return _STYLE + f'<div class="tx-ner-chips" data-testid="ner-chips">{"".join(chips)}</div>'


def highlight_html(sentence: str, entities: Sequence[Entity], palette: dict[str, str], shown_end: int) -> str:
    """The sentence with each entity's characters marked in its type's colour and its label
    after it; characters past ``shown_end`` (cut by truncation) are left out, said so."""
    parts, cursor = [], 0
    for entity in sorted(
        (e for e in entities if e.start is not None and e.end is not None), key=lambda e: e.start
    ):
        start, end = int(entity.start), int(entity.end)
        if start < cursor or end <= start:  # overlaps one already marked (e.g. bytes of one emoji)
            continue
        tag = split_tag(entity.label)[1]
        colour = palette.get(tag, MUTED)
        parts.append(visible(sentence[cursor:start]))
        parts.append(
            f'<mark style="{_fill(colour)}" title="{html.escape(f"{entity.label} {entity.score:.3f}")}">'
            f"{visible(sentence[start:end])}"
            f'<span class="tx-ner-tag">{visible(entity.label)}</span></mark>'
        )
        cursor = end
    parts.append(visible(sentence[cursor:shown_end]))
    if shown_end < len(sentence):
        parts.append(f" <em>… {len(sentence) - shown_end:,} more characters cut by truncation</em>")
    return _STYLE + f'<div class="tx-ner-text" data-testid="ner-highlight">{"".join(parts)}</div>'


def legend_html(palette: dict[str, str]) -> str:
    items = "".join(f'<span style="{_fill(colour)}">{visible(tag)}</span>' for tag, colour in palette.items())
    muted = '<span style="background:#f3f5f7;border-color:#c5ccd3;color:#6b7785">O: outside any entity</span>'
    return _STYLE + f'<div class="tx-ner-legend" data-testid="ner-legend">{items}{muted}</div>'


# --- The View --------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SentenceSection:
    """One sentence: its tokens' labels, its entities and where they are."""

    title: str  # "**Sentence 0**"
    tokens: tuple[TokenLabel, ...]  # [n] its real tokens (specials included), in order
    chips_html: str
    entities: tuple[Entity, ...]  # what the pipeline returns for it, with the strategy in use
    entities_table: Table | None  # None when there is no entity
    highlight_html: str | None  # None when the tokenizer gives no character offsets
    notes: tuple[Note, ...]


@dataclass(frozen=True, kw_only=True)
class View:
    """Step ③ for a token classifier."""

    strategy: str  # the aggregation_strategy in use
    intro: Note
    strategy_note: Note
    legend_html: str
    sentences: tuple[SentenceSection, ...]
    check: Note  # the largest difference from the pipeline's output
    check_table: Table | None  # where the entities differ from the pipeline's, if they do
    largest_difference: float | None  # None when the entities differ or the pipeline did not run
    notes: tuple[Note, ...]


def parse_strategy(text: str, fast: bool) -> tuple[str, tuple[Note, ...]]:
    """The strategy to use and what was done with a bad one: an unknown name, or a word strategy
    with a slow tokenizer (which the pipeline refuses), becomes "simple"."""
    strategy = (text or "").strip().lower()
    if strategy not in STRATEGIES:
        shown = strategy[:30].replace("`", "'")
        return "simple", (
            Note(
                "warning",
                f"`{shown}` is not an aggregation strategy ({', '.join(STRATEGIES)}): using simple.",
            ),
        )
    if strategy in WORD_STRATEGIES and not fast:
        return "simple", (
            Note(
                "warning",
                f"The {strategy} strategy works on words, which need a fast tokenizer's character offsets; "
                f"this tokenizer is a slow one (the pipeline refuses it too): using simple.",
            ),
        )
    return strategy, ()


def _label_list(labels: Sequence[str], most: int = 20) -> str:
    shown = ", ".join(f"`{label}`" for label in labels[:most])
    return shown + (f" and {len(labels) - most} more" if len(labels) > most else "")


def _intro(loaded: Any, run: Any, labels: Sequence[str], special: Sequence[str]) -> Note:
    B, S, K = run.token_logits.shape
    prefixed = any(label.startswith(("B-", "I-")) for label in labels)
    outside = " `O` is outside any entity." if "O" in labels else ""
    scheme = (
        "A `B-` label begins an entity, `I-` continues one." + outside
        if prefixed
        else "These labels have no `B-`/`I-` prefixes: as the pipeline reads them, adjacent tokens with "
        "the same label continue one entity."
    )
    specials = ", ".join(f"`{token}`" for token in special) or "none in this batch"
    return Note(
        "markdown",
        f"`{loaded.model_class}` returned `logits` of shape [{B}, {S}, {K}]: one logit per label for every "
        f"token. A softmax over the {K} labels of `config.id2label` "
        f"({_label_list(labels)}) gives each token's probabilities; its label is "
        f"the most probable one. {scheme} Special tokens ({specials}) get labels too, but the pipeline "
        "skips them." + _causal_note(loaded),
    )


def _causal_note(loaded: Any) -> str:
    """For a decoder body (GPT-2, Llama… under a token-classification head): what a token's label
    can depend on. A model type with a causal-LM head and no masked-LM head is a decoder."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    kind = getattr(loaded.config, "model_type", "")
    if kind in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and kind not in MODEL_FOR_MASKED_LM_MAPPING_NAMES:
        return (
            f" `{loaded.model_class}` is a decoder: each token's label comes from that token and the ones "
            "before it only, never from the words after it."
        )
    return ""


def _how_words(loaded: Any) -> str:
    prefix = None
    backend = getattr(loaded.tokenizer, "_tokenizer", None)
    if backend is not None:
        prefix = getattr(backend.model, "continuing_subword_prefix", None)
    if prefix:
        return (
            f"This tokenizer marks a word's later pieces with `{prefix}`: a token whose text is longer than "
            "its characters in the sentence continues the word before it."
        )
    return (
        "This tokenizer does not mark a word's later pieces, so the pipeline falls back on a heuristic: a "
        "token continues the word before it when no space comes just before it (punctuation stuck to a "
        "word joins that word)."
    )


def _strategy_note(loaded: Any, strategy: str) -> Note:
    texts = {
        "none": "**none**: one entry per token with its own label and probability; `O` tokens are left out "
        "and nothing is merged.",
        "simple": "**simple**: adjacent tokens join one entity when they have the same entity type and the "
        "later one is not `B-`; the entity's score is the mean of its tokens' probabilities, `O` left out.",
        "first": "**first**: tokens are merged into words first; each word takes the label and probability "
        "of its first token. Then words group as in simple.",
        "average": "**average**: tokens are merged into words first; each word's probabilities are averaged "
        "over its tokens and the best label wins. Then words group as in simple.",
        "max": "**max**: tokens are merged into words first; each word takes the label of its token with the "
        "highest probability. Then words group as in simple.",
    }
    text = f'`aggregation_strategy="{strategy}"`: ' + texts[strategy]
    if strategy in WORD_STRATEGIES:
        text += " " + _how_words(loaded)
    return Note("info", text)


def _row(entity: Entity, strategy: str) -> dict[str, Any]:
    key = "entity" if strategy == "none" else "entity_group"
    row: dict[str, Any] = {key: entity.label, "score": round(entity.score, 4), "word": entity.word}
    row.update(start=entity.start, end=entity.end)
    if strategy == "none":
        row["index"] = entity.index
    return row


def _sentence(
    loaded: Any, encoding: Any, probabilities: np.ndarray, b: int, strategy: str, palette: dict[str, str]
) -> SentenceSection:
    """Sentence ``b``: probabilities [S, K] of its row."""
    labels = postprocess.label_names(loaded.config, probabilities.shape[-1])
    mask = np.asarray(encoding.attention_mask[b])  # [S]
    special = np.asarray(encoding.special_tokens_mask[b])  # [S]
    offsets = encoding.offsets[b] if encoding.offsets is not None else None  # [S, 2]
    sentence = encoding.sentences[b]
    real = np.flatnonzero(mask)  # [n]
    skipped = ((mask == 0) | (special == 1)).astype(np.int64)  # [S]
    first = int(real[0]) if len(real) else 0
    pre = gather(
        sentence,
        encoding.tokens[b],
        encoding.input_ids[b],
        probabilities,
        offsets,
        skipped,
        unk_id=loaded.tokenizer.unk_token_id,
        word_aware=marks_subwords(loaded.tokenizer),
        first_column=first,
    )
    entities = tuple(aggregate(pre, strategy, labels, loaded.tokenizer.convert_tokens_to_string))
    best = probabilities.argmax(axis=-1)  # [S]
    token_labels = tuple(
        TokenLabel(
            position=int(s),
            token=encoding.tokens[b][s],
            label=labels[int(best[s])],
            probability=float(probabilities[s, best[s]]),
            special=bool(special[s]),
            start=int(offsets[s, 0]) if offsets is not None and not special[s] else None,
            end=int(offsets[s, 1]) if offsets is not None and not special[s] else None,
        )
        for s in real
    )
    notes = []
    if not pre:
        notes.append(
            Note("info", "No token here for the pipeline to label: this sentence holds only special tokens.")
        )
    elif not entities:
        notes.append(Note("caption", "No entity: every token's label is `O` (outside any entity)."))
    specials = set(loaded.tokenizer.all_special_tokens)
    typed = sorted({t.token for t in token_labels if not t.special and t.token in specials})
    if typed:
        notes.append(
            Note(
                "caption",
                f"Typed in the text, {', '.join(f'`{token}`' for token in typed)} became that special token; "
                "the tokenizer does not flag it as special there, so the pipeline labels it like a word.",
            )
        )
    if encoding.truncated[b]:
        notes.append(
            Note(
                "warning",
                f"Truncation cut {encoding.truncated[b]:,} token(s) of this sentence: labels cover only the "
                "tokens kept.",
            )
        )
    highlight = None
    if offsets is not None:
        kept_end = max((int(offsets[s, 1]) for s in real if not special[s]), default=0)
        shown_end = len(sentence) if not encoding.truncated[b] else kept_end
        highlight = highlight_html(sentence, entities, palette, shown_end)
    else:
        notes.append(
            Note(
                "caption", "This tokenizer gives no character offsets: entities cannot be placed in the text."
            )
        )
    return SentenceSection(
        title=f"**Sentence {b}**",
        tokens=token_labels,
        chips_html=chips_html(token_labels, palette),
        entities=entities,
        entities_table=table([_row(e, strategy) for e in entities]) if entities else None,
        highlight_html=highlight,
        notes=tuple(notes),
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


def _check(loaded: Any, encoding: Any, strategy: str, ours: Sequence[Sequence[Entity]]) -> tuple:
    """(Note, Table | None, largest difference | None) against transformers' own pipeline."""
    call = f'`pipeline("token-classification", aggregation_strategy="{strategy}")`'
    try:
        theirs = pipeline_entities(loaded, tuple(encoding.sentences), strategy)  # [B] lists of dicts
    except Exception as error:  # the library refuses this checkpoint: say so, do not hide it
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        return (
            Note("warning", f"{call} could not run on this checkpoint ({reason}): nothing to compare."),
            None,
            None,
        )
    largest, differ = compare(ours, theirs)
    count = sum(len(entities) for entities in ours)
    if largest is None:
        cut = any(encoding.truncated)
        return (
            Note(
                "warning",
                f"The entities differ from {call}'s in {len(differ)} place(s) (below)"
                + (
                    ": a sentence was truncated, and the pipeline truncates at the tokenizer's own limit."
                    if cut
                    else "."
                ),
            ),
            table(differ),
            None,
        )
    verdict = (
        f"the same (within {CHECK_TOLERANCE:.0e})"
        if largest <= CHECK_TOLERANCE
        else f"more than {CHECK_TOLERANCE:.0e}: not the same"
    )
    return (
        Note(
            "success" if largest <= CHECK_TOLERANCE else "warning",
            f"Checked against {call} on the same model, each sentence run alone: the same {count} "
            f"entit{'y' if count == 1 else 'ies'} (word, start, end, label) in {len(ours)} sentence(s); "
            f"largest score difference {largest:.1e}: {verdict}.",
        ),
        None,
        largest,
    )


def build(loaded: Any, encoding: Any, run: Any, inputs: TaskInputs) -> View:
    """Step ③ for a token classifier: labels per token, then entities with the strategy chosen."""
    fast = bool(getattr(loaded.tokenizer, "is_fast", False)) and encoding.offsets is not None
    strategy, notes = parse_strategy(inputs.aggregation, fast)
    logits = run.token_logits  # [B, S, K]
    probabilities = postprocess.apply("softmax", logits)  # [B, S, K] float64
    labels = postprocess.label_names(loaded.config, logits.shape[-1])
    palette = colours(entity_types(labels))
    special = sorted(
        {
            token
            for b, row in enumerate(encoding.tokens)
            for s, token in enumerate(row)
            if encoding.special_tokens_mask[b, s] and encoding.attention_mask[b, s]
        }
    )
    sections = tuple(
        _sentence(loaded, encoding, probabilities[b], b, strategy, palette) for b in range(logits.shape[0])
    )
    if encoding.pairs is not None:
        check, check_table, largest = (
            Note("info", "The pipeline reads single sentences, not pairs: no check for sentence pairs."),
            None,
            None,
        )
    else:
        check, check_table, largest = _check(loaded, encoding, strategy, [s.entities for s in sections])
    return View(
        strategy=strategy,
        intro=_intro(loaded, run, labels, special),
        strategy_note=_strategy_note(loaded, strategy),
        legend_html=legend_html(palette),
        sentences=sections,
        check=check,
        check_table=check_table,
        largest_difference=largest,
        notes=notes,
    )

"""Step ③ of the Pipeline page for a token classifier (NER): what
:mod:`explorer.pipeline.tasks.token_classification` computes, said and drawn (token chips, the
sentence with its entities marked, tables, the check against transformers' pipeline)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from explorer.drawing.render import visible
from explorer.pipeline.tasks import TaskInputs
from explorer.pipeline.tasks import token_classification as tc
from explorer.pipeline.tasks.token_classification import (
    CHECK_TOLERANCE,
    IGNORED_LABELS,
    STRATEGIES,
    WORD_STRATEGIES,
    Entity,
    TokenLabel,
    split_tag,
)
from explorer.pipeline.token_display import shown_tokens
from explorer.views.common import Note, Table, table

# Okabe & Ito's palette: told apart with every common colour-vision deficiency. One per entity type.
PALETTE = ("#E69F00", "#56B4E9", "#009E73", "#CC79A7", "#0072B2", "#D55E00", "#F0E442", "#999933")
MUTED = "#c5ccd3"  # "O" and special tokens

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


def chips_html(
    token_labels: Sequence[TokenLabel], palette: dict[str, str], shown: Sequence[str] | None = None
) -> str:
    """Each token with its label and probability; coloured by entity type, "O" muted. ``shown``:
    the tokens as the screen shows them (token_display), the raw piece then in the title."""
    chips = []
    for i, token in enumerate(token_labels):
        text = shown[i] if shown is not None else token.token
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
        if text != token.token:
            title += f" · raw piece {token.token}"
        chips.append(
            f'<span class="{kind}"{style} title="{html.escape(title, quote=True)}">'
            f'<span class="tx-ner-tok">{visible(text)}</span>'
            f'<span class="tx-ner-label">{visible(token.label)} {token.probability:.2f}</span></span>'
        )
    return _STYLE + f'<div class="tx-ner-chips" data-testid="ner-chips">{"".join(chips)}</div>'


def highlight_html(sentence: str, entities: Sequence[Entity], palette: dict[str, str], shown_end: int) -> str:
    """The sentence with each entity's characters marked in its type's colour and its label
    after it; characters past ``shown_end`` (cut by truncation) are left out, said so."""
    parts, cursor = [], 0
    placed = [(e.start, e.end, e) for e in entities if e.start is not None and e.end is not None]
    for start, end, entity in sorted(placed, key=lambda item: item[0]):  # by start, stable
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
    strategy, why = tc.choose_strategy(text, fast)
    typed = (text or "").strip().lower()
    if why == "unknown":
        shown = typed[:30].replace("`", "'")
        return strategy, (
            Note(
                "warning",
                f"`{shown}` is not an aggregation strategy ({', '.join(STRATEGIES)}): using simple.",
            ),
        )
    if why == "slow":
        return strategy, (
            Note(
                "warning",
                f"The {typed} strategy works on words, which need a fast tokenizer's character offsets; "
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
    can depend on."""
    if tc.is_decoder_body(loaded):
        return (
            f" `{loaded.model_class}` is a decoder: each token's label comes from that token and the ones "
            "before it only, never from the words after it."
        )
    return ""


def _how_words(loaded: Any) -> str:
    prefix = tc.subword_prefix(loaded.tokenizer)
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


_STRATEGY_TEXTS = {
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


def _strategy_note(loaded: Any, strategy: str) -> Note:
    text = f'`aggregation_strategy="{strategy}"`: ' + _STRATEGY_TEXTS[strategy]
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


def _sentence_notes(found: tc.SentenceLabels) -> list[Note]:
    """What to know about one sentence's labels: nothing to label, no entity, special tokens typed,
    truncation, no character offsets."""
    notes = []
    if not found.read:
        notes.append(
            Note("info", "No token here for the pipeline to label: this sentence holds only special tokens.")
        )
    elif not found.entities:
        notes.append(Note("caption", "No entity: every token's label is `O` (outside any entity)."))
    if found.typed_specials:
        notes.append(
            Note(
                "caption",
                f"Typed in the text, {', '.join(f'`{token}`' for token in found.typed_specials)} became that "
                "special token; the tokenizer does not flag it as special there, so the pipeline labels it "
                "like a word.",
            )
        )
    if found.truncated:
        notes.append(
            Note(
                "warning",
                f"Truncation cut {found.truncated:,} token(s) of this sentence: labels cover only the "
                "tokens kept.",
            )
        )
    if found.shown_end is None:
        notes.append(
            Note(
                "caption", "This tokenizer gives no character offsets: entities cannot be placed in the text."
            )
        )
    return notes


def _sentence(
    sentence: str, b: int, found: tc.SentenceLabels, strategy: str, palette: dict[str, str], scheme: Any
) -> SentenceSection:
    """Sentence ``b`` drawn: chips, the sentence with its entities marked, their table, notes."""
    return SentenceSection(
        title=f"**Sentence {b}**",
        tokens=found.tokens,
        chips_html=chips_html(found.tokens, palette, shown_tokens(scheme, [t.token for t in found.tokens])),
        entities=found.entities,
        entities_table=table([_row(e, strategy) for e in found.entities]) if found.entities else None,
        highlight_html=(
            highlight_html(sentence, found.entities, palette, found.shown_end)
            if found.shown_end is not None
            else None
        ),
        notes=tuple(_sentence_notes(found)),
    )


def _check(
    loaded: Any, encoding: Any, strategy: str, ours: Sequence[Sequence[Entity]]
) -> tuple[Note, Table | None, float | None]:
    """(Note, Table | None, largest difference | None) against transformers' own pipeline."""
    call = f'`pipeline("token-classification", aggregation_strategy="{strategy}")`'
    found = tc.check(loaded, encoding, strategy, ours)
    if found.error is not None:
        return (
            Note("warning", f"{call} could not run on this checkpoint ({found.error}): nothing to compare."),
            None,
            None,
        )
    largest, differ = found.largest, list(found.differ)
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


_NO_PAIRS_CHECK = Note("info", "The pipeline reads single sentences, not pairs: no check for sentence pairs.")


def build(loaded: Any, encoding: Any, run: Any, inputs: TaskInputs) -> View:
    """Step ③ for a token classifier: labels per token, then entities with the strategy chosen."""
    fast = bool(getattr(loaded.tokenizer, "is_fast", False)) and encoding.offsets is not None
    strategy, notes = parse_strategy(inputs.aggregation, fast)
    found = tc.label_tokens(loaded, encoding, run, strategy)
    palette = colours(tc.entity_types(found.labels))
    sections = tuple(
        _sentence(encoding.sentences[b], b, sentence, strategy, palette, encoding.scheme)
        for b, sentence in enumerate(found.sentences)
    )
    if encoding.pairs is not None:
        check, check_table, largest = _NO_PAIRS_CHECK, None, None
    else:
        check, check_table, largest = _check(loaded, encoding, strategy, [s.entities for s in sections])
    return View(
        strategy=strategy,
        intro=_intro(loaded, run, found.labels, found.specials),
        strategy_note=_strategy_note(loaded, strategy),
        legend_html=legend_html(palette),
        sentences=sections,
        check=check,
        check_table=check_table,
        largest_difference=largest,
        notes=notes,
    )

"""Guided lessons for a class: steps through the pipeline, each opening a page with preset text and
settings, and an explanation computed from what that page shows for the checkpoint in use (never
generic text that could contradict the model). Pure functions; explorer.ui draws them."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from explorer.errors import ExplorerError
from explorer.explain.tokenizer_lab import subword_scheme
from explorer.pipeline import checkpoints, tasks
from explorer.pipeline.encoding import Encoding, encode_batch
from explorer.pipeline.loading import LoadedCheckpoint
from explorer.pipeline.postprocess import classify
from explorer.pipeline.run import ModelRun
from explorer.views import attention as attention_view
from explorer.views import attribution as attribution_view
from explorer.views import classification as classification_view
from explorer.views import layer as layer_view
from explorer.views import model as model_view
from explorer.views import pipeline as pipeline_view
from explorer.views import tokenizer as tokenizer_view
from explorer.words import count

CLASSIFIER = checkpoints.CLASSIFIER  # built by `make models` (explorer.training.finetune)


@dataclass(frozen=True)
class Labelled:
    """A lesson sentence and what it means (its known label), declared once, together."""

    text: str
    label: str  # e.g. "POSITIVE": what a reader says, not what a model predicts


FILM = Labelled(attribution_view.LESSON_SENTENCE, "POSITIVE")  # "The film was not bad at all."
SERVICE = Labelled("The service could have been better.", "NEGATIVE")


@dataclass(frozen=True, kw_only=True)
class Facts:
    """What the page shows, for an explanation to describe."""

    loaded: LoadedCheckpoint
    encoding: Encoding
    run: ModelRun  # with hidden states / attentions when the step asks for them
    settings: Any = None  # the page's Settings as the student has them now
    # The page's own cached comparison of the attention mask's effect (explorer.ui passes it, so
    # the banner and the page share one computation); None: the explanation computes it.
    mask_effect: Callable[[], Any] | None = None
    known: tuple[Labelled, ...] = ()  # the step's sentences with a known label

    def known_label(self, b: int) -> str | None:
        """The known label of sentence ``b`` of the batch (None: the student's own sentence)."""
        text = self.encoding.sentences[b].strip()
        return next((k.label for k in self.known if k.text == text), None)


@dataclass(frozen=True, kw_only=True)
class LessonStep:
    title: str
    page: str  # page file, e.g. "pages/tokenizer.py"
    text: str = ""  # preset text box ("": the ``known`` sentences, one per line)
    ref: str  # preset checkpoint
    explain: Callable[[Facts], str]
    question: str
    settings: Any = None  # the page's Settings the step opens with (None: leave them as they are)
    # The settings computed from what the model does on the step's text (e.g. the head it found),
    # from the facts and ``settings``; None: ``settings`` as declared.
    opens: Callable[[Facts, Any], Any] | None = None
    known: tuple[Labelled, ...] = ()  # sentences of ``text`` whose label is known

    def __post_init__(self) -> None:
        if not self.text:
            object.__setattr__(self, "text", "\n".join(k.text for k in self.known))

    # What the explanation reads from the run; the same as its page asks for, so that both share
    # one cached run instead of evicting each other.
    hidden_states: bool = False
    attentions: bool = False


T = TypeVar("T")


def _kept(value: T | None, name: str) -> T:
    """What the run kept for this step (its ``name``); ExplorerError, said on the banner, when the
    run did not keep it."""
    if value is None:
        raise ExplorerError(f"this step needs the run's {name}, which this run did not keep")
    return value


def _word_ids(tokenizer: Any, encoding: Encoding, b: int) -> list[tuple[int, int] | None] | None:
    """[T] (segment, word id) of each real token of sentence ``b``, from the tokenizer's own word ids
    (what its pre-tokenizer calls a word), or None when the tokenizer cannot say (a slow tokenizer,
    or ids that do not line up with the batch)."""
    pair = encoding.pairs[b] if encoding.pairs else None
    real = encoding.input_ids[b][encoding.attention_mask[b].astype(bool)].tolist()  # [T]
    limits: list[dict[str, Any]] = (
        [{"truncation": "longest_first", "max_length": encoding.max_length}] if encoding.max_length else []
    )
    for options in [*limits, {"truncation": False}]:  # each a dict of tokenizer(...) arguments
        try:
            one = tokenizer(encoding.sentences[b], pair, **options)
            ids, segments = one.word_ids(), one.sequence_ids()
        except (ValueError, TypeError, AttributeError, NotImplementedError):
            return None
        if list(one["input_ids"]) == real:
            return [None if w is None else (s or 0, w) for w, s in zip(ids, segments, strict=True)]
    return None


def _words_from_offsets(encoding: Encoding, b: int) -> list[list[str]] | None:
    """Real tokens whose character spans touch (no space between) as one word; None without offsets."""
    if encoding.offsets is None or encoding.pairs:
        return None
    text = encoding.sentences[b]
    grouped: list[list[str]] = []
    end = None  # where the previous real, non-special token ended
    for s, token in enumerate(encoding.tokens[b]):
        if encoding.special_tokens_mask[b, s] or not encoding.attention_mask[b, s]:
            end = None
            continue
        start, stop = (int(x) for x in encoding.offsets[b, s])
        touches = end is not None and start == end and not text[start : start + 1].isspace()
        if touches and grouped:
            grouped[-1].append(token)
        else:
            grouped.append([token])
        end = stop
    return grouped


def words(tokenizer: Any, encoding: Encoding, b: int) -> list[list[str]]:
    """The real, non-special tokens of sentence ``b`` grouped into words, for every tokenizer family
    (WordPiece's `##`, byte-level BPE's `Ġ`, SentencePiece's `▁`): by the tokenizer's own word ids;
    else by offsets (tokens whose character spans touch are one word); else (a slow tokenizer) by
    the markers its tokens carry."""
    ids = _word_ids(tokenizer, encoding, b)
    if ids is not None:
        grouped: list[list[str]] = []
        previous = None
        real = [s for s in range(encoding.shape[1]) if encoding.attention_mask[b, s]]  # [T]
        for s, word in zip(real, ids, strict=True):
            if word is None or encoding.special_tokens_mask[b, s]:
                previous = None
                continue
            if word == previous and grouped:
                grouped[-1].append(encoding.tokens[b][s])
            else:
                grouped.append([encoding.tokens[b][s]])
            previous = word
        return grouped
    from_offsets = _words_from_offsets(encoding, b)
    if from_offsets is not None:
        return from_offsets
    grouped = []
    starts_marked = any(t.startswith(("Ġ", "▁")) for t in encoding.tokens[b])  # else WordPiece's ##
    for s, token in enumerate(encoding.tokens[b]):
        if encoding.special_tokens_mask[b, s] or not encoding.attention_mask[b, s]:
            continue
        continues = not token.startswith(("Ġ", "▁")) if starts_marked else token.startswith("##")
        if continues and grouped:
            grouped[-1].append(token)
        else:
            grouped.append([token])
    return grouped


_MARKERS = {
    "##": "a piece marked `##` continues the word before it",
    "Ġ": "a piece that starts with `Ġ` (a space) begins a word; the pieces after it without `Ġ` continue it",
    "▁": "a piece that starts with `▁` begins a word; the pieces after it without `▁` continue it",
}


def explain_tokens(facts: Facts) -> str:
    e = facts.encoding
    n = int(e.lengths[0])
    split = [w for w in words(facts.loaded.batch_tokenizer, e, 0) if len(w) > 1]
    shown = "; ".join(" + ".join(w) for w in split[:3])
    text = f"{facts.loaded.resolved.label} cut the sentence into **{n} tokens** (special tokens included). "
    if split:
        marker = subword_scheme(facts.loaded.tokenizer).marker
        how = _MARKERS.get(marker or "", "the pieces of a word follow each other")
        text += f"Words it does not know whole are split into pieces; {how}: {shown}."
    else:
        text += "Every word here is in its vocabulary whole, so nothing was split."
    return text


def explain_ids(facts: Facts) -> str:
    e, tokenizer = facts.encoding, facts.loaded.tokenizer
    real = [
        (t, int(i))
        for t, i, m, sp in zip(
            e.tokens[0], e.input_ids[0], e.attention_mask[0], e.special_tokens_mask[0], strict=True
        )
        if m and not sp
    ]
    specials = [
        (t, int(i))
        for t, i, m, sp in zip(
            e.tokens[0], e.input_ids[0], e.attention_mask[0], e.special_tokens_mask[0], strict=True
        )
        if m and sp
    ]
    examples = ", ".join(f"`{e.show([t])[0]}` is {i}" for t, i in real[:3])
    added = ", ".join(f"`{t}` ({i})" for t, i in specials) or "none"
    return (
        f"Each token is looked up in a vocabulary of **{len(tokenizer):,}** entries: {examples}. "
        f"The tokenizer also adds special tokens: {added}. The model never sees the text, only these numbers."
    )


def _as_the_page_encodes(facts: Facts) -> Encoding:
    """The batch as the Tokenizer lab encodes it with the student's current settings (padding,
    side, max_length, truncation, pairs); the banner's own batch is the default padded one."""
    settings, e, loaded = facts.settings, facts.encoding, facts.loaded
    if not isinstance(settings, tokenizer_view.Settings):
        return e
    lines = tuple(line for line in settings.pairs.split("\n") if line.strip())
    pairs = lines if lines and len(lines) == len(e.sentences) else None
    try:
        return encode_batch(
            loaded.batch_tokenizer,
            e.sentences,
            pairs,
            padding=settings.padding,
            truncation=settings.truncation,
            max_length=settings.max_length or loaded.max_tokens,
            padding_side=settings.side,
        )
    except ExplorerError:
        return e


def explain_padding(facts: Facts) -> str:
    """What padding did to the batch the page shows now (its padding, side and max_length)."""
    e = _as_the_page_encodes(facts)
    lengths = [int(n) for n in e.lengths]
    B, S = e.shape
    counts = " and ".join(str(n) for n in lengths)
    have = f"The sentences have {counts} tokens" if B > 1 else f"The sentence has {counts} tokens"
    if not e.padded:
        stack = (
            "so rows of different lengths cannot be stacked into one rectangular tensor (the model would "
            "need one sentence at a time, or padding)"
            if len(set(lengths)) > 1
            else "here the rows happen to have the same length, so they still stack"
        )
        return (
            f"{have}. With `padding='do_not_pad'` the tokenizer adds **no padding**: each row keeps its own "
            f"length, {stack}. Every attention-mask entry is 1: there is nothing to hide."
        )
    padding = getattr(facts.settings, "padding", "longest")
    how = (
        f"padded to max_length = {e.max_length}"
        if padding == "max_length"
        else "padded to the longest sentence"
    )
    cut = [(b, n) for b, n in enumerate(e.truncated) if n]
    if cut:
        have += " after truncation (" + ", ".join(f"sentence {b} lost {n}" for b, n in cut) + ")"
    pads = [S - n for n in lengths]
    token = f"`{e.pad_token}` (ID {e.pad_token_id})"
    if not any(pads):
        return (
            f"{have}: the batch is already one tensor of shape **[{B}, {S}]**, so no padding token was "
            f"needed ({how}). Its attention mask is all 1s."
        )
    short = int(np.argmin(lengths))
    where = (
        "on the **left**, before the real tokens"
        if e.padding_side == "left"
        else "on the **right**, after the real tokens"
    )
    others = sum(1 for p in pads if p) - 1
    also = f" ({count(others, 'other sentence')} padded too)" if others > 0 else ""
    return (
        f"{have}. To stack them into one tensor of shape **[{B}, {S}]** ({how}), sentence {short} gets "
        f"**{pads[short]}** padding token(s) {token} {where}{also}. Its attention mask is 1 for its "
        f"{lengths[short]} real tokens and 0 for the padding: attention gives the padding positions a weight "
        "of 0, so no token reads them. The padding positions still go through every layer and get vectors "
        "of their own in the output; only the mask keeps them out of the real tokens' attention."
    )


def explain_mask_effect(facts: Facts) -> str:
    """The course's argument for the mask, from the page's own comparison (explorer.explain.compare)."""
    from explorer.explain.compare import mask_effect

    try:
        effect = (
            facts.mask_effect() if facts.mask_effect else mask_effect(facts.loaded, facts.encoding.sentences)
        )
    except ExplorerError as problem:
        return f"This step compares a sentence alone and padded; here it cannot: {problem}"
    alone, masked, unmasked = effect.cases
    what = "logits" if effect.output == "logits" else "last hidden states"
    text = (
        f"The page runs “{effect.sentence[:60]}” alone, then padded with **{effect.padding}** `"
        f"{facts.loaded.batch_tokenizer.pad_token}` token(s) on the {effect.padding_side} beside a longer "
        f"sentence. With its attention mask, its {what} differ from the sentence alone by at most "
        f"**{masked.difference:.1e}**; with a mask of ones (no mask), by **{unmasked.difference:.2g}**. "
    )
    if effect.labels is not None:
        before = effect.labels[int(np.argmax(alone.values))]
        after = effect.labels[int(np.argmax(unmasked.values))]
        if before != after:
            text += f"Without the mask the predicted label even changes, from {before} to {after}. "
    return text + (
        "The mask is what lets sentences of different lengths share one batch: it keeps every real "
        "token's attention off the padding."
    )


def explain_one_layer(facts: Facts) -> str:
    """One whole layer from the model's own weights (explorer.explain.layer), as the page opens it."""
    from explorer.explain.layer import layer_steps

    hidden = _kept(facts.run.hidden_states, "hidden states")  # [L + 1, B, S, D]
    L = hidden.shape[0] - 1
    layer = getattr(facts.settings, "layer", 1)
    layer = layer if 1 <= layer <= L else 1
    try:
        walk = layer_steps(facts.loaded, facts.run, facts.encoding, layer=layer, sentence=0)
    except ExplorerError as problem:
        return f"This step walks through one layer; for this model it cannot: {problem}"
    verdict = "the same numbers" if walk.same else "not the same numbers"
    return (
        f"Layer {layer} of {L} is **{len(walk.steps)} operations** on the sentence's {walk.output.shape[0]} "
        f"vectors of {walk.output.shape[1]} numbers, from `hidden_states[{layer - 1}]` to `{walk.reference_name}`. "
        f"Done by hand with the model's weights, the result differs from the model's own by at most "
        f"**{walk.max_abs_difference:.1e}**: {verdict}."
    )


def explain_output(facts: Facts) -> str:
    hidden = _kept(facts.run.hidden_states, "hidden states")  # [L + 1, B, S, D]
    L1, B, S, D = hidden.shape
    return (
        f"`{facts.loaded.model_class}` returned **{L1}** hidden-state tensors (the embeddings, then each of its "
        f"{L1 - 1} layers), each of shape **[{B}, {S}, {D}]**: one vector of {D} numbers per token. The last "
        f"layer alone holds {B * S * D:,} numbers for your batch."
    )


def explain_layers(facts: Facts) -> str:
    e, hidden = facts.encoding, _kept(facts.run.hidden_states, "hidden states")  # [L + 1, B, S, D]
    real = e.attention_mask[0].astype(bool) & ~e.special_tokens_mask[0].astype(bool)
    vectors = hidden[:, 0][:, real]  # [L + 1, T, D]
    unit = vectors / np.linalg.norm(vectors, axis=-1, keepdims=True).clip(min=1e-12)
    change = (unit[1:] * unit[:-1]).sum(-1)  # [L, T]
    tokens = [t for t, keep in zip(e.tokens[0], real, strict=True) if keep]
    layer_mean = change.mean(axis=1)
    most = int(np.argmin(layer_mean)) + 1
    token_most = int(np.argmin(change.min(axis=0)))
    return (
        f"On average, **layer {most}** turns the vectors most (mean cosine similarity with the layer before: "
        f"{layer_mean[most - 1]:.2f}; 1 would mean unchanged). The token changed most in any single layer is "
        f"`{e.show([tokens[token_most]])[0]}`."
    )


def _position(tokens: tuple[str, ...], word: str) -> int | None:
    for p, token in enumerate(tokens):
        if token.lstrip("Ġ▁").lower() == word:
            return p
    return None


def _it_animal_head(facts: Facts) -> tuple[int, int, float] | None:
    """(layer from 1, head from 0, weight): the head where `it` attends most to `animal` in the
    first sentence; None when the sentence lacks either word."""
    e, attentions = facts.encoding, _kept(facts.run.attentions, "attentions")  # [L, B, H, S, S]
    it, animal = _position(e.tokens[0], "it"), _position(e.tokens[0], "animal")
    if it is None or animal is None:
        return None
    weights = attentions[:, 0, :, it, animal]  # [L, H]: index l - 1 is layer l
    index, head = np.unravel_index(int(np.argmax(weights)), weights.shape)
    return int(index) + 1, int(head), float(weights[index, head])


def open_attention_head(facts: Facts, settings: Any) -> Any:
    """The Attention page's settings on the head the explanation names (for the checkpoint in use)."""
    found = _it_animal_head(facts)
    return settings if found is None else dataclasses.replace(settings, layer=found[0], head=found[1])


def explain_attention(facts: Facts) -> str:
    e, attentions = facts.encoding, _kept(facts.run.attentions, "attentions")  # [L, B, H, S, S]
    tokens = e.tokens[0]
    it = _position(tokens, "it")
    found = _it_animal_head(facts)
    if it is None or found is None:
        return "This explanation needs the words 'it' and 'animal' in the first sentence; restart the step."
    layer, head, weight = found
    opened = getattr(facts.settings, "layer", layer), getattr(facts.settings, "head", head)  # as shown now
    layer_now, head_now = opened if 1 <= opened[0] <= attentions.shape[0] else (layer, head)
    head_now = head_now if 0 <= head_now < attentions.shape[2] else head
    shown = attentions[layer_now - 1, 0, head_now, it]  # [S]
    top = int(np.argmax(shown))
    return (
        f"On layer {layer_now}, head {head_now} (layers count from 1, heads from 0), `it` looks most at "
        f"`{e.shown[0][top]}` ({shown[top]:.0%} of its attention). Across all {attentions.shape[0]} layers and "
        f"{attentions.shape[2]} heads, the head where `it` attends most to `animal` is **layer {layer}, "
        f"head {head}** ({weight:.0%})"
        + (": the page shows it." if (layer_now, head_now) == (layer, head) else ": pick it above to see it.")
    )


def _no_classifier(facts: Facts) -> str | None:
    """The sentence to show when the checkpoint in use has no classification head."""
    if facts.run.logits is None or facts.run.logit_positions is not None:
        return f"{facts.loaded.resolved.label} has no classification head; this step needs the fine-tuned classifier."
    return None


def explain_logits(facts: Facts) -> str:
    if missing := _no_classifier(facts):
        return missing
    labels = facts.loaded.config.id2label
    row = _kept(facts.run.logits, "logits")[0]  # [K]
    pairs = ", ".join(f"{row[i]:.2f} for {labels[i]}" for i in range(row.size))
    return (
        f"For the first sentence the classifier's head returns the **logits** {pairs}: raw scores, one per "
        "label. They are not probabilities: they can be negative and do not add up to 1."
    )


WHY_WRONG = "Why does it fail?"


def verdict(known: str, predicted: str, score: str, sentence: str = "The sentence") -> str:
    """What a sentence with a ``known`` label and the model's answer say together, plainly."""
    if known.lower() == predicted.lower():
        return (
            f"{sentence} is {known.lower()}, and the model says **{predicted}** ({score}): it is right here."
        )
    return f"{sentence} is {known.lower()}; the model says **{predicted}** ({score}): **it is wrong here**."


def _verdicts(facts: Facts, results: Sequence[Any]) -> tuple[str, bool]:
    """One sentence per batch sentence whose label is known and among the model's labels, and
    whether the model is wrong on any of them."""
    said, wrong = [], False
    for b, result in enumerate(results):
        known = facts.known_label(b)
        names = [str(label).lower() for label in result.labels]
        if known is None or result.function == "none" or known.lower() not in names:
            continue
        predicted = str(result.labels[int(np.argmax(result.scores))])
        wrong = wrong or predicted.lower() != known.lower()
        score = f"{float(np.max(result.scores)):.1%}"
        said.append(verdict(known, predicted, score, f"“{facts.encoding.sentences[b]}”"))
    return " ".join(said), wrong


def explain_probabilities(facts: Facts) -> str:
    if missing := _no_classifier(facts):
        return missing
    results = classify(_kept(facts.run.logits, "logits"), facts.loaded.config)
    result = results[0]
    best = int(np.argmax(result.scores))
    logits = ", ".join(f"{x:.2f}" for x in result.logits)
    scores = ", ".join(f"{p:.3f}" for p in result.scores)
    how = {
        "softmax": "Softmax turns the logits [{l}] into probabilities [{s}] (each e^logit divided by their sum)",
        "sigmoid": "A sigmoid turns each logit of [{l}] into that label's own probability: [{s}]",
        "none": "This is a regression head: its score [{s}] is the answer, with no function applied",
    }[result.function].format(l=logits, s=scores)
    shown = f"{result.scores[best]:.1%}" if result.function != "none" else f"{result.scores[best]:.3g}"
    text = (
        f"{how}. For the first sentence the largest, **{result.labels[best]}** at {shown}, is the prediction"
    )
    said, wrong = _verdicts(facts, results)
    if not said:
        return text + "."
    return f"{text}; a prediction is not the truth. {said}" + (f" {WHY_WRONG}" if wrong else "")


def explain_why(facts: Facts) -> str:
    """Why the classifier answers as it does for the first sentence: its own prediction (never a
    hard-coded label), said to be wrong when the sentence's known label differs."""
    loaded = facts.loaded
    if loaded.head_class != tasks.SEQUENCE_CLASSIFICATION:
        return (
            f"{loaded.resolved.label} has no classification head, so there is no label to explain: "
            "pick the classifier fine-tuned here."
        )
    known = facts.known_label(0)

    def lead(label: str, score: float) -> str:
        said = f"{score:.1%}"
        if known is None or known.lower() not in {str(x).lower() for x in loaded.config.id2label.values()}:
            return f"The classifier says **{label}** ({said})."
        if known.lower() == label.lower():
            return verdict(known, label, said)
        return f"{verdict(known, label, said)} {WHY_WRONG} Here is what pushes it towards {label}."

    section_open = bool(getattr(facts.settings, "attr_show", False))
    return attribution_view.why_explanation(
        loaded, facts.encoding, 0, None, lead=lead, section_open=section_open
    )


def explain_fine_tuning(facts: Facts) -> str:
    import json
    from pathlib import Path

    folder = Path(facts.loaded.resolved.location)
    try:
        meta = json.loads((folder / checkpoints.TRAINING_METADATA).read_text())
        return (
            f"The classifier you are using is MiniLM with a new 2-label head, fine-tuned here on "
            f"**{meta['train_examples']}** sentences for {meta['config']['epochs']} epochs "
            f"({meta['seconds']:.0f} s); on {meta['validation_examples']} validation sentences it is right "
            f"**{meta['validation']['accuracy']:.1%}** of the time."
        )
    except (OSError, ValueError, KeyError, TypeError):
        return f"{facts.loaded.resolved.label} was not fine-tuned by this app, so its training is not recorded here."


def explain_pairs(facts: Facts) -> str:
    """How this tokenizer joins the page's first sentence pair: where its special tokens go and
    which token_type_ids each sentence gets, read from its own encoding of the pair."""
    from explorer.explain.tokenizer_lab import pair_layout

    e = _as_the_page_encodes(facts)
    if e.pairs:
        first, second = e.sentences[0], e.pairs[0]
    elif len(e.sentences) >= 2:
        first, second = e.sentences[0], e.sentences[1]
    else:
        return (
            "Type a second sentence under *Second sentences* (line N pairs with line N of the text box) "
            "to see how this tokenizer joins two sentences into one input."
        )
    layout = pair_layout(facts.loaded.tokenizer, first, second)
    counts = [sum(1 for s in layout.segments if s == i) for i in (0, 1)]
    between = " ".join(f"`{t}`" for t in layout.between) or "no special token"
    text = (
        f"`tokenizer(first, second)` makes **one** input of **{len(layout.tokens)}** tokens: "
        f"`{layout.template}`. The first sentence's **{counts[0]}** tokens and the second's **{counts[1]}** "
        f"are separated by {between}."
    )
    if layout.token_type_ids is not None:
        text += (
            f" The `token_type_ids` are {', '.join(map(str, layout.types_of(0)))} for the first sentence "
            f"and {', '.join(map(str, layout.types_of(1)))} for the second: the model adds a *segment* "
            "embedding that says which sentence each token belongs to."
        )
    else:
        text += " This tokenizer returns no `token_type_ids`: only the separator marks where the second sentence starts."
    return text + (
        " One input, one prediction about the pair: that is how BERT was pre-trained on next-sentence "
        "prediction, and how a paraphrase classifier reads two sentences (Classification page, *Sentence pairs*)."
    )


def _later_share(attentions: np.ndarray, mask: np.ndarray) -> float:
    """The share of attention real tokens give to tokens AFTER them, in layer 1 of sentence 0,
    averaged over heads and real query tokens. attentions: [L, B, H, S, S]; mask: [S] (1 = real)."""
    weights = attentions[0, 0]  # [H, S, S]: layer 1, sentence 0
    later = np.triu(weights, k=1).sum(axis=-1)  # [H, S]: weight on keys after each query
    real = mask.astype(bool)  # [S]
    return float(later[:, real].mean())


def explain_families(facts: Facts) -> str:
    """Which of the three families this checkpoint is, shown by its own attention: an encoder
    attends both ways, a decoder only backwards (its causal mask), an encoder-decoder adds
    cross-attention from the decoder's tokens to the encoder's."""
    loaded, e, run = facts.loaded, facts.encoding, facts.run
    label = loaded.resolved.label
    cross_all = getattr(run, "cross_attentions", None)  # [L, B, H, T, S]
    if loaded.is_encoder_decoder and cross_all is not None:
        cross = cross_all[-1, 0].mean(axis=0)  # [T, S]: last decoder layer, heads averaged
        decoder_tokens = _kept(run.decoder_tokens, "decoder tokens")[0]
        decoder_mask = _kept(run.decoder_attention_mask, "decoder attention mask")  # [B, T]
        real = [t for t in range(cross.shape[0]) if decoder_mask[0, t]]
        looks = []
        for t in real[:3]:
            s = int(np.argmax(cross[t]))
            looks.append(
                f"reading `{e.show([decoder_tokens[t]])[0]}` it looks most at `{e.shown[0][s]}` ({cross[t, s]:.0%})"
            )
        generated = _kept(run.generated_ids, "generated ids")
        written = loaded.tokenizer.decode(list(generated[0]), skip_special_tokens=True).strip()
        layers_dec = cross_all.shape[0]
        return (
            f"{label} is an **encoder-decoder** ({loaded.config.model_type}). Its encoder read your "
            f"{int(e.attention_mask[0].sum())} tokens, attending both ways; its decoder started from "
            f"`{decoder_tokens[0]}` and wrote “{written or '(nothing but special tokens)'}”, one token at a "
            f"time, attending backwards to what it wrote (causal) and, through **cross-attention**, to the "
            f"encoder's tokens. In the decoder's last layer (layer {layers_dec}), averaged over its "
            f"{cross_all.shape[2]} heads: "
            + "; ".join(looks)
            + ". "
            + (
                "The heatmap above shows cross-attention"
                if getattr(facts.settings, "part", None) == "cross-attention"
                else "Pick *cross-attention* above to see it"
            )
            + ": every decoder token (rows) against every encoder token (columns)."
        )
    later = _later_share(_kept(run.attentions, "attentions"), e.attention_mask[0])
    other = (
        "An **encoder-decoder** (T5, BART) joins the two: an encoder reads the text both ways, and a "
        "decoder writes the output, attending backwards to what it wrote and, through cross-attention, "
        "to the encoder's tokens. Pick a T5 or BART checkpoint (the Hub's t5-small or facebook/bart-base, "
        "or a folder written by `save_pretrained`) to see its cross-attention on this page."
    )
    if loaded.is_decoder:
        return (
            f"{label} is a **decoder**: each token attends only to itself and the tokens before it (the "
            f"causal mask). In layer 1 the weight on later tokens is **{later:.1%}** (every head, every "
            "token), so the heatmap is zero above its diagonal; the first token can attend only to itself. "
            "An **encoder** such as MiniLM attends both ways. " + other
        )
    return (
        f"{label} is an **encoder**: every token attends to every other, before and after it. In layer 1, "
        f"averaged over heads and tokens, **{later:.1%}** of each token's attention goes to tokens after it. "
        "A **decoder** (GPT-2, SmolLM2) lets a token see only the tokens before it. " + other
    )


# --- The course's other tasks (issue 19): each explanation reads the task's own computation -------

NER = "saved:minilm-ner"  # built by `make models` (explorer.training.ner)
NER_SENTENCE = "My name is Sylvain and I work at Hugging Face in Brooklyn."
ZERO_SHOT_SENTENCE = "This is a course about the Transformers library"
ZERO_SHOT_LABELS = "education, politics, business"


def _needs_task(facts: Facts, task: Any) -> str | None:
    """The sentence to show when the checkpoint in use does not do ``task``."""
    if facts.loaded.task is task:
        return None
    return (
        f"{facts.loaded.resolved.label} does {facts.loaded.task.title.lower()}, not "
        f"{task.title.lower()}: this step needs a checkpoint with that head."
    )


def explain_feature_extraction(facts: Facts) -> str:
    from explorer.pipeline.tasks import feature_extraction as fe

    if missing := _needs_task(facts, tasks.FEATURE_EXTRACTION):
        return missing
    pooling = fe.pooling_for(facts.loaded)
    sentences = facts.encoding.sentences
    vectors = fe.sentence_embeddings(facts.loaded, sentences)  # [B, D]
    B, S, D = _kept(facts.run.last_hidden_state, "last hidden state").shape
    text = (
        f"The model returned one vector per token, `[{B}, {S}, {D}]`: no labels. {pooling.source} "
        f"That gives one vector per sentence, `[{B}, {D}]`."
    )
    if B < 2:
        return text + " Add a second sentence to compare two of them."
    similarity = float(fe.cosine(vectors[:1], vectors[1:2])[0, 0])
    return (
        f"{text} The first two sentences' vectors have cosine similarity **{similarity:.3f}** "
        "(1: the same direction, 0: unrelated); sentences that mean similar things get closer vectors, "
        "which is what search and clustering use."
    )


def explain_embedding_zero_shot(facts: Facts) -> str:
    from explorer.pipeline.tasks import feature_extraction as fe

    if facts.loaded.task is tasks.ZERO_SHOT:
        return (
            f"{facts.loaded.resolved.label} has a natural-language-inference head, so step ③ does what "
            '`pipeline("zero-shot-classification")` does: each label becomes a hypothesis, and the '
            "entailment scores are compared."
        )
    if missing := _needs_task(facts, tasks.FEATURE_EXTRACTION):
        return missing
    labels = fe.parse_labels(getattr(facts.settings, "labels", ZERO_SHOT_LABELS)).items
    if not labels:
        return "Type some candidate labels, separated by commas."
    vectors = fe.sentence_embeddings(facts.loaded, [facts.encoding.sentences[0], *labels])  # [1 + K, D]
    cosines = fe.cosine(vectors[:1], vectors[1:])[0]  # [K]
    order = np.argsort(-cosines)
    ranked = ", ".join(f"{labels[i]} {cosines[i]:.3f}" for i in order)
    return (
        f"The course's zero-shot pipeline needs a model trained for natural-language inference (NLI); "
        f"{facts.loaded.resolved.label} has no such head. Step ③ uses the embedding way instead: the "
        f"cosine between the sentence's vector and each label's. For the first sentence: {ranked}, so "
        f"**{labels[order[0]]}** comes first. It is not the pipeline's way, and its numbers are "
        "similarities, not probabilities."
    )


def explain_ner(facts: Facts) -> str:
    from explorer.views.tasks import token_classification as tc

    if missing := _needs_task(facts, tasks.TOKEN_CLASSIFICATION_TASK):
        return missing
    aggregation = getattr(facts.settings, "aggregation", "first")
    view = tc.build(facts.loaded, facts.encoding, facts.run, tasks.TaskInputs(aggregation=aggregation))
    first = view.sentences[0]
    found = ", ".join(f"**{e.word}** ({e.label}, {e.score:.0%})" for e in first.entities) or "no entity"
    K = _kept(facts.run.token_logits, "token logits").shape[-1]
    return (
        f"The head gives every token {K} logits, one per tag (B- begins an entity, I- continues it, O "
        f"is outside any). With aggregation_strategy `{view.strategy}`, the pieces become entities. In "
        f"the first sentence the model finds: {found}. {view.check.text}"
    )


LESSON: tuple[LessonStep, ...] = (
    LessonStep(
        title="Text becomes tokens",
        page="pages/tokenizer.py",
        text="Tokenization turns unbelievably long words into pieces.",
        ref=checkpoints.MINILM,
        explain=explain_tokens,
        question="Type a word you invented. How many pieces does it become, and could the model read it at all?",
    ),
    LessonStep(
        title="Tokens become IDs",
        page="pages/tokenizer.py",
        text="I've been waiting for a HuggingFace course my whole life.",
        ref=checkpoints.MINILM,
        explain=explain_ids,
        question="Which IDs appear in every sentence, whatever you type? Why?",
    ),
    LessonStep(
        title="Padding and the attention mask",
        page="pages/tokenizer.py",
        text="I've been waiting for a HuggingFace course my whole life.\nI hate this so much!",
        ref=checkpoints.MINILM,
        explain=explain_padding,
        question="Switch padding to do_not_pad (Batch settings). Why can the batch no longer be one tensor?",
        settings=tokenizer_view.Settings(padding="longest", side="right"),
    ),
    LessonStep(
        title="Why the attention mask matters",
        page="pages/model.py",
        text="I've been waiting for a HuggingFace course my whole life.\nI hate this so much!",
        ref=CLASSIFIER,
        explain=explain_mask_effect,
        question="Scroll to 'The attention mask's effect'. Which of the three runs gives different numbers, and why?",
        settings=model_view.Settings(mask=True),
        hidden_states=True,
    ),
    LessonStep(
        title="The model's output",
        page="pages/model.py",
        text="I've been waiting for a HuggingFace course my whole life.\nI hate this so much!",
        ref=checkpoints.MINILM,
        explain=explain_output,
        question="Add a third sentence. Which number in the shape changes, and which do not?",
        hidden_states=True,
    ),
    LessonStep(
        title="Hidden states, layer by layer",
        page="pages/model.py",
        text="The bank of the river was muddy.",
        ref=checkpoints.MINILM,
        explain=explain_layers,
        question="Try 'I deposited money at the bank.' Does the word 'bank' change differently through the layers?",
        hidden_states=True,
    ),
    LessonStep(
        title="One layer, step by step",
        page="pages/layer.py",
        text="The bank of the river was muddy.",
        ref=checkpoints.MINILM,
        explain=explain_one_layer,
        question="Where does the layer add its input back (the residual connections)? Pick the last layer: is it the same?",
        settings=layer_view.Settings(sentence=0, layer=1),
        hidden_states=True,
    ),
    LessonStep(
        title="Attention",
        page="pages/attention.py",
        text="The animal didn't cross the street because it was too tired.",
        ref=checkpoints.MINILM,
        explain=explain_attention,
        question="Change 'tired' to 'wide': where does 'it' look now on this head?",
        settings=attention_view.Settings(layer=1, head=0, aggregate="head", sentence=0),
        opens=open_attention_head,
        hidden_states=True,
        attentions=True,
    ),
    LessonStep(
        title="Logits",
        page="pages/classification.py",
        text="I've been waiting for a HuggingFace course my whole life.\nI hate this so much!",
        ref=CLASSIFIER,
        explain=explain_logits,
        question="Which sentence has the larger gap between its two logits? What does a large gap mean?",
    ),
    LessonStep(
        title="Probabilities",
        page="pages/classification.py",
        known=(FILM, SERVICE),
        ref=CLASSIFIER,
        explain=explain_probabilities,
        question="Write a sentence the classifier gets wrong. What makes it hard?",
    ),
    LessonStep(
        title="Why this prediction?",
        page="pages/classification.py",
        known=(FILM,),
        ref=CLASSIFIER,
        explain=explain_why,
        question="Pick the Occlusion method, then change 'not bad' to 'good'. Which word now matters most, and do the three methods agree?",
        # the section open on the model's own prediction ("": the most likely label), whatever it is
        settings=attribution_view.lesson_settings(classification_view.Settings, ""),
    ),
    LessonStep(
        title="Fine-tuning",
        page="pages/classification.py",
        text="This lesson was surprisingly fun.",
        ref=CLASSIFIER,
        explain=explain_fine_tuning,
        question="Fine-tune your own classifier below with 1 epoch. How does its validation accuracy compare?",
    ),
    LessonStep(
        title="Sentence pairs: [SEP] and token_type_ids",
        page="pages/tokenizer.py",
        text="The weather was cold, so I wore my coat.",
        ref=checkpoints.MINILM,
        explain=explain_pairs,
        question="Swap the two sentences. Which token_type_ids change, and which tokens stay where they are?",
        settings=tokenizer_view.Settings(pairs="I also took a scarf and gloves."),
    ),
    LessonStep(
        title="Encoders, decoders and encoder-decoders",
        page="pages/attention.py",
        text="translate English to German: The house is wonderful.",
        ref=checkpoints.SMOLLM2,
        explain=explain_families,
        question="Switch to MiniLM (an encoder): is the heatmap still zero above its diagonal? Why can't a decoder look ahead?",
        settings=attention_view.Settings(
            layer=1, head=0, aggregate="head", sentence=0, part="cross-attention"
        ),
        hidden_states=True,
        attentions=True,
    ),
    LessonStep(
        title="Feature extraction: a vector per sentence",
        page="pages/pipeline.py",
        text="I've been waiting for a HuggingFace course my whole life.\nI hate this so much!",
        ref=checkpoints.MINILM,
        explain=explain_feature_extraction,
        question="Add 'I love this course.' as a third line. Which sentence is its vector closest to?",
    ),
    LessonStep(
        title="Zero-shot classification",
        page="pages/pipeline.py",
        text=ZERO_SHOT_SENTENCE,
        ref=checkpoints.MINILM,
        explain=explain_embedding_zero_shot,
        question="Add the label 'software'. Does it win? What would an NLI head do differently?",
        settings=pipeline_view.Settings(labels=ZERO_SHOT_LABELS),
    ),
    LessonStep(
        title="Named entities (token classification)",
        page="pages/pipeline.py",
        text=NER_SENTENCE,
        ref=NER,
        explain=explain_ner,
        question="Switch the aggregation strategy to simple. What happens to 'Sylvain', and why does 'first' match how the model was trained?",
        settings=pipeline_view.Settings(aggregation="first"),
    ),
)


def steps_using(ref: str) -> str:
    """The numbers of the steps that open ``ref``, for a sentence: "4, 9, 10 and 11"."""
    numbers = [str(i + 1) for i, step in enumerate(LESSON) if step.ref == ref]
    return (
        ", ".join(numbers[:-1]) + (" and " if len(numbers) > 1 else "") + numbers[-1] if numbers else "none"
    )

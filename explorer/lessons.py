"""Guided lessons for a class: steps through the pipeline, each opening a page with preset text and
settings, and an explanation computed from what that page shows for the checkpoint in use (never
generic text that could contradict the model). Pure functions; explorer.ui draws them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from explorer import checkpoints
from explorer.encoding import Encoding
from explorer.loading import LoadedCheckpoint
from explorer.postprocess import classify
from explorer.run import ModelRun
from explorer.views import attention as attention_view
from explorer.views import tokenizer as tokenizer_view

CLASSIFIER = "saved:minilm-sentiment"  # built by `make models` (explorer.finetune)


@dataclass(frozen=True)
class Facts:
    """What the page shows, for an explanation to describe."""

    loaded: LoadedCheckpoint
    encoding: Encoding
    run: ModelRun  # with hidden states / attentions when the step asks for them
    settings: Any = None  # the page's Settings as the student has them now


@dataclass(frozen=True)
class LessonStep:
    title: str
    page: str  # page file, e.g. "pages/tokenizer.py"
    text: str  # preset text box
    ref: str  # preset checkpoint
    explain: Callable[[Facts], str]
    question: str
    settings: Any = None  # the page's Settings the step opens with (None: leave them as they are)
    # What the explanation reads from the run; the same as its page asks for, so that both share
    # one cached run instead of evicting each other.
    hidden_states: bool = False
    attentions: bool = False


def _words(encoding: Encoding, b: int) -> list[list[str]]:
    """Real tokens grouped into words (a '##' piece joins the word before it)."""
    words: list[list[str]] = []
    for s, token in enumerate(encoding.tokens[b]):
        if encoding.special_tokens_mask[b, s] or not encoding.attention_mask[b, s]:
            continue
        if token.startswith("##") and words:
            words[-1].append(token)
        else:
            words.append([token])
    return words


def explain_tokens(facts: Facts) -> str:
    e = facts.encoding
    n = int(e.lengths[0])
    split = [w for w in _words(e, 0) if len(w) > 1]
    shown = "; ".join(" + ".join(w) for w in split[:3])
    text = f"{facts.loaded.resolved.label} cut the sentence into **{n} tokens** (special tokens included). "
    if split:
        text += f"Words it does not know whole are split into pieces; a piece marked `##` continues the word before it: {shown}."
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
    examples = ", ".join(f"`{t}` is {i}" for t, i in real[:3])
    added = ", ".join(f"`{t}` ({i})" for t, i in specials) or "none"
    return (
        f"Each token is looked up in a vocabulary of **{len(tokenizer):,}** entries: {examples}. "
        f"The tokenizer also adds special tokens: {added}. The model never sees the text, only these numbers."
    )


def explain_padding(facts: Facts) -> str:
    e = facts.encoding
    lengths = [int(n) for n in e.lengths]
    B, S = e.shape
    short = int(np.argmin(lengths))
    pads = S - lengths[short]
    return (
        f"The sentences have {' and '.join(str(n) for n in lengths)} tokens. To stack them into one tensor of shape "
        f"**[{B}, {S}]**, sentence {short} gets **{pads}** padding token(s) `{e.pad_token}` (ID {e.pad_token_id}). "
        f"Its attention mask is 1 for its {lengths[short]} real tokens and 0 for the padding, so the model ignores it."
    )


def explain_output(facts: Facts) -> str:
    hidden = facts.run.hidden_states  # [L + 1, B, S, D]
    L1, B, S, D = hidden.shape
    return (
        f"`{facts.loaded.model_class}` returned **{L1}** hidden-state tensors (the embeddings, then each of its "
        f"{L1 - 1} layers), each of shape **[{B}, {S}, {D}]**: one vector of {D} numbers per token. The last "
        f"layer alone holds {B * S * D:,} numbers for your batch."
    )


def explain_layers(facts: Facts) -> str:
    e, hidden = facts.encoding, facts.run.hidden_states
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
        f"`{tokens[token_most]}`."
    )


def _position(tokens: tuple[str, ...], word: str) -> int | None:
    for p, token in enumerate(tokens):
        if token.lstrip("Ġ▁").lower() == word:
            return p
    return None


def explain_attention(facts: Facts) -> str:
    e, attentions = facts.encoding, facts.run.attentions  # [L, B, H, S, S]
    tokens = e.tokens[0]
    it, animal = _position(tokens, "it"), _position(tokens, "animal")
    if it is None or animal is None:
        return "This explanation needs the words 'it' and 'animal' in the first sentence; restart the step."
    weights = attentions[:, 0, :, it, animal]  # [L, H]
    layer, head = np.unravel_index(int(np.argmax(weights)), weights.shape)
    shown = attentions[0, 0, 0, it]  # layer 0, head 0: what the page opens on
    top = int(np.argmax(shown))
    return (
        f"The page opens on layer 0, head 0, where `it` looks most at `{tokens[top]}` ({shown[top]:.0%} of its "
        f"attention). Across all {attentions.shape[0]} layers and {attentions.shape[2]} heads, the head where `it` "
        f"attends most to `animal` is **layer {layer}, head {head}** ({weights[layer, head]:.0%})."
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
    row = facts.run.logits[0]
    pairs = ", ".join(f"{row[i]:.2f} for {labels[i]}" for i in range(row.size))
    return (
        f"For the first sentence the classifier's head returns the **logits** {pairs}: raw scores, one per "
        "label. They are not probabilities: they can be negative and do not add up to 1."
    )


def explain_probabilities(facts: Facts) -> str:
    if missing := _no_classifier(facts):
        return missing
    result = classify(facts.run.logits, facts.loaded.config)[0]
    best = int(np.argmax(result.scores))
    logits = ", ".join(f"{x:.2f}" for x in result.logits)
    scores = ", ".join(f"{p:.3f}" for p in result.scores)
    how = {
        "softmax": "Softmax turns the logits [{l}] into probabilities [{s}] (each e^logit divided by their sum)",
        "sigmoid": "A sigmoid turns each logit of [{l}] into that label's own probability: [{s}]",
        "none": "This is a regression head: its score [{s}] is the answer, with no function applied",
    }[result.function].format(l=logits, s=scores)
    shown = f"{result.scores[best]:.1%}" if result.function != "none" else f"{result.scores[best]:.3g}"
    return f"{how}. The largest, **{result.labels[best]}** at {shown}, is the prediction."


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


LESSON: tuple[LessonStep, ...] = (
    LessonStep(
        "Text becomes tokens",
        "pages/tokenizer.py",
        "Tokenization turns unbelievably long words into pieces.",
        checkpoints.MINILM,
        explain_tokens,
        "Type a word you invented. How many pieces does it become, and could the model read it at all?",
    ),
    LessonStep(
        "Tokens become IDs",
        "pages/tokenizer.py",
        "I've been waiting for a HuggingFace course my whole life.",
        checkpoints.MINILM,
        explain_ids,
        "Which IDs appear in every sentence, whatever you type? Why?",
    ),
    LessonStep(
        "Padding and the attention mask",
        "pages/tokenizer.py",
        "I've been waiting for a HuggingFace course my whole life.\nI hate this so much!",
        checkpoints.MINILM,
        explain_padding,
        "Switch padding to do_not_pad (Batch settings). Why can the batch no longer be one tensor?",
        tokenizer_view.Settings(padding="longest", side="right"),
    ),
    LessonStep(
        "The model's output",
        "pages/model.py",
        "I've been waiting for a HuggingFace course my whole life.\nI hate this so much!",
        checkpoints.MINILM,
        explain_output,
        "Add a third sentence. Which number in the shape changes, and which do not?",
        hidden_states=True,
    ),
    LessonStep(
        "Hidden states, layer by layer",
        "pages/model.py",
        "The bank of the river was muddy.",
        checkpoints.MINILM,
        explain_layers,
        "Try 'I deposited money at the bank.' Does the word 'bank' change differently through the layers?",
        hidden_states=True,
    ),
    LessonStep(
        "Attention",
        "pages/attention.py",
        "The animal didn't cross the street because it was too tired.",
        checkpoints.MINILM,
        explain_attention,
        "Open the head named above. Then change 'tired' to 'wide': where does 'it' look now?",
        attention_view.Settings(layer=0, head=0, aggregate="head", sentence=0),
        hidden_states=True,
        attentions=True,
    ),
    LessonStep(
        "Logits",
        "pages/classification.py",
        "I've been waiting for a HuggingFace course my whole life.\nI hate this so much!",
        CLASSIFIER,
        explain_logits,
        "Which sentence has the larger gap between its two logits? What does a large gap mean?",
    ),
    LessonStep(
        "Probabilities",
        "pages/classification.py",
        "The film was not bad at all.\nThe service could have been better.",
        CLASSIFIER,
        explain_probabilities,
        "Write a sentence the classifier gets wrong. What makes it hard?",
    ),
    LessonStep(
        "Fine-tuning",
        "pages/classification.py",
        "This lesson was surprisingly fun.",
        CLASSIFIER,
        explain_fine_tuning,
        "Fine-tune your own classifier below with 1 epoch. How does its validation accuracy compare?",
    ),
)

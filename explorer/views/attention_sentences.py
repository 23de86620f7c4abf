"""What the Attention page says: every sentence, caption and title text, written from the numbers
the view computed (explorer.views.attention builds the figures and the View; explorer.explain.attention
computes the numbers). An encoder or decoder's one self-attention and an encoder-decoder's three
parts are told apart here, in words only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer.drawing.bertviz_html import THRESHOLD, Plan
from explorer.explain.attention import AttentionPart, AttentionSteps
from explorer.pipeline.loading import LoadedCheckpoint
from explorer.pipeline.postprocess import SAME_PROBABILITIES
from explorer.views.common import Note
from explorer.words import count

STEP_WINDOW = 48  # the step-by-step matrices show at most this many positions


INTRO = (  # the page's first sentences
    "In every layer, each token (a **query**) looks at the other tokens (the **keys**) and takes a "
    "weighted mix of their values. Each row of an attention matrix holds one query's weights; they sum to 1."
)


# --- The page, the entropy grid and bertviz -------------------------------------------------------


def entropy_caption(loaded: LoadedCheckpoint) -> Note:
    """Which tokens focused heads often look at, naming only tokens this tokenizer has."""
    sep = getattr(loaded.tokenizer, "sep_token", None)
    if sep:
        examples = f"the previous token, `{sep}`, the same word…"
    elif loaded.is_decoder:
        examples = "the previous token, the first token, the same word…"
    else:
        examples = "the previous token, the same word…"
    return Note(
        "caption",
        "Entropy of each head's attention rows, averaged over the real tokens: a head with low entropy "
        f"puts its weight on a few tokens ({examples}) and is often worth a look.",
    )


_MENU = (
    "Its Attention menu switches between **Encoder** (encoder self-attention), **Decoder** (decoder "
    "self-attention) and **Cross** (decoder tokens on the left, encoder tokens on the right); it opens "
    "on the attention chosen above."
)


READING = {  # (view, several parts): how to read bertviz's view
    ("head", False): (
        "Head view: lines connect each token to the tokens it attends to; click a head's colour to "
        "show or hide it (the colours are heads 0, 1, … from the left), hover a token to focus it. Its "
        "Layer menu numbers layers 1 … L, as this page does."
    ),
    ("model", False): (
        "Model view: one small head view per layer (rows, numbered 1 … L as on this page) and head "
        "(columns, numbered from 0); click one to enlarge it."
    ),
    ("head", True): (
        "Head view: lines connect each token to the tokens it attends to; click a head's colour to show or "
        "hide it (the colours are heads 0, 1, … from the left). Its Layer menu numbers layers 1 … L of each "
        f"stack, as this page does. {_MENU}"
    ),
    ("model", True): (
        "Model view: one small head view per layer (rows, numbered 1 … L of each stack as on this page) "
        f"and head (columns, numbered from 0); click one to enlarge it. {_MENU}"
    ),
}


def faint(plan: Plan) -> str:
    """The caption's sentence on the lines left out, with this view's numbers."""
    return (
        f" Lines for weights below {THRESHOLD} are left out (under {THRESHOLD:.0%} opaque even with one "
        f"head shown: too faint to see): {plan.kept:,} of {plan.total:,} weights drawn."
    )


def model_view_too_long(tokens: int, layers: int, heads: int, limit: int) -> Note:
    return Note(
        "info",
        f"The model view draws all {layers} layers × {heads} heads at once; it is offered for inputs of up "
        f"to {limit} tokens, and this one has {tokens}. The head view draws every token, one "
        "layer at a time.",
    )


# --- Step by step ---------------------------------------------------------------------------------

STEPS_ENCODER_DECODER = (
    "Step-by-step attention is shown for an encoder-decoder's **cross-attention** (choose it above); "
    "for its encoder and decoder self-attention it is not available yet. The heatmaps above are the "
    "model's own weights."
)


def multi_head_sentence(steps: AttentionSteps, S: int) -> str:
    """How the heads are split and joined again, with this model's real sizes: H × d need not be
    the hidden size (Qwen3's head_dim), and keys / values may have fewer heads (grouped-query)."""
    H, d, D, KV = steps.heads, steps.head_dim, steps.hidden_size, steps.key_value_heads
    width = steps.query_width  # H × d, the query projection's output width
    projections = "the projections are" if KV == H else "the query projection is"
    if width == D:
        split = f"{projections} split into {H} slices of {d} dimensions ([{S}, {D}] → [{H}, {S}, {d}])"
    else:
        split = (
            f"the query projection maps [{S}, {D}] to [{S}, {width}], split into {H} slices of {d} "
            f"dimensions ([{H}, {S}, {d}]); here {H} × {d} = {width} is not the hidden size {D}: the head "
            f"size {d} is set on its own, not hidden size ÷ heads"
        )
    join = f"[{S}, {H} × {d} = {width}] before an output projection"
    if width != D:
        join += f" back to the hidden size, [{S}, {D}]"
    text = (
        f"**Multi-head.** The layer runs all {H} heads side by side: {split}; each head attends on its own, "
        f"and their outputs are concatenated back to {join}."
    )
    if KV != H:
        text += (
            f" Keys and values have only {KV} heads ([{S}, {D}] → [{S}, {steps.key_value_width}] → "
            f"[{KV}, {S}, {d}]), each shared by {H // KV} query heads (grouped-query attention)."
        )
    return text


@dataclass(frozen=True, kw_only=True)
class Sentences:
    """What step by step says, with this head's numbers: one set for self-attention, one for
    cross-attention (the figures and the numbers are the same code for both)."""

    window: str | None
    intro: str
    project: str
    scores: str
    scale: str  # steps 3 and 4: the scale and the mask
    scaled_name: str  # the scaled scores' name in the figures' titles
    agreement: Note
    softmax: str
    mix: str
    multi_head: str


def _scale(steps: AttentionSteps) -> tuple[str, str]:
    """(step 3's sentence, the scaled scores' name) for this model's factor on the scores."""
    d = steps.head_dim
    if steps.standard_scale:
        return f"**3. Scale** by 1/√d = 1/√{d} = {steps.scale:.4f}", "Q·Kᵀ / √d"
    if steps.part == "cross-attention" and steps.scale == 1.0:
        return (
            f"**3. Scale**: this model does not scale its scores (factor 1; 1/√d would be 1/√{d} = "
            f"{1 / np.sqrt(d):.4f}: T5 folds it into its initialisation)",
            "Q·Kᵀ",
        )
    if steps.part == "cross-attention":
        return f"**3. Scale** by {steps.scale:.4f}, this model's own factor", "Q·Kᵀ × scale"
    return (
        f"**3. Scale** by {steps.scale:.4f}, this model's own factor (1/√d would be 1/√{d} = "
        f"{1 / np.sqrt(d):.4f})",
        "Q·Kᵀ × scale",
    )


def self_sentences(steps: AttentionSteps, causal: bool) -> Sentences:
    layer, head, sentence = steps.layer + 1, steps.head, steps.sentence
    S, d = len(steps.query_tokens), steps.head_dim
    kv_note = (
        f" (grouped-query attention: query head {head} shares key/value head {steps.key_value_head} with "
        f"{count(steps.heads // steps.key_value_heads - 1, 'other head')})"
        if steps.key_value_heads != steps.heads
        else ""
    )
    scale, scaled_name = _scale(steps)
    if steps.standard_scale:
        scale += ", so the scores do not grow with the head size"
    compared = (
        f"Compared with the attention the model itself returned for layer {layer}, head {head} "
        f"(`outputs.attentions[{layer - 1}][{sentence}, {head}]`): maximum absolute difference "
        f"**{steps.max_abs_difference:.2e}**"
    )
    differ = (
        f"{compared} — they differ: this step-by-step recomputation does not reproduce the model's "
        f"attention (more than {SAME_PROBABILITIES:.0e} apart)."
    )
    return Sentences(
        window=f"Computed on all {S} positions; the matrices below show the first {STEP_WINDOW}."
        if S > STEP_WINDOW
        else None,
        intro=f"Layer {layer}, head {head}, sentence {sentence}. The input is **{steps.input_note}**, shape "
        f"[{S}, {steps.hidden_size}].",
        project=f"**1. Project** the input with this head's learned weights into queries Q, keys K and values "
        f"V, each [{S}, {d}]{kv_note}."
        + (" Q and K are each normalised (RMSNorm over the head's dimensions)." if steps.qk_norm else "")
        + (" Q and K are then **rotated by position** (rotary embeddings)." if steps.rotary else ""),
        scores=f"**2. Scores** Q·Kᵀ: how well each query matches each key, [{S}, {S}].",
        scale=scale
        + ", and **4. mask**: positions a query may not see (padding"
        + (", and every later token in a decoder" if causal else "")
        + ") get −∞.",
        scaled_name=scaled_name,
        agreement=_agreement(steps, compared, differ),
        softmax="**5. Softmax** each row: the weights are positive and sum to 1.",
        mix=f"**6. Mix the values**: weights × V gives this head's output, [{S}, {d}].",
        multi_head=multi_head_sentence(steps, S),
    )


def cross_sentences(steps: AttentionSteps) -> Sentences:
    layer, head, sentence = steps.layer + 1, steps.head, steps.sentence  # decoder layer 1 … L
    T, S, d, H, D = (
        len(steps.query_tokens),
        len(steps.key_tokens),
        steps.head_dim,
        steps.heads,
        steps.hidden_size,
    )
    scale, scaled_name = _scale(steps)
    compared = (
        f"Compared with the cross-attention the model itself returned for decoder layer {layer}, head {head} "
        f"(`outputs.cross_attentions[{layer - 1}][{sentence}, {head}]`): maximum absolute difference "
        f"**{steps.max_abs_difference:.2e}**"
    )
    return Sentences(
        window=f"Computed on all {T} decoder and {S} encoder positions; the matrices below show the first "
        f"{STEP_WINDOW} of each."
        if T > STEP_WINDOW or S > STEP_WINDOW
        else None,
        intro=f"Cross-attention of decoder layer {layer}, head {head}, sentence {sentence}. The queries read "
        f"**{steps.input_note}**, shape [{T}, {D}]; the keys and values read the **encoder's output** "
        f"(`encoder_last_hidden_state`), shape [{S}, {D}].",
        project=f"**1. Project** with this head's learned weights: queries Q [{T}, {d}] from the decoder, keys K "
        f"and values V [{S}, {d}] from the encoder.",
        scores=f"**2. Scores** Q·Kᵀ: how well each decoder query matches each encoder key, [{T}, {S}].",
        scale=scale + ", and **4. mask**: the encoder's padding keys get −∞. No causal mask: every decoder "
        "token may read every input token.",
        scaled_name=scaled_name,
        agreement=_agreement(
            steps, compared, f"{compared} — they differ (more than {SAME_PROBABILITIES:.0e} apart)."
        ),
        softmax="**5. Softmax** each row: the weights are positive and sum to 1 over the real encoder tokens.",
        mix=f"**6. Mix the values**: weights × V gives this head's output, [{T}, {d}]: for each decoder "
        "token, a mix of the encoder's values.",
        multi_head=f"**Multi-head.** The layer runs all {H} heads side by side: the decoder's [{T}, {D}] becomes "
        f"[{H}, {T}, {d}] queries and the encoder's [{S}, {D}] becomes [{H}, {S}, {d}] keys and values; "
        f"each head attends on its own, and their outputs are concatenated back to "
        f"[{T}, {H} × {d} = {H * d}] before an output projection.",
    )


def _agreement(steps: AttentionSteps, compared: str, differ: str) -> Note:
    """Success when the recomputation equals the model's weights within SAME_PROBABILITIES."""
    if steps.max_abs_difference < SAME_PROBABILITIES:
        return Note("success", f"{compared} — the same.")
    return Note("warning", differ)


# --- The chosen part: numbering, masks, padding ---------------------------------------------------


def numbering(parts: tuple[AttentionPart, ...]) -> Note:
    H = parts[0].heads
    if len(parts) == 1:
        L = parts[0].layers
        return Note(
            "caption",
            f"Layers are numbered as on every page: `hidden_states[0]` is the embeddings, and layer l "
            f"(1 … {L}) turns `hidden_states[l-1]` into `hidden_states[l]`; its attention weights are "
            f"`outputs.attentions[l-1]`. Heads are numbered from 0 (0 … {H - 1}), as in the tensors and "
            "in bertviz.",
        )
    L_enc, L_dec = parts[0].layers, parts[1].layers
    return Note(
        "caption",
        f"An encoder-decoder has two stacks, each numbered from 1: encoder layers 1 … {L_enc} "
        f"(encoder self-attention `outputs.encoder_attentions[l-1]`) and decoder layers 1 … {L_dec} "
        f"(decoder self-attention `outputs.decoder_attentions[l-1]`, cross-attention "
        f"`outputs.cross_attentions[l-1]`). In each stack `hidden_states[0]` is the embeddings and layer l "
        f"turns `hidden_states[l-1]` into `hidden_states[l]`. Heads are numbered from 0 (0 … {H - 1}), as "
        "in the tensors and in bertviz.",
    )


def causal(part: AttentionPart) -> Note | None:
    if not part.causal:
        return None
    if part.query_side is None:
        return Note(
            "info",
            "This is a decoder: each token may only look at itself and the tokens before it. The grey upper "
            "triangle is the **causal mask**: those weights are exactly 0.",
        )
    return Note(
        "info",
        "The decoder is causal: each decoder token may only look at itself and the decoder tokens before "
        "it. The grey upper triangle is the **causal mask**: those weights are exactly 0.",
    )


def padding(part: AttentionPart, sentence: int) -> Note | None:
    """Which padding this part's matrix shows (its keys', and an encoder-decoder's padded decoder rows)."""
    texts = []
    if part.key_side != "decoder" and not part.key_real[sentence].all():
        whose = "the encoder's " if part.key_side == "encoder" else ""
        texts.append(
            f"Grey columns are {whose}padding positions: the attention mask gives them a weight of exactly 0."
        )
    if part.query_side == "decoder" and not part.query_real[sentence].all():
        texts.append(
            "This sentence's output is shorter than the longest in the batch: the decoder's last positions "
            "are padding (the decoder attention mask hides them as keys"
            + (", grey columns" if part.key_side == "decoder" else "")
            + "); their rows are computed but mean nothing."
        )
    return Note("caption", " ".join(texts)) if texts else None


def part_note(part: AttentionPart, sentence: int) -> Note:
    """What rows and columns are, for an encoder-decoder's part."""
    if part.name == "encoder self-attention":
        text = (
            "**Encoder self-attention**: rows and columns are the encoder's tokens (the input text). Every "
            "token may look at every real token, before and after it; each row sums to 1 over the real tokens."
        )
    elif part.name == "decoder self-attention":
        start = part.query_tokens[sentence][0] if part.query_tokens[sentence] else ""
        text = (
            f"**Decoder self-attention**: rows and columns are the decoder's tokens: `{start}` "
            "(decoder_start_token_id), then the tokens the model generated, each fed back in. Each row sums "
            "to 1 over the row's own token and the tokens before it."
        )
    else:
        text = (
            "**Cross-attention**: rows are the decoder's tokens (queries), columns the encoder's tokens "
            "(keys): each output position reads the input through these weights. Each row sums to 1 over "
            "the real encoder tokens; padding columns get exactly 0. The queries come from the decoder's "
            "hidden states, the keys and values from the encoder's output (`encoder_last_hidden_state`, the "
            "same for every decoder layer). These are the model's returned `outputs.cross_attentions`."
        )
    return Note("markdown", text)


def entropy_title(part: AttentionPart) -> str:
    if part.query_side is None:
        return "Attention entropy per head (low = focused)"
    return (
        f"{part.name[0].upper()}{part.name[1:]}: entropy per {part.query_side} layer and head (low = focused)"
    )

"""Decoders, one token at a time: the next-token distribution and how temperature, top-k and top-p
reshape it, generation step by step (greedy or seeded sampling), the logit lens, and the masked
language model's fill-mask and masking recipe. Pure functions of a loaded checkpoint."""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import numpy as np

from explorer.errors import InputError
from explorer.pipeline.loading import LoadedCheckpoint
from explorer.pipeline.postprocess import Sampling, best_tokens, choose, reshape
from explorer.pipeline.run import (
    decode_stream,
    decoder_start_id,
    lens_logits,
    next_token_logits,
    seq2seq_decode_stream,
    seq2seq_next_token_logits,
)
from explorer.pipeline.token_display import scheme_of, shown_tokens

__all__ = ["Sampling", "next_token_logits", "reshape"]  # re-exported for pages and tests

MAX_NEW_TOKENS = 40  # per request: bounds how long one session can keep the CPU busy
MAX_CONTEXT = 512  # prompt + generated tokens


# generation_config entries with which model.generate() changes the model's scores before it picks a
# token (transformers' logits processors), and the value that changes nothing.
SCORE_CHANGING: tuple[tuple[str, Any], ...] = (
    ("forced_bos_token_id", None),
    ("forced_eos_token_id", None),
    ("no_repeat_ngram_size", 0),
    ("encoder_no_repeat_ngram_size", 0),
    ("repetition_penalty", 1.0),
    ("encoder_repetition_penalty", 1.0),
    ("min_length", 0),
    ("min_new_tokens", 0),
    ("bad_words_ids", None),
    ("suppress_tokens", None),
    ("begin_suppress_tokens", None),
    ("sequence_bias", None),
    ("exponential_decay_length_penalty", None),
)


def generate_adjustments(loaded: LoadedCheckpoint) -> tuple[str, ...]:
    """This checkpoint's generation_config settings that ``model.generate()`` applies on top of the
    model's own scores, as ``name=value`` (empty when greedy steps on the model's scores are what
    ``generate(do_sample=False, num_beams=1)`` does)."""
    config = getattr(loaded.model, "generation_config", None)
    found = []
    for name, neutral in SCORE_CHANGING:
        value = getattr(config, name, None)
        if value is None or value == neutral or value in ([], ()):
            continue
        found.append(f"{name}={value}")
    return tuple(found)


def prompt_ids(loaded: LoadedCheckpoint, prompt: str, chat: bool) -> list[int]:
    """The prompt as token IDs, wrapped in the checkpoint's chat template when ``chat``."""
    tokenizer = loaded.tokenizer
    if chat and getattr(tokenizer, "chat_template", None):
        ids = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=True
        )
        ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
    else:
        ids = tokenizer(prompt)["input_ids"]
    ids = [int(i) for i in ids]
    if not ids:
        raise InputError("The prompt gives no tokens. Type a prompt.")
    if len(ids) > MAX_CONTEXT - 1:
        raise InputError(f"The prompt is {len(ids)} tokens long; this page takes at most {MAX_CONTEXT - 1}.")
    return ids


@dataclass(frozen=True, kw_only=True)
class Candidates:
    """The most likely next tokens, before and after reshaping."""

    token_ids: tuple[int, ...]  # [K] best first (by the unreshaped probability)
    tokens: tuple[str, ...]  # [K] as the tokenizer writes them (Ġ, ▁ …)
    texts: tuple[str, ...]  # [K] decoded text of each token
    shown: tuple[str, ...]  # [K] each token as the screen shows it (token_display: ␣Paris, ↵)
    raw: tuple[float, ...]  # [K] softmax(logits)
    reshaped: tuple[float, ...]  # [K] after temperature, top-k, top-p
    kept: int  # tokens with non-zero probability after reshaping
    vocabulary: int  # how many tokens the model scores (the logits' length)


def candidates(
    loaded: LoadedCheckpoint,
    logits: np.ndarray,
    sampling: Sampling,
    k: int = 10,
    reshaped: tuple[np.ndarray, np.ndarray] | None = None,
) -> Candidates:
    """The ``k`` most likely next tokens. ``reshaped``: (raw, shaped) [vocab] when the caller has
    already computed them from ``logits`` (generate() does, for every step)."""
    raw, shaped = reshaped or (reshape(logits, Sampling()), reshape(logits, sampling))  # [vocab] each
    best = np.argpartition(-raw, k - 1)[:k] if k < raw.shape[-1] else np.arange(raw.shape[-1])  # [k]
    order = best[np.argsort(-raw[best], kind="stable")]  # [k] best first
    tokenizer = loaded.tokenizer
    tokens = tuple(tokenizer.convert_ids_to_tokens([int(i) for i in order]))
    return Candidates(
        token_ids=tuple(int(i) for i in order),
        tokens=tokens,
        texts=tuple(tokenizer.decode([int(i)]) for i in order),
        shown=shown_tokens(tokenizer, tokens),
        raw=tuple(float(raw[i]) for i in order),
        reshaped=tuple(float(shaped[i]) for i in order),
        kept=int((shaped > 0).sum()),
        vocabulary=int(logits.shape[-1]),
    )


@dataclass(frozen=True, kw_only=True)
class Step:
    """One generated token."""

    token_id: int
    text: str  # decoded
    shown: str  # as the screen shows it (token_display)
    probability: float  # of the chosen token, after temperature, top-k and top-p (what sampling draws from)
    model_probability: float  # of the chosen token, softmax(logits): the model's own probability
    alternatives: Candidates


def decoder_ids(loaded: LoadedCheckpoint, generated: list[int]) -> list[int]:
    """An encoder-decoder's decoder input: its start token, then the tokens generated so far."""
    return [decoder_start_id(loaded), *generated]


def next_logits(loaded: LoadedCheckpoint, ids: list[int], generated: list[int]) -> np.ndarray:
    """[vocab] logits for the next token: a decoder after ``ids + generated``; an encoder-decoder's
    decoder after its start token and ``generated``, the encoder reading ``ids``."""
    if loaded.is_encoder_decoder:
        return seq2seq_next_token_logits(loaded, ids, decoder_ids(loaded, generated))
    context = ids + generated
    logits = _recall(loaded, context)
    if logits is None:
        logits = next_token_logits(loaded, context)
        _remember(loaded, context, logits)
    return logits


# The next-token logits of a decoder's last few contexts, per model object (the models are shared and
# never mutated; an evicted model takes its entries with it): a "Next token" click chooses from the
# logits the page has just shown instead of running the model again, and generate() leaves the logits
# after its last token for the candidates the page shows next. Read-only [vocab] float64 arrays.
REMEMBERED = 8  # contexts per model
_remembered: weakref.WeakKeyDictionary[Any, OrderedDict[tuple[int, ...], np.ndarray]] = (
    weakref.WeakKeyDictionary()
)
_remembered_lock = threading.Lock()


def _recall(loaded: LoadedCheckpoint, context: list[int]) -> np.ndarray | None:
    with _remembered_lock:
        kept = _remembered.get(loaded.model)
        if kept is None or tuple(context) not in kept:
            return None
        kept.move_to_end(tuple(context))
        return kept[tuple(context)]


def _remember(loaded: LoadedCheckpoint, context: list[int], logits: np.ndarray) -> None:
    logits.setflags(write=False)  # shared by every session that asks for this context
    with _remembered_lock:
        kept = _remembered.setdefault(loaded.model, OrderedDict())
        kept[tuple(context)] = logits
        while len(kept) > REMEMBERED:
            kept.popitem(last=False)


def generate(
    loaded: LoadedCheckpoint,
    ids: list[int],
    new_tokens: int,
    sampling: Sampling,
    start: int = 0,
    generated: list[int] | None = None,
) -> list[Step]:
    """``new_tokens`` more tokens after ``ids``, one forward pass each. ``start`` numbers the steps
    already taken, so that sampling with a seed gives the same text in one go or step by step.
    Encoder-decoders: ``ids`` is what the encoder reads and ``generated`` what the decoder wrote so
    far (after its start token)."""
    if new_tokens < 1 or new_tokens > MAX_NEW_TOKENS:
        raise InputError(f"Generate between 1 and {MAX_NEW_TOKENS} tokens at a time.")
    generated = list(generated or [])
    if len(ids) + len(generated) + new_tokens > MAX_CONTEXT:
        raise InputError(f"The text would pass {MAX_CONTEXT} tokens: start again with Reset.")
    steps = []
    eos = loaded.tokenizer.eos_token_id
    decoder_only = not loaded.is_encoder_decoder
    known = _recall(loaded, ids + generated) if decoder_only else None  # [vocab] the page's last logits
    stream: Generator[np.ndarray, int, None] | None = None
    if new_tokens == 1 and known is not None:
        logits = known  # one token: chosen from the logits already computed, no forward pass
    else:
        if loaded.is_encoder_decoder:  # the encoder reads once; the decoder continues with a cache
            stream = seq2seq_decode_stream(loaded, ids, decoder_ids(loaded, generated))
        else:  # the key/value cache makes each new token one short pass
            stream = decode_stream(loaded, ids + generated)
        logits = next(stream)  # [vocab]
    for n in range(new_tokens):
        raw = reshape(logits, Sampling())  # [vocab] the model's own distribution
        shaped = reshape(logits, sampling)  # [vocab] what sampling draws from
        chosen = choose(shaped, sampling, start + n)
        steps.append(
            Step(
                token_id=chosen,
                text=loaded.tokenizer.decode([chosen]),
                shown=shown_tokens(loaded.tokenizer, loaded.tokenizer.convert_ids_to_tokens([chosen]))[0],
                probability=float(shaped[chosen]),
                model_probability=float(raw[chosen]),
                alternatives=candidates(loaded, logits, sampling, k=5, reshaped=(raw, shaped)),
            )
        )
        if chosen == eos or n + 1 == new_tokens:
            break
        assert stream is not None, "more than one token runs the stream"
        logits = stream.send(chosen)
    if stream is not None:
        if decoder_only:  # the candidates after the last token: one cached step, not a whole pass
            context = ids + generated + [s.token_id for s in steps]
            _remember(loaded, context, stream.send(steps[-1].token_id))
        stream.close()
    return steps


# --- Logit lens ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogitLens:
    """What each layer would predict as the next token, at each position."""

    tokens: tuple[str, ...]  # [T] the input tokens, decoded (the lens predicts the token after each)
    predicted: tuple[tuple[str, ...], ...]  # [L + 1][T] decoded best token per layer and position
    probability: np.ndarray  # [L + 1, T] its probability
    shown_tokens: tuple[str, ...]  # [T] the input tokens as the screen shows them (token_display)
    shown_predicted: tuple[tuple[str, ...], ...]  # [L + 1][T] the best tokens as shown


def logit_lens(loaded: LoadedCheckpoint, ids: list[int], positions: int = 24) -> LogitLens:
    """What each layer would predict after each of the last ``positions`` tokens (the last row is
    the model's own answer)."""
    ids = ids[-positions:]
    best = lens_logits(loaded, ids, best_tokens)  # [L + 1] of ([T] ids, [T] probabilities)
    tokenizer = loaded.tokenizer
    predicted = tuple(tuple(tokenizer.decode([int(i)]) for i in index) for index, _ in best)
    probability = np.stack([p for _, p in best])  # [L + 1, T]
    scheme = scheme_of(tokenizer)
    shown = tuple(
        shown_tokens(scheme, tokenizer.convert_ids_to_tokens([int(i) for i in index])) for index, _ in best
    )
    return LogitLens(
        tuple(tokenizer.decode([i]) for i in ids),
        predicted,
        probability,
        shown_tokens(scheme, tokenizer.convert_ids_to_tokens(ids)),
        shown,
    )


# --- Masked language models ---------------------------------------------------------------------


@dataclass(frozen=True)
class MaskedPosition:
    position: int
    action: str  # "masked", "random", "unchanged" (selected but kept), or "" (not selected)
    original: str
    shown: str  # what the model is given at this position


def masking_recipe(
    tokenizer: Any, text: str, seed: int, probability: float = 0.15
) -> tuple[MaskedPosition, ...]:
    """The course's recipe through DataCollatorForLanguageModeling: 15% of tokens are selected;
    of those 80% become the mask token, 10% a random token, 10% stay unchanged."""
    import torch
    from transformers import DataCollatorForLanguageModeling

    if tokenizer.mask_token is None:
        raise InputError(
            "This tokenizer has no mask token: the masking recipe is for masked language models."
        )
    encoded = tokenizer(text, truncation=True, max_length=128, return_special_tokens_mask=True)
    collator = DataCollatorForLanguageModeling(
        tokenizer, mlm_probability=probability, return_tensors="pt", seed=seed
    )
    torch.manual_seed(seed)
    batch = collator([encoded])
    original = encoded["input_ids"]
    shown, labels = batch["input_ids"][0].tolist(), batch["labels"][0].tolist()
    positions = []
    for p, (before, after, label) in enumerate(zip(original, shown, labels, strict=True)):
        if label == -100:
            action = ""
        elif after == tokenizer.mask_token_id:
            action = "masked"
        elif after != before:
            action = "random"
        else:
            action = "unchanged"
        positions.append(
            MaskedPosition(
                p, action, tokenizer.convert_ids_to_tokens(before), tokenizer.convert_ids_to_tokens(after)
            )
        )
    return tuple(positions)

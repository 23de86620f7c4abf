"""Zero-shot classification: an NLI head labels sentences with labels the user names.

transformers 5.23 ``pipelines/zero_shot_classification.py``, step by step:

1. each label goes into the hypothesis template (``"This example is {}."``); each sentence (the
   premise) is paired with each hypothesis: ``tokenizer(sentence, hypothesis,
   truncation="only_first")`` (only the sentence is cut when a pair is too long);
2. every pair through the NLI head (here in batches, through :func:`explorer.pipeline.run.task_forward`):
   one logit per relation (entailment, neutral, contradiction…) per pair;
3. the entailment id is the first label in ``config.label2id`` whose name starts with "entail";
   the "against" logit is index 0, or the last one when entailment is 0 (the pipeline's rule, by
   position, not by name). Single-label: softmax of the entailment logits over the labels.
   Multi-label (or one label): per label, softmax over [against, entailment], keep entailment.

Then the same sentences through transformers' own pipeline, and the largest difference.
The computation only: what step ③ of the Pipeline page says and draws of it is
:mod:`explorer.views.tasks.zero_shot`.
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np

from explorer.pipeline import postprocess, tasks
from explorer.pipeline import run as runner

MAX_LABELS = 100  # candidate labels scored (each one is a forward pass per sentence)
PAIRS_PER_FORWARD = 32  # pairs per call of the model
# Tokens of (sentence, hypothesis) pairs one run reads: 8 sentences × 100 labels of 20-token pairs
# (800 such pairs through MiniLM took 61 s here, 2 CPU cores under a load of 11). The first
# sentence always runs: at worst 100 pairs of the model's limit (51,200 tokens for 512).
MAX_PAIR_TOKENS = 16_000
CHECK_PAIRS = 100  # pairs transformers' pipeline re-runs for the check (it runs one pair per forward)
SAME = 1e-5  # largest difference still called "the same" as the pipeline
PIPELINE = "zero-shot-classification"


@dataclass(frozen=True, kw_only=True)
class ParsedList:
    """Items typed in one text box (labels, choices), as the app reads them."""

    items: tuple[str, ...]  # stripped, empty ones dropped, repeats counted once, capped
    repeated: int  # repeats counted once
    typed: int  # distinct items before the cap (more than len(items) when the cap cut some)


@dataclass(frozen=True, kw_only=True)
class PairTokens:
    """One (first, second) text pair as the model receives it."""

    tokens: tuple[str, ...]  # [S] the tokenizer's tokens
    ids: tuple[int, ...]  # [S] input_ids
    segments: tuple[int | None, ...]  # [S] 0 first text, 1 second text, None special token
    type_ids: tuple[int, ...] | None  # [S] token_type_ids, None when the model does not read them


@dataclass(frozen=True, kw_only=True)
class Scores:
    """The zero-shot scores of B sentences against L labels (K relations in the NLI head)."""

    entailment: int  # the entailment logit's index
    against: int  # the logit set against it (multi-label)
    logits: np.ndarray  # [B, L, K] float32 NLI logits of every (sentence, hypothesis) pair
    scores: np.ndarray  # [B, L] the pipeline's scores
    how: str  # "labels": softmax over the labels; "each": per label, against vs entailment
    accepts_types: bool  # the model's forward reads token_type_ids


@dataclass(frozen=True, kw_only=True)
class Check:
    """Our scores against transformers' pipeline on the first ``checked`` sentences."""

    checked: int  # sentences re-run by the pipeline
    largest: float  # largest |difference| of a score (0.0 when the pipeline could not run)
    error: str | None  # why the pipeline could not run (None: it ran)


# --- Inputs ------------------------------------------------------------------------------------


def split_list(text: str, separator: str, cap: int) -> ParsedList:
    """``text`` split on ``separator``, stripped, empty ones dropped, repeats counted once, at most ``cap``."""
    found = [part.strip() for part in (text or "").split(separator) if part.strip()]
    items = tuple(dict.fromkeys(found))
    return ParsedList(items=items[:cap], repeated=len(found) - len(items), typed=len(items))


def parse_labels(text: str) -> ParsedList:
    """The labels as the pipeline reads a string (split on commas), at most MAX_LABELS."""
    return split_list(text, ",", MAX_LABELS)


def entailment_index(config: Any) -> int:
    """The pipeline's entailment id: the first label in ``label2id`` whose name starts with
    "entail" (case-insensitive); -1 when none does."""
    for name, index in (getattr(config, "label2id", None) or {}).items():
        if str(name).lower().startswith(tasks.ENTAILMENT_PREFIX):
            return int(index)
    return -1


def against_index(entailment: int, num_labels: int) -> int:
    """The logit the pipeline sets against entailment (multi-label): index 0, or the last one when
    entailment is 0 (``contradiction_id = -1 if entailment_id == 0 else 0``), as a positive index."""
    return num_labels - 1 if entailment == 0 else 0


def accepts_token_types(loaded: Any) -> bool:
    """Whether the model's forward reads token_type_ids."""
    return "token_type_ids" in inspect.signature(loaded.model.forward).parameters


# --- Pairs through the model -------------------------------------------------------------------


def limit(loaded: Any) -> int:
    """The model's limit in tokens, for a pair with its special tokens."""
    return int(loaded.max_tokens)


def encode_pairs(
    tokenizer: Any, firsts: list[str], seconds: list[str], limit: int, truncation: str = "only_first"
) -> Any:
    """``tokenizer(firsts, seconds)`` padded on the right (positions count from 0) and truncated to
    ``limit`` tokens: "only_first" as the zero-shot pipeline (only the first text is cut)."""
    return tokenizer(
        firsts,
        seconds,
        padding=True,
        padding_side="right",
        truncation=truncation,
        max_length=limit,
        return_special_tokens_mask=True,
    )


def pairs_per_forward(loaded: Any) -> int:
    """PAIRS_PER_FORWARD, or 1 for a model whose config names no pad token: a decoder's
    classifier (GPT-2 style) finds each row's last token by the pad id and refuses padded batches."""
    return PAIRS_PER_FORWARD if getattr(loaded.config, "pad_token_id", None) is not None else 1


def pair_logits(loaded: Any, premises: list[str], hypotheses: list[str]) -> np.ndarray:
    """[N, K] float32 NLI logits of N (premise, hypothesis) pairs, pairs_per_forward at a time."""
    tokenizer = loaded.batch_tokenizer
    most, step = limit(loaded), pairs_per_forward(loaded)
    chunks = []
    for start in range(0, len(premises), step):
        encoded = encode_pairs(
            tokenizer,
            premises[start : start + step],
            hypotheses[start : start + step],
            most,
        )
        inputs = {
            name: np.array(encoded[name], dtype=np.int64)  # [n, S]
            for name in ("input_ids", "attention_mask", "token_type_ids")
            if name in encoded
        }
        chunks.append(runner.task_forward(loaded, inputs, ("logits",))["logits"])  # [n, K]
    return np.concatenate(chunks, axis=0)  # [N, K]


def scores_from_logits(
    logits: np.ndarray, entailment: int, against: int, multi_label: bool
) -> tuple[np.ndarray, str]:
    """[B, L] scores from [B, L, K] NLI logits, as the pipeline's postprocess; and the function
    used ("labels": softmax over the labels, "each": per label, against vs entailment)."""
    labels = logits.shape[1]
    if multi_label or labels == 1:
        pair = logits[..., [against, entailment]]  # [B, L, 2]
        return postprocess.apply("softmax", pair)[..., 1], "each"  # [B, L]
    return postprocess.apply("softmax", logits[..., entailment]), "labels"  # [B, L]


def score(
    loaded: Any, sentences: tuple[str, ...], hypotheses: list[str], entailment: int, multi_label: bool
) -> Scores:
    """Every sentence (premise) against every hypothesis [L]: the NLI logits and the pipeline's scores."""
    num_labels = int(loaded.config.num_labels)
    against = against_index(entailment, num_labels)
    B, L = len(sentences), len(hypotheses)
    premises = [sentence for sentence in sentences for _ in hypotheses]  # [B * L], labels vary fastest
    logits = pair_logits(loaded, premises, hypotheses * B).reshape(B, L, num_labels)  # [B, L, K]
    scores, how = scores_from_logits(logits, entailment, against, multi_label)  # [B, L]
    return Scores(
        entailment=entailment,
        against=against,
        logits=logits,
        scores=scores,
        how=how,
        accepts_types=accepts_token_types(loaded),
    )


def pair_segments(tokenizer: Any, encoded: Any, second: str) -> list[int | None]:
    """0 / 1 / None per token of one encoded pair: the fast tokenizer's sequence ids, else the
    last non-special tokens are the second text (truncation only_first never cuts it)."""
    try:
        return list(encoded.sequence_ids(0))
    except (AttributeError, ValueError):
        pass
    special = list(encoded["special_tokens_mask"][0])
    hypothesis_tokens = len(tokenizer(second, add_special_tokens=False)["input_ids"])
    real = [p for p, flag in enumerate(special) if not flag]
    seconds = set(real[len(real) - hypothesis_tokens :])
    return [None if flag else (1 if p in seconds else 0) for p, flag in enumerate(special)]


def pair_tokens(
    loaded: Any, first: str, second: str, accepts_types: bool, truncation: str = "only_first"
) -> PairTokens:
    """One pair as the model receives it (token_type_ids only if the model reads them)."""
    tokenizer = loaded.batch_tokenizer
    encoded = encode_pairs(tokenizer, [first], [second], limit(loaded), truncation)
    ids = [int(i) for i in encoded["input_ids"][0]]  # [S]
    types = encoded.get("token_type_ids")
    return PairTokens(
        tokens=tuple(tokenizer.convert_ids_to_tokens(ids)),
        ids=tuple(ids),
        segments=tuple(pair_segments(tokenizer, encoded, second)),
        type_ids=tuple(int(t) for t in types[0]) if types is not None and accepts_types else None,
    )


def check(
    loaded: Any,
    sentences: tuple[str, ...],
    labels: tuple[str, ...],
    template: str,
    multi_label: bool,
    scores: np.ndarray,
) -> Check:
    """Our scores [B, L] against transformers' pipeline on the first sentences (CHECK_PAIRS pairs)."""
    checked = max(1, min(len(sentences), CHECK_PAIRS // len(labels)))
    try:
        # With the batch tokenizer (a private copy with a pad token where the checkpoint has none):
        # the pipeline would otherwise set a pad token on the tokenizer every session shares.
        results = runner.transformers_pipeline(
            PIPELINE,
            dataclasses.replace(loaded, tokenizer=loaded.batch_tokenizer),
            list(sentences[:checked]),
            candidate_labels=list(labels),
            hypothesis_template=template,
            multi_label=multi_label,
        )
    except Exception as error:  # a check only: say why it could not run
        return Check(checked=checked, largest=0.0, error=str(error))
    if isinstance(results, dict):
        results = [results]
    largest = 0.0
    for b, result in enumerate(results):
        theirs = dict(zip(result["labels"], result["scores"], strict=True))
        for i, name in enumerate(labels):
            largest = max(largest, abs(float(theirs[name]) - float(scores[b, i])))
    return Check(checked=checked, largest=largest, error=None)


# --- The run's budget --------------------------------------------------------------------------


def too_long(loaded: Any, hypotheses: list[str]) -> list[int]:
    """Indices of hypotheses that leave no room for even one token of the sentence."""
    tokenizer = loaded.batch_tokenizer
    specials = tokenizer.num_special_tokens_to_add(pair=True)
    lengths = [len(ids) for ids in tokenizer(hypotheses, add_special_tokens=False)["input_ids"]]
    return [i for i, n in enumerate(lengths) if n + specials + 1 > limit(loaded)]


def token_counts(loaded: Any, texts: list[str]) -> list[int]:
    """[N] tokens of each text alone (no special tokens)."""
    return [len(ids) for ids in loaded.batch_tokenizer(texts, add_special_tokens=False)["input_ids"]]


def room(loaded: Any, hypotheses: list[str]) -> int:
    """Tokens of a sentence that fit beside the longest hypothesis and the special tokens."""
    specials = loaded.batch_tokenizer.num_special_tokens_to_add(pair=True)
    return limit(loaded) - specials - max(token_counts(loaded, hypotheses))


def sentences_within_budget(loaded: Any, lengths: list[int], hypotheses: list[str]) -> int:
    """How many sentences (from the first) the run scores: each is paired with every label, and
    the pairs' tokens together stay within MAX_PAIR_TOKENS (the first sentence always runs)."""
    fits = room(loaded, hypotheses)
    pair_tokens = limit(loaded) - fits  # the hypothesis and special tokens of the longest pair
    total, kept = 0, 0
    for n in lengths:
        total += (min(n, fits) + pair_tokens) * len(hypotheses)
        if kept and total > MAX_PAIR_TOKENS:
            break
        kept += 1
    return kept

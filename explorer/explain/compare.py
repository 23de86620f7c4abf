"""Two comparisons the course makes with a model, computed for the loaded checkpoint:

- :func:`mask_effect`: the same sentence alone, padded in a batch with its attention mask, and
  padded without it ("Handling multiple sequences"): the mask is what keeps the numbers equal;
- :func:`config_sizes` / :func:`default_config`: the same architecture class with two configs
  (the architecture is code, the config gives its sizes, the checkpoint its weights);
- :func:`random_model` / :func:`random_vs_pretrained`: ``from_config`` (random weights) against
  the pretrained weights on the same text.

Every forward pass goes through ``explorer.pipeline.run.forward``; probabilities come from
``explorer.pipeline.postprocess``. No Streamlit.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from explorer.errors import InputError
from explorer.pipeline import postprocess, tasks
from explorer.pipeline import run as runner
from explorer.pipeline.architecture import HEAD_FIELDS, HIDDEN_FIELDS, LAYER_FIELDS, config_field
from explorer.pipeline.encoding import Encoding, encode_batch, readonly
from explorer.pipeline.loading import LoadedCheckpoint
from explorer.pipeline.run import Outputs

SAME = 1e-5  # "the same numbers" means within this (relative to the largest value when it is above 1)
DIFFERENT = 1e-4  # a difference above this is called a difference
# Only used when the text box has one line (or two of the same length): a longer sentence to pad against.
OTHER_SENTENCE = "This longer sentence is only here so that the first one needs padding in the batch."
RANDOM_SEED = 0


# --- The attention mask's effect -------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class MaskCase:
    """One of the three runs, seen from the sentence being compared."""

    name: str  # "(a) alone", "(b) padded, with its mask", "(c) padded, mask of ones"
    encoding: Encoding  # the batch the model read
    row: int  # the sentence's row in that batch
    mask: np.ndarray  # [S] the attention mask the model was given for that row
    real: np.ndarray  # [S] bool: the sentence's own tokens (not padding)
    values: np.ndarray  # classifier: [labels] logits; else [T, D] last hidden state of its T tokens
    difference: float  # largest |values - values of (a)| (0.0 for (a))
    hidden: np.ndarray  # [T, D] last hidden state of its T tokens (the same as values, but for classifiers)
    hidden_difference: float  # largest |hidden - hidden of (a)|


@dataclass(frozen=True, kw_only=True)
class MaskEffect:
    sentence: str  # the sentence compared (the one that gets padded)
    other: str  # the longer sentence it is batched with
    other_is_fixed: bool  # OTHER_SENTENCE was used (the text box had no longer second line)
    tokens: tuple[str, ...]  # [T] the sentence's tokens
    padding: int  # pad tokens added to it in the batch
    padding_side: str  # "left" or "right"
    output: Literal["logits", "last_hidden_state"]
    labels: tuple[str, ...] | None  # classifier labels, in the head's order
    cases: tuple[MaskCase, MaskCase, MaskCase]  # (a), (b), (c)
    scale: float  # largest |value| of (a): what the differences compare with


def _length(loaded: LoadedCheckpoint, text: str) -> int:
    encoding = encode_batch(loaded.batch_tokenizer, [text], max_length=loaded.max_tokens)
    return int(encoding.lengths[0])


def _pick(loaded: LoadedCheckpoint, sentences: Sequence[str]) -> tuple[str, str, bool]:
    """(the sentence to compare, a longer one to batch it with, whether that one is fixed). Of the
    first two lines, the shorter is the one that gets padded (the course pads its shorter one)."""
    first = sentences[0]
    if len(sentences) > 1:
        second = sentences[1]
        a, b = _length(loaded, first), _length(loaded, second)
        if a < b:
            return first, second, False
        if b < a:
            return second, first, False
    length = _length(loaded, first)
    if length >= loaded.max_tokens:
        raise InputError(
            f"The first sentence already fills the {loaded.max_tokens} tokens the app runs: "
            "there is no room to pad it. Use a shorter first line."
        )
    other = OTHER_SENTENCE
    while _length(loaded, other) <= length:  # at most max_tokens / a few repetitions
        other += " " + OTHER_SENTENCE
    return first, other, True


def forward(
    loaded: LoadedCheckpoint,
    encoding: Encoding,
    *,
    attention_mask: np.ndarray | None = None,
    model: Any = None,
) -> Outputs:
    """``run.forward``, and for a multiple-choice head (which reads [batch, choices, sequence]) the
    same batch with each sentence as its one choice, through ``run.task_forward``: its last hidden
    state [B, S, D] and no logits (one logit per choice says nothing about one sentence)."""
    if loaded.head_class != tasks.MULTIPLE_CHOICE:
        return runner.forward(loaded, encoding, attention_mask=attention_mask, model=model)
    if model is not None:  # the same checkpoint, another model built from its config
        loaded = dataclasses.replace(loaded, model=model)
    _, inputs = runner.model_inputs(loaded.model, encoding)  # each [B, S]
    if attention_mask is not None:
        inputs["attention_mask"] = np.array(attention_mask)  # a writable copy
    choices = {name: np.array(value)[:, None] for name, value in inputs.items()}  # each [B, 1, S]
    hidden = runner.task_forward(loaded, choices, ("hidden_states",))["hidden_states"]  # [L + 1, B, S, D]
    return Outputs(hidden[-1], None)


def _logits(outputs: Outputs) -> np.ndarray:
    """The head's logits (a classifier's [B, labels], a language model's [B, vocab])."""
    if outputs.logits is None:
        raise ValueError("this model's head returned no logits")
    return outputs.logits


def _values(loaded: LoadedCheckpoint, outputs: Outputs, row: int, real: np.ndarray) -> np.ndarray:
    if loaded.head_class == tasks.SEQUENCE_CLASSIFICATION:
        return _logits(outputs)[row]  # [labels]
    return outputs.last_hidden_state[row][real]  # [T, D]


def mask_effect(
    loaded: LoadedCheckpoint, sentences: Sequence[str], padding_side: str | None = None
) -> MaskEffect:
    """Run the sentence (a) alone, (b) padded in a batch with its mask, (c) padded with a mask of
    ones. Decoders pad on the left (``padding_side`` overrides: with right padding a decoder's
    causal attention never reads the padding after the real tokens)."""
    if not sentences:
        raise InputError("There is no sentence to compare.")
    sentence, other, fixed = _pick(loaded, sentences)
    side = padding_side or ("left" if loaded.is_decoder else loaded.batch_tokenizer.padding_side)
    tokenizer = loaded.batch_tokenizer
    alone = encode_batch(tokenizer, [sentence], max_length=loaded.max_tokens)
    batch = encode_batch(tokenizer, [sentence, other], max_length=loaded.max_tokens, padding_side=side)
    real = batch.attention_mask[0].astype(bool)  # [S]
    if not np.array_equal(batch.input_ids[0][real], alone.input_ids[0]):
        raise InputError("The sentence is tokenized differently alone and in the batch; cannot compare.")
    ones = readonly(np.ones_like(batch.attention_mask))  # [2, S]
    out_alone = forward(loaded, alone)
    out_masked = forward(loaded, batch)
    out_ones = forward(loaded, batch, attention_mask=ones)
    everything = np.ones(alone.shape[1], dtype=bool)
    base = _values(loaded, out_alone, 0, everything).astype(np.float64)
    base_hidden = out_alone.last_hidden_state[0].astype(np.float64)  # [T, D]
    cases = []
    for name, encoding, outputs, mask in (
        ("(a) alone", alone, out_alone, alone.attention_mask[0]),
        ("(b) padded, with its attention mask", batch, out_masked, batch.attention_mask[0]),
        ("(c) padded, attention mask of ones", batch, out_ones, ones[0]),
    ):
        row_real = readonly(encoding.attention_mask[0].astype(bool))
        values = readonly(np.array(_values(loaded, outputs, 0, row_real)))
        hidden = readonly(outputs.last_hidden_state[0][row_real])  # [T, D]
        cases.append(
            MaskCase(
                name=name,
                encoding=encoding,
                row=0,
                mask=mask,
                real=row_real,
                values=values,
                difference=float(np.abs(values - base).max()),
                hidden=hidden,
                hidden_difference=float(np.abs(hidden - base_hidden).max()),
            )
        )
    classifier = loaded.head_class == tasks.SEQUENCE_CLASSIFICATION
    return MaskEffect(
        sentence=sentence,
        other=other,
        other_is_fixed=fixed,
        tokens=tuple(alone.tokens[0]),
        padding=int((~real).sum()),
        padding_side=side,
        output="logits" if classifier else "last_hidden_state",
        labels=postprocess.label_names(loaded.config, base.shape[-1]) if classifier else None,
        cases=(cases[0], cases[1], cases[2]),
        scale=float(np.abs(base).max()),
    )


# --- Architecture versus checkpoint --------------------------------------------------------------

# Published sizes (layers, hidden size, attention heads) of well-known checkpoints, by model type:
# a config's defaults are named after one only when all three match.
KNOWN_SIZES: dict[str, tuple[str, int, int, int]] = {
    "bert": ("bert-base", 12, 768, 12),
    "distilbert": ("distilbert-base", 6, 768, 12),
    "roberta": ("roberta-base", 12, 768, 12),
    "gpt2": ("gpt2, the 124M one", 12, 768, 12),
    "albert": ("albert-xxlarge", 12, 4096, 64),
    "llama": ("Llama 7B", 32, 4096, 32),
}


@dataclass(frozen=True, kw_only=True)
class ConfigSizes:
    """The main sizes a config gives an architecture (None where this config has no such field)."""

    layers: int | None
    hidden_size: int | None
    heads: int | None
    key_value_heads: int | None
    intermediate_size: int | None  # the feed-forward width
    vocab_size: int | None
    position_embeddings: int | None  # max_position_embeddings (None: no position table limit here)
    parameters: int  # of the class built from this config (counted on the meta device)


_PARAMETER_COUNTS: dict[tuple[type, str, str], int] = {}  # (config class, its JSON, head class) -> count
_COUNTS_KEPT = 64
_COUNTS_LOCK = threading.Lock()


def count_parameters(config: Any, head_class: str) -> int:
    """Parameters of ``head_class.from_config(config)``, built on the meta device: shapes only,
    no memory for the numbers (a 7B config counts in milliseconds). Remembered per config class and
    content (a few dozen): the model page asks for the same two counts on every rerun."""
    try:
        key = (type(config), config.to_json_string(use_diff=False), head_class)
    except (TypeError, ValueError):  # a config that does not serialize: count it every time
        return _count_parameters(config, head_class)
    with _COUNTS_LOCK:
        known = _PARAMETER_COUNTS.get(key)
    if known is not None:
        return known
    count = _count_parameters(config, head_class)
    with _COUNTS_LOCK:
        if len(_PARAMETER_COUNTS) >= _COUNTS_KEPT:
            _PARAMETER_COUNTS.pop(next(iter(_PARAMETER_COUNTS)))
        _PARAMETER_COUNTS[key] = count
    return count


def _count_parameters(config: Any, head_class: str) -> int:
    import torch
    import transformers

    with torch.device("meta"):
        model = getattr(transformers, head_class).from_config(copy.deepcopy(config))
    return sum(p.numel() for p in model.parameters())


def config_sizes(config: Any, head_class: str) -> ConfigSizes:
    hidden = config_field(config, *HIDDEN_FIELDS)
    intermediate = config_field(config, "intermediate_size", "n_inner", "hidden_dim", "d_ff")
    if intermediate is None and hasattr(config, "n_inner") and hidden:
        intermediate = 4 * hidden  # GPT-2: n_inner=None means 4 x hidden
    return ConfigSizes(
        layers=config_field(config, *LAYER_FIELDS),
        hidden_size=hidden,
        heads=config_field(config, *HEAD_FIELDS),
        key_value_heads=config_field(config, "num_key_value_heads"),
        intermediate_size=intermediate,
        vocab_size=config_field(config, "vocab_size"),
        position_embeddings=config_field(config, "max_position_embeddings", "n_positions"),
        parameters=count_parameters(config, head_class),
    )


def default_config(config: Any) -> Any | None:
    """``type(config)()``: the class's own defaults (None if the class needs arguments)."""
    try:
        return type(config)()
    except Exception:
        return None


def known_size(config: Any) -> str | None:
    """The well-known checkpoint whose layers, hidden size and heads the config has, if any."""
    known = KNOWN_SIZES.get(str(getattr(config, "model_type", "")))
    if known is None:
        return None
    sizes = (
        config_field(config, "num_hidden_layers", "n_layer", "n_layers"),
        config_field(config, "hidden_size", "n_embd", "dim"),
        config_field(config, "num_attention_heads", "n_head", "n_heads"),
    )
    return known[0] if sizes == known[1:] else None


# --- Random weights against the pretrained ones --------------------------------------------------


def random_model(loaded: LoadedCheckpoint, seed: int = RANDOM_SEED) -> Any:
    """The same class built from the same config with ``from_config``: random weights (seeded, so
    the same every time), float32, eager attention, eval mode. The shared config is not touched."""
    import torch
    import transformers

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = getattr(transformers, loaded.head_class).from_config(
            copy.deepcopy(loaded.config), attn_implementation="eager", dtype=torch.float32
        )
    return model.eval()


Comparison = Literal["similarity", "labels", "next token"]


@dataclass(frozen=True, kw_only=True)
class RandomComparison:
    """Pretrained and random weights on the same sentences."""

    kind: Comparison
    encoding: Encoding  # the batch both models read (two sentences)
    pretrained: Outputs
    random: Outputs
    weight_name: str  # a tensor compared between the two models
    weight_difference: float  # its largest |pretrained - random|
    similarity: tuple[float, float] | None  # (pretrained, random) cosine of the mean-pooled vectors
    classifications: tuple[tuple, tuple] | None  # (pretrained, random) postprocess.classify results
    next_tokens: tuple[tuple, tuple] | None  # (pretrained, random) postprocess.Prediction per sentence
    other_is_fixed: bool  # OTHER_SENTENCE was added (the text box had one line)


def mean_pooled(outputs: Outputs, encoding: Encoding) -> np.ndarray:
    """[B, D] average of each sentence's real token vectors (how MiniLM was trained to embed)."""
    mask = encoding.attention_mask[..., None].astype(np.float64)  # [B, S, 1]
    return (outputs.last_hidden_state * mask).sum(1) / mask.sum(1)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))


def _first_weight(pretrained: Any, random: Any) -> tuple[str, float]:
    """The input embedding matrix (or the first tensor): its largest difference between models."""
    embeddings = pretrained.get_input_embeddings()
    mine = dict(pretrained.named_parameters())
    name = next((n for n, p in mine.items() if p is embeddings.weight), next(iter(mine)))
    theirs = dict(random.named_parameters())[name]
    return name, float((mine[name].detach().double() - theirs.detach().double()).abs().max())


def random_vs_pretrained(
    loaded: LoadedCheckpoint, sentences: Sequence[str], seed: int = RANDOM_SEED, model: Any = None
) -> RandomComparison:
    """The pretrained model and ``random_model(loaded, seed)`` (or ``model``) on the first two
    sentences (a fixed second one when there is one): the cosine similarity of their mean-pooled
    vectors (encoders), the labels (classifiers), or the next token's top 3 (decoders)."""
    texts = list(sentences[:2])
    fixed = len(texts) < 2
    if fixed:
        texts.append(OTHER_SENTENCE)
    side = "left" if loaded.is_decoder else None
    encoding = encode_batch(loaded.batch_tokenizer, texts, max_length=loaded.max_tokens, padding_side=side)
    random = model if model is not None else random_model(loaded, seed)
    pretrained_out = forward(loaded, encoding)
    random_out = forward(loaded, encoding, model=random)
    name, difference = _first_weight(loaded.model, random)
    similarity = classifications = next_tokens = None
    kind: Comparison
    if loaded.head_class == tasks.SEQUENCE_CLASSIFICATION:
        kind = "labels"
        classifications = (
            postprocess.classify(_logits(pretrained_out), loaded.config),
            postprocess.classify(_logits(random_out), loaded.config),
        )
    elif loaded.head_class == tasks.CAUSAL_LM:
        kind = "next token"
        ends = np.stack([np.arange(encoding.shape[0]), encoding.last_real], axis=1)  # [B, 2]
        next_tokens = (
            postprocess.token_predictions(_logits(pretrained_out), ends, loaded.tokenizer, top_k=3),
            postprocess.token_predictions(_logits(random_out), ends, loaded.tokenizer, top_k=3),
        )
    else:
        kind = "similarity"
        p, r = mean_pooled(pretrained_out, encoding), mean_pooled(random_out, encoding)  # [2, D]
        similarity = (cosine(p[0], p[1]), cosine(r[0], r[1]))
    return RandomComparison(
        kind=kind,
        encoding=encoding,
        pretrained=pretrained_out,
        random=random_out,
        weight_name=name,
        weight_difference=difference,
        similarity=similarity,
        classifications=classifications,
        next_tokens=next_tokens,
        other_is_fixed=fixed,
    )

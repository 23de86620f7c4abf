"""Token attributions: which input tokens made the model give its answer ("Why this prediction?").

For one sentence and one target (a classifier's label, a decoder's next token, a masked LM's word
at its blank), :func:`compute` returns each token's contribution by three methods, and what
attention says about the same prediction:

- **Integrated Gradients** (captum's ``LayerIntegratedGradients``) on the input embeddings, from a
  named baseline (every word token replaced by the pad or the mask token; special tokens and
  padding kept, and a decoder's first token, see :func:`keeps_first_token`), with its completeness check: the attributions add up to f(input) - f(baseline),
  where f is the target's logit; the number of steps is doubled until the relative error is under
  :data:`TOLERANCE`, or the result says it could not get there within the step cap;
- **Gradient × input**: one backward pass, the gradient of the same logit times the embeddings;
- **Occlusion**: each word replaced by the mask token or the pad token, or removed, and the
  target's probability recomputed by the model (the change: the probability with the word minus
  the probability without it);
- **attention**: the last layer's attention from the token the head reads (heads averaged), and
  attention rollout (Abnar & Zuidema 2020) through every layer.

The shared model is never changed: the differentiated input is an embeddings tensor built from the
model's own embedding matrix (``explorer.pipeline.run.gradient_forward``); the only hook captum attaches is on
a private ``torch.nn.Identity`` made for each call; weights keep ``requires_grad`` as loaded and
the model stays in eval mode. Model calls are in ``explorer.pipeline.run``; probabilities come from
``explorer.pipeline.postprocess``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from explorer.errors import InputError
from explorer.pipeline import postprocess, tasks
from explorer.pipeline import run as runner
from explorer.pipeline.encoding import Encoding, readonly
from explorer.pipeline.loading import LoadedCheckpoint
from explorer.pipeline.token_display import TokenScheme, scheme_of, shown_tokens

METHODS = ("Integrated Gradients", "Gradient × input", "Occlusion")
BASELINES = ("pad token", "mask token")
OCCLUSIONS = ("mask token", "pad token", "removed")
TOLERANCE = 0.05  # completeness: |sum - (f(x) - f(baseline))| / |f(x) - f(baseline)| under this
DELTA_FLOOR = (
    0.01  # the denominator above is at least this (logits), so a tiny difference is not divided by ~0
)
FIRST_STEPS = 16
MAX_STEPS = 256
STEP_BUDGET = 8192  # steps × tokens at most (the step cap is lower for long sentences)
MAX_TOKENS = 128  # longest sentence (tokens, specials included) attributed
MAX_SECONDS = 60.0  # steps are not doubled again when the next round would end after this
CHUNK_VALUES = 2**23  # tokens × layers × hidden per captum batch (bounds memory)

Progress = Callable[[float, str], None]
T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class Target:
    """The prediction explained: ``index`` of the head's output at token ``position``."""

    kind: str  # "label", "next token" or "masked word"
    position: int  # token position whose logits are explained (a classifier: the position its head reads)
    index: int  # label index or token id
    name: str  # the label, or the token as the tokenizer writes it
    function: postprocess.Function  # how its logit becomes a probability (or a score)
    text: str = ""  # a token as the screen shows it (token_display, e.g. "␣Paris"); "" for a label

    @property
    def shown(self) -> str:
        return self.text or self.name


@dataclass(frozen=True, kw_only=True)
class Completeness:
    """Integrated Gradients' completeness check at the step count used."""

    steps: int
    total: float  # sum of the attributions
    difference: float  # f(input) - f(baseline)
    relative_error: float  # |total - difference| / max(|difference|, DELTA_FLOOR)
    converged: bool  # relative_error < TOLERANCE
    history: tuple[tuple[int, float], ...]  # (steps, relative error) for every step count tried
    step_cap: int  # the most steps allowed for this sentence
    stopped: str = ""  # why the doubling stopped short of TOLERANCE: "steps" (the cap), "time" (MAX_SECONDS)
    seconds: float = 0.0  # every step count tried, together


@dataclass(frozen=True, kw_only=True)
class Attributions:
    """Every method's attribution of one target, one value per token position [S]."""

    sentence: str
    tokens: tuple[str, ...]  # [S] as the model reads them, padding included
    ids: tuple[int, ...]  # [S]
    real: np.ndarray  # [S] bool: not padding
    special: np.ndarray  # [S] bool: special tokens (and padding)
    words: tuple[int, ...]  # [S] word index of each token (-1: special token or padding)
    word_texts: tuple[str, ...]  # [W] each word as its tokens decode
    target: Target
    logit: float  # f(input): the target's logit
    score: float  # its probability (or a regression score)
    integrated_gradients: np.ndarray  # [S]
    baseline: str  # BASELINES entry
    baseline_token: str  # the token that replaces every word token in the baseline
    baseline_logit: float  # f(baseline)
    baseline_keeps_first: bool  # the baseline keeps the first real token (decoders)
    completeness: Completeness
    gradient_x_input: np.ndarray  # [S]
    occlusion: np.ndarray  # [S] each token carries its word's change in the target's probability
    occlusion_mode: str  # OCCLUSIONS entry
    occlusion_token: str | None  # the token put in the word's place (None when removed)
    occluded_scores: tuple[
        float, ...
    ]  # [W] the target's probability with each word occluded (nan: not occluded)
    attention: np.ndarray  # [S] last layer, heads averaged, from the position the head reads
    rollout: np.ndarray  # [S] attention rollout from the same position
    attention_position: int
    seconds: dict[str, float]  # per method
    scheme: TokenScheme  # the tokenizer's alphabet, to show its pieces (token_display)

    @property
    def shown(self) -> tuple[str, ...]:
        """[S] the tokens as the screen shows them."""
        return shown_tokens(self.scheme, self.tokens)

    def show(self, piece: str) -> str:
        """One piece of this tokenizer as the screen shows it."""
        return shown_tokens(self.scheme, [piece])[0]


# --- Inputs -----------------------------------------------------------------------------------


def row(encoding: Encoding, b: int) -> Encoding:
    """Sentence ``b`` of the batch as a batch of one (its padding kept)."""
    if not 0 <= b < encoding.shape[0]:
        raise InputError(f"There is no sentence {b} in this batch of {encoding.shape[0]}.")
    return encoding.cut(rows=slice(b, b + 1))


def ids_encoding(
    tokenizer,
    rows: Sequence[Sequence[int]],
    sentences: Sequence[str] | None = None,
    token_type_ids: bool = False,
    padding_side: str | None = None,
) -> Encoding:
    """A padded batch made from token ids (e.g. a prompt in its chat template, or occluded copies
    of a sentence), padded on the tokenizer's side with its pad token."""
    if tokenizer.pad_token_id is None:
        raise InputError("This tokenizer has no pad token; use the checkpoint's batch tokenizer.")
    width = max(len(r) for r in rows)
    side = padding_side or tokenizer.padding_side
    pad, left = int(tokenizer.pad_token_id), side == "left"
    ids = np.full((len(rows), width), pad, dtype=np.int64)  # [B, S]
    mask = np.zeros((len(rows), width), dtype=np.int64)  # [B, S]
    special = np.ones((len(rows), width), dtype=np.int64)  # [B, S]
    tokens = []
    for i, one in enumerate(rows):
        one = [int(t) for t in one]
        start = width - len(one) if left else 0
        ids[i, start : start + len(one)] = one
        mask[i, start : start + len(one)] = 1
        special[i, start : start + len(one)] = tokenizer.get_special_tokens_mask(
            one, already_has_special_tokens=True
        )
        tokens.append(tuple(tokenizer.convert_ids_to_tokens(ids[i].tolist())))
    scheme = scheme_of(tokenizer)
    return Encoding(
        sentences=tuple(sentences) if sentences else tuple(tokenizer.decode(r) for r in rows),
        pairs=None,
        tokens=tuple(tokens),
        shown=tuple(shown_tokens(scheme, row) for row in tokens),
        scheme=scheme,
        input_ids=readonly(ids),
        attention_mask=readonly(mask),
        token_type_ids=readonly(np.zeros_like(ids)) if token_type_ids else None,
        special_tokens_mask=readonly(special),
        offsets=None,
        truncated=(0,) * len(rows),
        pad_token=tokenizer.pad_token,
        pad_token_id=pad,
        padding_side=side,
        max_length=None,
        padded=True,
    )


def words(encoding: Encoding, tokenizer) -> tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]:
    """([S] word index per token, -1 for special tokens and padding; [W] positions of each word).
    A word is a run of tokens with no whitespace between them (read from the character offsets,
    else from each token decoded on its own)."""
    real = encoding.attention_mask[0] == 1
    special = encoding.special_tokens_mask[0] == 1
    text = encoding.sentences[0]
    index = [-1] * encoding.shape[1]
    groups: list[list[int]] = []
    previous_end = None
    for s in range(encoding.shape[1]):
        if not real[s] or special[s]:
            previous_end = None
            continue
        if encoding.offsets is not None:
            start, end = (int(x) for x in encoding.offsets[0, s])
            starts_word = (
                previous_end is None or start != previous_end or (start < len(text) and text[start].isspace())
            )
            previous_end = end
        else:
            piece = tokenizer.decode([int(encoding.input_ids[0, s])])
            starts_word = previous_end is None or piece[:1].isspace() or piece == ""
            previous_end = s
        if starts_word or not groups:
            groups.append([])
        groups[-1].append(s)
        index[s] = len(groups) - 1
    return tuple(index), tuple(tuple(g) for g in groups)


def check_length(encoding: Encoding) -> None:
    length = int(encoding.attention_mask[0].sum())
    if length > MAX_TOKENS:
        raise InputError(
            f"Attributions are computed for sentences of at most {MAX_TOKENS} tokens on this server "
            f"(Integrated Gradients runs the model {MAX_STEPS} times at most); this one has {length}. "
            "Use a shorter sentence."
        )


def probability(target: Target, logits: np.ndarray) -> np.ndarray:
    """[B] the target's probability (or regression score) from [B, K] logits."""
    return postprocess.apply(target.function, np.asarray(logits, dtype=np.float64))[:, target.index]


# --- The methods ----------------------------------------------------------------------------------


def _baseline_ids(
    loaded: LoadedCheckpoint, encoding: Encoding, baseline: str, target: Target | None = None
) -> tuple[np.ndarray, str]:
    """[S] the baseline's ids: word tokens replaced by the pad (or mask) token; special tokens,
    padding, a decoder's first token and a masked LM's blank (the question itself) kept."""
    tokenizer = loaded.batch_tokenizer
    if baseline == BASELINES[1] and tokenizer.mask_token_id is not None:
        token_id, token = tokenizer.mask_token_id, tokenizer.mask_token
    else:
        token_id, token = tokenizer.pad_token_id, tokenizer.pad_token
    ids = np.array(encoding.input_ids[0])  # [S], a copy to overwrite
    keep = (encoding.attention_mask[0] == 0) | (encoding.special_tokens_mask[0] == 1)
    if keeps_first_token(loaded):
        keep[int(np.flatnonzero(encoding.attention_mask[0])[0])] = True
    if target is not None and target.kind == "masked word":
        keep[target.position] = True
    ids[~keep] = int(token_id)
    return ids, str(token)


def reads_last_token(loaded: LoadedCheckpoint) -> bool:
    """A classifier on a causal body (LlamaForSequenceClassification and its kin): its head reads
    the last token that is not the pad token id. Given embeddings instead of ids (the gradient
    methods) it cannot tell padding apart and reads the last position, so a row must not end with
    padding. Read from the model: its attention modules say they are causal."""
    if loaded.head_class != tasks.SEQUENCE_CLASSIFICATION:
        return False
    return any(getattr(module, "is_causal", False) is True for module in loaded.model.modules())


def without_end_padding(encoding: Encoding) -> Encoding:
    """The one-sentence ``encoding`` without the padding after its last real token."""
    return encoding.cut(columns=slice(0, int(encoding.last_real[0]) + 1))


def keeps_first_token(loaded: LoadedCheckpoint) -> bool:
    """Whether the baseline keeps the first real token: a decoder puts much of its attention on its
    first position (an "attention sink"), so replacing it changes every layer's attention at once
    and the straight path from such a baseline is too curved for the integral to converge (on the
    bundled SmolLM2 the relative error stays above 100% at 256 steps; keeping it: about 1% at 32)."""
    return loaded.is_decoder or reads_last_token(loaded)


def usable(loaded: LoadedCheckpoint, choice: str) -> str:
    """``choice`` (a BASELINES or OCCLUSIONS entry), or the pad token's entry when it names the
    mask token and this tokenizer has none."""
    if choice == "mask token" and loaded.batch_tokenizer.mask_token_id is None:
        return "pad token"
    return choice


def step_cap(tokens: int) -> int:
    """The most Integrated Gradients steps for a sentence of ``tokens`` tokens (a power of 2)."""
    cap = FIRST_STEPS
    while cap * 2 <= min(MAX_STEPS, STEP_BUDGET // max(tokens, 1)):
        cap *= 2
    return cap


def integrated_gradients(
    loaded: LoadedCheckpoint,
    encoding: Encoding,
    target: Target,
    baseline: str = BASELINES[0],
    progress: Progress | None = None,
) -> tuple[np.ndarray, Completeness, float, float, str]:
    """([S] attributions, the completeness check, f(input), f(baseline), the baseline's token) for
    the one-sentence ``encoding``. Steps are doubled from FIRST_STEPS until the check passes."""
    import torch
    from captum.attr import LayerIntegratedGradients

    forward = runner.gradient_forward(loaded, encoding, 0, target.position)
    base_ids, base_token = _baseline_ids(loaded, encoding, baseline, target)
    base = torch.from_numpy(base_ids[None, :])  # [1, S]
    tap = torch.nn.Identity()  # captum hooks this private module, never the shared model

    def from_ids(ids):
        return forward.scores(tap(forward.embed(ids)))  # [n, K]

    with torch.no_grad():
        f_input = float(forward.scores(forward.embed(forward.input_ids))[0, target.index])
        f_base = float(forward.scores(forward.embed(base))[0, target.index])
    ig = LayerIntegratedGradients(from_ids, tap)

    def attribute(steps: int) -> np.ndarray:
        if progress:
            progress(0.0, f"Integrated Gradients: {steps} steps…")
        with torch.enable_grad():
            attributions = ig.attribute(
                forward.input_ids,
                baselines=base,
                target=target.index,
                n_steps=steps,
                internal_batch_size=min(_chunk(loaded, encoding.shape[1]), steps),
            )  # [1, S, E]
        return attributions.detach()[0].sum(-1).double().numpy()  # [S]

    cap = step_cap(int(encoding.attention_mask[0].sum()))
    values, check = _doubling(attribute, f_input - f_base, cap)
    return values, check, f_input, f_base, base_token


def _chunk(loaded: LoadedCheckpoint, length: int) -> int:
    """Integrated Gradients steps run together, so that one batch holds about CHUNK_VALUES numbers."""
    config = loaded.config
    layers = getattr(config, "num_hidden_layers", None) or getattr(config, "n_layer", None) or 1
    hidden = getattr(config, "hidden_size", None) or getattr(config, "n_embd", None) or 64
    return max(1, CHUNK_VALUES // (int(layers) * int(hidden) * length))


def _doubling(
    attribute: Callable[[int], np.ndarray], difference: float, cap: int
) -> tuple[np.ndarray, Completeness]:
    """Run ``attribute(steps)`` from FIRST_STEPS steps, doubling until the attributions add up to
    ``difference`` within TOLERANCE, the step ``cap`` is reached, or the next round would pass
    MAX_SECONDS; returns the last [S] attributions and the completeness check."""
    steps, spent, stopped = FIRST_STEPS, 0.0, ""
    history: list[tuple[int, float]] = []
    while True:
        started = time.perf_counter()
        values = attribute(steps)  # [S]
        total = float(values.sum())
        error = abs(total - difference) / max(abs(difference), DELTA_FLOOR)
        history.append((steps, error))
        took = time.perf_counter() - started
        spent += took
        if error < TOLERANCE:
            break
        if steps * 2 > cap:
            stopped = "steps"
            break
        if spent + 2 * took > MAX_SECONDS:  # twice the steps take about twice as long
            stopped = "time"
            break
        steps *= 2
    check = Completeness(
        steps=steps,
        total=total,
        difference=difference,
        relative_error=error,
        converged=error < TOLERANCE,
        history=tuple(history),
        step_cap=cap,
        stopped=stopped,
        seconds=spent,
    )
    return values, check


def gradient_x_input(loaded: LoadedCheckpoint, encoding: Encoding, target: Target) -> np.ndarray:
    """[S] the gradient of the target's logit with respect to each input embedding, times that
    embedding, summed over the embedding's dimensions (one backward pass)."""
    import torch
    from captum.attr import InputXGradient

    forward = runner.gradient_forward(loaded, encoding, 0, target.position)
    with torch.no_grad():
        embeddings = forward.embed(forward.input_ids).detach().clone()  # [1, S, E], not a weight
    embeddings.requires_grad_(True)
    with torch.enable_grad():
        attributions = InputXGradient(forward.scores).attribute(embeddings, target=target.index)
    return attributions.detach()[0].sum(-1).double().numpy()  # [S]


def occlusion(
    loaded: LoadedCheckpoint,
    encoding: Encoding,
    target: Target,
    groups: Sequence[Sequence[int]],
    mode: str = OCCLUSIONS[0],
) -> tuple[np.ndarray, tuple[float, ...], str | None]:
    """([S] each token carries its word's change in the target's probability, [W] the probability
    with each word occluded, the token put in its place). Every occluded copy is run by the model.
    The blank a masked LM fills is never occluded (nan)."""
    tokenizer = loaded.batch_tokenizer
    if mode == OCCLUSIONS[0] and tokenizer.mask_token_id is not None:
        put, token = [int(tokenizer.mask_token_id)], tokenizer.mask_token
    elif mode == OCCLUSIONS[1]:
        put, token = [int(tokenizer.pad_token_id)], tokenizer.pad_token
    else:
        put, token = [], None
    real = np.flatnonzero(encoding.attention_mask[0])  # positions of the real tokens
    ids = [int(i) for i in encoding.input_ids[0, real]]
    rows, positions, which = _occluded_rows(ids, int(real[0]), target, groups, put)
    original = float(probability(target, runner.target_logits(loaded, encoding, [target.position]))[0])
    scores = [float("nan")] * len(groups)
    chunk = max(1, 4096 // max(len(ids), 1))
    for start in range(0, len(rows), chunk):
        found = _occluded_scores(
            loaded, encoding, target, rows[start : start + chunk], positions[start : start + chunk]
        )
        for w, value in zip(which[start : start + chunk], found, strict=True):
            scores[w] = float(value)
    values = np.zeros(encoding.shape[1])  # [S]
    for w, group in enumerate(groups):
        if not np.isnan(scores[w]):
            values[list(group)] = original - scores[w]
    return values, tuple(scores), token


def _occluded_rows(
    ids: list[int], first: int, target: Target, groups: Sequence[Sequence[int]], put: list[int]
) -> tuple[list[list[int]], list[int], list[int]]:
    """(the sentence's real ``ids`` with each word replaced by ``put``, the target's position in
    each copy, which word each copy occludes). ``first``: the first real token's position. The
    blank a masked LM fills, and words after a decoder's target (it cannot see them), are skipped."""
    here = target.position - first  # the target's position among the real tokens
    rows, positions, which = [], [], []
    for w, group in enumerate(groups):
        local = [p - first for p in group]
        if target.kind == "masked word" and here in local:
            continue  # the blank itself
        if target.kind == "next token" and local[0] > here:
            continue  # after the target: a decoder cannot see it (0)
        new = ids[: local[0]] + put + ids[local[-1] + 1 :]
        if local[-1] < here:
            position = here - len(local) + len(put)
        elif local[0] > here or target.kind == "label":
            position = here
        else:  # a decoder's next token after an occluded last word: after what took its place
            position = local[0] + len(put) - 1
        if not new or position < 0:
            continue
        rows.append(new)
        positions.append(position)
        which.append(w)
    return rows, positions, which


def _occluded_scores(
    loaded: LoadedCheckpoint, encoding: Encoding, target: Target, part: list[list[int]], positions: list[int]
) -> np.ndarray:
    """[N] the target's probability in each occluded copy ``part`` (run as one padded batch)."""
    batch = ids_encoding(
        loaded.batch_tokenizer,
        part,
        token_type_ids=encoding.token_type_ids is not None,
        # a decoder's rows padded on the left all end at the last column: its LM head runs once per row
        padding_side="left" if target.kind == "next token" else None,
    )
    left = batch.padding_side == "left"
    width = batch.shape[1]
    where = [(width - len(r) + p) if left else p for r, p in zip(part, positions, strict=True)]
    return probability(target, runner.target_logits(loaded, batch, where))


def attention_position(loaded: LoadedCheckpoint, encoding: Encoding, target: Target) -> int:
    """The position whose vector the head reads: a language model's target position; an encoder
    classifier's first real token; a decoder classifier's (a ``score`` head) last real token."""
    if target.kind != "label":
        return target.position
    return _read_position(loaded, encoding)


def _read_position(loaded: LoadedCheckpoint, encoding: Encoding) -> int:
    """The position a sequence classifier's head reads in sentence 0: its last real token for a
    decoder classifier (a ``score`` head), else its first real token."""
    if reads_last_token(loaded):
        return int(encoding.last_real[0])
    return int(np.flatnonzero(encoding.attention_mask[0])[0])


def rollout(attentions: np.ndarray, position: int) -> np.ndarray:
    """[S] attention rollout from ``position``: each layer's head-averaged attention [S, S] mixed
    half and half with the identity (the residual connection), rows renormalised, multiplied from
    the first layer to the last. ``attentions``: [L, H, S, S]."""
    size = attentions.shape[-1]
    result = np.eye(size)
    for layer in attentions.astype(np.float64):
        mixed = 0.5 * layer.mean(axis=0) + 0.5 * np.eye(size)
        mixed /= mixed.sum(axis=-1, keepdims=True)
        result = mixed @ result
    return result[position]


def attention(loaded: LoadedCheckpoint, encoding: Encoding, position: int) -> tuple[np.ndarray, np.ndarray]:
    """([S] the last layer's attention from ``position``, heads averaged; [S] rollout)."""
    attentions = runner.run_model(loaded, encoding, attentions=True).attentions  # [L, 1, H, S, S]
    if attentions is None:
        raise ValueError("run_model(..., attentions=True) kept no attentions")
    weights = attentions[:, 0]  # [L, H, S, S]
    return weights[-1].mean(axis=0)[position].astype(np.float64), rollout(weights, position)


# --- Targets ----------------------------------------------------------------------------------------


def classifier_target(loaded: LoadedCheckpoint, encoding: Encoding, label: str | None) -> Target:
    """The label ``label`` (None: the predicted one) of a sequence classifier, for sentence 0."""
    logits = runner.target_logits(loaded, encoding, [0])  # [1, labels]
    result = postprocess.classify(logits, loaded.config)[0]
    name = label if label in result.labels else result.predicted
    position = _read_position(loaded, encoding)
    return Target(
        kind="label", position=position, index=result.labels.index(name), name=name, function=result.function
    )


def token_target(
    loaded: LoadedCheckpoint, encoding: Encoding, position: int, token: str | None, kind: str
) -> Target:
    """The token ``token`` (None or unknown: the most likely) at ``position`` of sentence 0."""
    logits = runner.target_logits(loaded, encoding, [position])[0]  # [vocab]
    tokenizer = loaded.tokenizer
    token_id = tokenizer.convert_tokens_to_ids(token) if token else None
    if (
        token_id is None
        or token_id == tokenizer.unk_token_id
        and token != tokenizer.unk_token
        or not 0 <= token_id < len(logits)
    ):
        token_id = int(np.argmax(logits))
    name = tokenizer.convert_ids_to_tokens(int(token_id))
    return Target(
        kind=kind,
        position=position,
        index=int(token_id),
        name=name,
        function="softmax",
        text=shown_tokens(tokenizer, [name])[0],
    )


def last_position(encoding: Encoding) -> int:
    return int(encoding.last_real[0])


# --- Everything --------------------------------------------------------------------------------------


def _one_sentence(loaded: LoadedCheckpoint, encoding: Encoding) -> Encoding:
    """The batch of one sentence checked (one sentence, not too long, not an encoder-decoder), and
    cut after its last real token for a classifier that reads it (see :func:`reads_last_token`)."""
    if encoding.shape[0] != 1:
        raise ValueError("compute() takes a batch of one sentence (see row()).")
    if loaded.is_encoder_decoder:
        raise InputError("Attributions are not available for encoder-decoders here.")
    check_length(encoding)
    return without_end_padding(encoding) if reads_last_token(loaded) else encoding


class _Clock:
    """Seconds per method, with the progress callback told before each."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.seconds: dict[str, float] = {}

    def at(self, fraction: float) -> Progress:
        """A progress callback that reports ``fraction`` whatever fraction it is given."""

        def report(_fraction: float, text: str) -> None:
            if self.progress:
                self.progress(fraction, text)

        return report

    def run(self, name: str, fraction: float, text: str, work: Callable[[], T]) -> T:
        self.at(fraction)(fraction, text)
        started = time.perf_counter()
        result = work()
        self.seconds[name] = time.perf_counter() - started
        return result


def compute(
    loaded: LoadedCheckpoint,
    encoding: Encoding,
    target: Target,
    baseline: str = BASELINES[0],
    occlusion_mode: str = OCCLUSIONS[0],
    progress: Progress | None = None,
) -> Attributions:
    """Every method on the one-sentence ``encoding`` (see :func:`row`) for ``target``. Raises
    InputError for a sentence over MAX_TOKENS tokens or an encoder-decoder."""
    encoding = _one_sentence(loaded, encoding)
    baseline, occlusion_mode = usable(loaded, baseline), usable(loaded, occlusion_mode)
    clock = _Clock(progress)
    ig, check, f_input, f_base, base_token = clock.run(
        METHODS[0],
        0.0,
        "Integrated Gradients…",
        lambda: integrated_gradients(loaded, encoding, target, baseline, clock.at(0.1)),
    )
    gxi = clock.run(METHODS[1], 0.6, "Gradient × input…", lambda: gradient_x_input(loaded, encoding, target))
    index, groups = words(encoding, loaded.batch_tokenizer)
    occluded, occluded_scores, occlusion_token = clock.run(
        METHODS[2], 0.7, "Occlusion…", lambda: occlusion(loaded, encoding, target, groups, occlusion_mode)
    )
    position = attention_position(loaded, encoding, target)
    last, rolled = clock.run("attention", 0.9, "Attention…", lambda: attention(loaded, encoding, position))
    clock.at(1.0)(1.0, "Done.")
    ids = [int(i) for i in encoding.input_ids[0]]
    tokenizer = loaded.batch_tokenizer
    real = encoding.attention_mask[0] == 1
    return Attributions(
        sentence=encoding.sentences[0],
        tokens=tuple(encoding.tokens[0]),
        ids=tuple(ids),
        real=real,
        special=(encoding.special_tokens_mask[0] == 1) | ~real,
        words=index,
        word_texts=tuple(tokenizer.decode([ids[p] for p in group]).strip() for group in groups),
        target=target,
        logit=f_input,
        score=_score(loaded, encoding, target),
        integrated_gradients=ig,
        baseline=baseline,
        baseline_token=base_token,
        baseline_logit=f_base,
        baseline_keeps_first=keeps_first_token(loaded),
        completeness=check,
        gradient_x_input=gxi,
        occlusion=occluded,
        occlusion_mode=occlusion_mode,
        occlusion_token=occlusion_token,
        occluded_scores=occluded_scores,
        attention=last,
        rollout=rolled,
        attention_position=position,
        seconds=clock.seconds,
        scheme=encoding.scheme,
    )


def _score(loaded: LoadedCheckpoint, encoding: Encoding, target: Target) -> float:
    return float(probability(target, runner.target_logits(loaded, encoding, [target.position]))[0])

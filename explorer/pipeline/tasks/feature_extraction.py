"""Feature extraction: token vectors -> pooling -> one vector per sentence (sentence embeddings).

As ``pipeline("feature-extraction")`` returns the last layer's token vectors [B, S, D], and
sentence-transformers then pools them into one vector per sentence as the checkpoint's own files
say: ``modules.json`` lists the modules (Transformer -> Pooling -> Normalize) and
``1_Pooling/config.json`` the pooling mode (mean over the real tokens, the first token, the
largest value per dimension…). A checkpoint without those files gets mean pooling: the app's
choice, said as such.

- :func:`pooling_for`: how a checkpoint pools, read from its files (:class:`Pooling`);
- :func:`pool`: [B, S, D] token vectors and a [B, S] mask -> [B, D] sentence vectors (pure NumPy);
- :func:`sentence_embeddings`: sentences -> [N, D], pooled and normalised as the checkpoint says
  (the model runs through :mod:`explorer.pipeline.run`);
- step ③ of the Pipeline page's numbers: the token vectors checked against
  ``pipeline("feature-extraction")`` (:func:`check_tokens`), the sentence embeddings
  (:func:`page_embeddings`), what pooling the padding would do without the attention mask
  (:func:`mask_demo`), the embedding way of zero-shot (:func:`label_similarity`), and the bundled
  sentences' vectors for an embedding map (:func:`bundled_vectors`, :func:`pca_2d`).

The computation only: what the page says and draws of it is :mod:`explorer.views.tasks.feature_extraction`.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from explorer.pipeline import run as runner
from explorer.pipeline.encoding import encode_batch, last_real
from explorer.pipeline.tasks import BASE
from explorer.pipeline.tasks.zero_shot import ParsedList, split_list

# Pooling modes sentence-transformers names, that this module computes.
MEAN, CLS, MAX, MEAN_SQRT_LEN, LAST_TOKEN = "mean", "cls", "max", "mean_sqrt_len_tokens", "lasttoken"
MODES = (MEAN, CLS, MAX, MEAN_SQRT_LEN, LAST_TOKEN)
MODE_TEXT = {
    MEAN: "mean pooling: the average of the real tokens' vectors (the attention mask leaves padding out)",
    CLS: "CLS pooling: the first real token's vector",
    MAX: "max pooling: for each dimension, the largest value over the real tokens",
    MEAN_SQRT_LEN: (
        "mean pooling divided by √length instead of length: the sum of the real tokens' vectors / √n"
    ),
    LAST_TOKEN: "last-token pooling: the last real token's vector",
}
# The legacy keys of 1_Pooling/config.json (sentence-transformers < 5 writes these booleans).
_LEGACY_KEYS = {
    "pooling_mode_cls_token": CLS,
    "pooling_mode_mean_tokens": MEAN,
    "pooling_mode_max_tokens": MAX,
    "pooling_mode_mean_sqrt_len_tokens": MEAN_SQRT_LEN,
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": LAST_TOKEN,
}


@dataclass(frozen=True, kw_only=True)
class Pooling:
    """How a checkpoint turns its token vectors into one vector per sentence."""

    mode: str  # one of MODES; several joined by "+" are concatenated, as sentence-transformers does
    normalize: bool  # scale each sentence vector to length 1 (a Normalize module in modules.json)
    source: str  # one sentence: where this choice comes from (the checkpoint's files, or the app)
    from_checkpoint: bool  # True when the checkpoint's own files chose it
    max_tokens: int | None = None  # sentence_bert_config.json's max_seq_length (None: not said)
    ignored: tuple[str, ...] = ()  # modules listed in modules.json that the app does not apply

    @property
    def modes(self) -> tuple[str, ...]:
        return tuple(self.mode.split("+"))


def _checkpoint_file(loaded: Any, relative: str) -> Path | None:
    """A file of the checkpoint: in its folder, or (a Hub checkpoint) in the local Hub cache, or
    fetched from the Hub when it is reachable (from_pretrained does not fetch these files)."""
    location = Path(loaded.resolved.location)
    if location.is_dir():
        path = location / relative
        return path if path.is_file() else None
    if loaded.resolved.source != "hub":
        return None
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(loaded.resolved.location, relative)
    except Exception:  # a malformed id or cache: the file is simply not available
        return None
    if isinstance(cached, str):
        return Path(cached)
    if cached is not None:  # the cache knows the Hub has no such file
        return None
    from explorer.pipeline.loading import hub_reachable

    return _hub_file(loaded.resolved.location, relative) if hub_reachable() else None


@functools.lru_cache(maxsize=64)
def _hub_file(model_id: str, relative: str) -> Path | None:
    """One small file of a Hub checkpoint, downloaded into the Hub cache (None: it has none)."""
    try:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(model_id, relative))
    except Exception:  # no such file, gated, network: pooling falls back to the app's choice
        return None


def _read_json(path: Path | None) -> Any:
    if path is None:
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _config_modes(config: dict[str, Any]) -> tuple[str, ...]:
    """The pooling modes a 1_Pooling/config.json names (new ``pooling_mode`` key or legacy flags)."""
    named = config.get("pooling_mode")
    if isinstance(named, str):
        return (named,)
    if isinstance(named, list):
        return tuple(str(mode) for mode in named)
    return tuple(mode for key, mode in _LEGACY_KEYS.items() if config.get(key))


def _app_choice(loaded: Any, why: str) -> Pooling:
    decoder = (
        " This is a decoder: each token's vector has read only the tokens before it (the last one alone "
        "has read the whole sentence), so mean pooling is a plain choice here, not what it was trained for."
        if loaded.is_decoder
        else ""
    )
    return Pooling(
        mode=MEAN,
        normalize=False,
        source=(
            f"{why} The app's choice for {loaded.resolved.label}: mean pooling over the real tokens (the "
            f"attention mask leaves padding out), without normalisation.{decoder}"
        ),
        from_checkpoint=False,
    )


def _module_kind(entry: dict[str, Any]) -> str:
    return str(entry.get("type", "")).rsplit(".", 1)[-1]


def pooling_for(loaded: Any) -> Pooling:
    """How ``loaded`` pools its token vectors: as its sentence-transformers files say
    (``modules.json``, ``1_Pooling/config.json``, ``sentence_bert_config.json``), else mean
    pooling, named as the app's choice."""
    modules = _read_json(_checkpoint_file(loaded, "modules.json"))
    if not isinstance(modules, list):
        return _app_choice(loaded, "This checkpoint has no sentence-transformers files (modules.json).")
    entries = [entry for entry in modules if isinstance(entry, dict)]
    pooling_entry = next((e for e in entries if _module_kind(e) == "Pooling"), None)
    if pooling_entry is None:
        return _app_choice(loaded, "Its modules.json lists no Pooling module.")
    folder = str(pooling_entry.get("path") or "1_Pooling").strip("/")
    config = _read_json(_checkpoint_file(loaded, f"{folder}/config.json"))
    modes = _config_modes(config) if isinstance(config, dict) else ()
    if not modes:
        return _app_choice(loaded, f"Its {folder}/config.json names no pooling mode.")
    unknown = [mode for mode in modes if mode not in MODES]
    if unknown:
        return _app_choice(loaded, f"Its pooling mode {', '.join(unknown)} is not one the app computes.")
    normalize = any(_module_kind(e) == "Normalize" for e in entries)
    ignored = tuple(
        _module_kind(e) for e in entries if _module_kind(e) not in ("Transformer", "Pooling", "Normalize")
    )
    settings = _read_json(_checkpoint_file(loaded, "sentence_bert_config.json"))
    max_tokens = settings.get("max_seq_length") if isinstance(settings, dict) else None
    chain = " → ".join(_module_kind(e) or "?" for e in entries)
    source = (
        f"As the checkpoint's own files say: modules.json lists {chain}, and {folder}/config.json "
        f"names {' + '.join(modes)} pooling"
        + (", then each vector is normalised to length 1." if normalize else " (no normalisation).")
    )
    if ignored:
        source += (
            f" It also lists {', '.join(ignored)}, which the app does not apply: these vectors stop "
            "before it."
        )
    return Pooling(
        mode="+".join(modes),
        normalize=normalize,
        source=source,
        from_checkpoint=True,
        max_tokens=int(max_tokens) if isinstance(max_tokens, int) and max_tokens > 0 else None,
        ignored=ignored,
    )


def _pool_one(mode: str, vectors: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """[B, S, D] float64 vectors, [B, S] float64 mask -> [B, D] by one mode."""
    B = vectors.shape[0]
    if mode in (MEAN, MEAN_SQRT_LEN):
        summed = (vectors * mask[:, :, None]).sum(axis=1)  # [B, D]
        count = np.clip(mask.sum(axis=1, keepdims=True), 1e-9, None)  # [B, 1]
        return summed / (count if mode == MEAN else np.sqrt(count))
    if mode == MAX:
        return np.where(mask[:, :, None] > 0, vectors, -np.inf).max(axis=1)  # [B, D]
    real = mask > 0  # [B, S]
    if mode == CLS:
        positions = real.argmax(axis=1)  # [B] first real token
    else:  # LAST_TOKEN
        positions = last_real(mask)  # [B] last real token
    return vectors[np.arange(B), positions]  # [B, D]


def pool(token_vectors: np.ndarray, mask: np.ndarray, pooling: Pooling) -> np.ndarray:
    """[B, S, D] token vectors and a [B, S] mask (1 = pooled, 0 = left out) -> [B, D] float64
    sentence vectors, by ``pooling``'s mode(s), normalised to length 1 if it says so. A mask of
    all ones pools the padding too (what pooling without the attention mask would do)."""
    vectors = np.asarray(token_vectors, dtype=np.float64)  # [B, S, D]
    weights = np.asarray(mask, dtype=np.float64)  # [B, S]
    pooled = np.concatenate([_pool_one(mode, vectors, weights) for mode in pooling.modes], axis=-1)  # [B, D]
    return normalized(pooled) if pooling.normalize else pooled


def normalized(vectors: np.ndarray) -> np.ndarray:
    """[N, D] each row scaled to length 1 (a zero row stays zero), as torch's F.normalize does."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)  # [N, 1]
    return vectors / np.clip(norms, 1e-12, None)


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[N, D] x [M, D] -> [N, M] cosine similarity of every row of ``a`` with every row of ``b``."""
    return normalized(np.asarray(a, np.float64)) @ normalized(np.asarray(b, np.float64)).T


def token_limit(loaded: Any, pooling: Pooling) -> int:
    """Longest input (tokens, specials included): the model's limit, or the checkpoint's
    sentence-transformers max_seq_length when that is shorter."""
    limits = [loaded.max_tokens] + ([pooling.max_tokens] if pooling.max_tokens else [])
    return min(limits)


def sentence_embeddings(
    loaded: Any, sentences: Sequence[str], batch_size: int = 32, pooling: Pooling | None = None
) -> np.ndarray:
    """[N, D] float64 sentence embeddings, pooled (and normalised) as the checkpoint says
    (:func:`pooling_for`, or ``pooling``), ``batch_size`` sentences per forward pass, each cut at
    :func:`token_limit`. An empty string is a sentence of special tokens only."""
    pooling = pooling or pooling_for(loaded)
    limit = token_limit(loaded, pooling)
    texts = [str(s) for s in sentences]
    step = max(1, batch_size)
    order = np.argsort([-len(text) for text in texts], kind="stable")  # [N] longest first: less padding
    parts = []
    for start in range(0, len(texts), step):
        chunk = [texts[i] for i in order[start : start + step]]
        encoding = encode_batch(loaded.batch_tokenizer, chunk, max_length=limit)  # [b, S]
        vectors = runner.forward(loaded, encoding).last_hidden_state  # [b, S, D]
        parts.append(pool(vectors, encoding.attention_mask, pooling))  # [b, D]
    if not parts:
        width = (
            getattr(loaded.config, "hidden_size", None) or loaded.model.get_input_embeddings().embedding_dim
        )
        return np.zeros((0, int(width)), dtype=np.float64)  # [0, D]
    embeddings = np.empty((len(texts), parts[0].shape[1]), dtype=np.float64)  # [N, D]
    embeddings[order] = np.concatenate(parts, axis=0)  # back in the sentences' order
    return embeddings


# --- Step ③ of the Pipeline page ------------------------------------------------------------------

CHECK_TOLERANCE = 1e-5  # largest |difference| from pipeline("feature-extraction") called "the same"
MAX_LABELS = 100  # candidate labels compared with the sentences (the embedding way of zero-shot)
NEAREST = 3  # bundled sentences listed per user sentence
DEMO_PADDING = 16  # pad tokens the mask demo adds to a sentence the batch does not pad (each costs time)


@dataclass(frozen=True, kw_only=True)
class TokenCheck:
    """The token vectors [B, S, D] against ``pipeline("feature-extraction")``'s, each sentence alone."""

    compared: bool  # False: the pipeline does not return these vectors for this model
    error: str | None  # the pipeline refused this checkpoint: the first line of why
    # (sentence, the pipeline's token count, the batch's) when they tokenized it differently
    mismatch: tuple[int, int, int] | None
    largest: float  # largest |difference| over the real tokens (0.0 when not compared)


@dataclass(frozen=True, kw_only=True)
class PageEmbeddings:
    """The page's sentence embeddings, pooled from the run unless a sentence is too long."""

    embeddings: np.ndarray  # [B, D] float64
    pooled: np.ndarray  # [B] real tokens pooled per sentence (cut at ``limit``)
    longer: tuple[int, ...]  # sentences longer than ``limit``: re-run, cut there
    limit: int  # the checkpoint's longest input in tokens (token_limit)


@dataclass(frozen=True, kw_only=True)
class MaskWay:
    """One way of pooling the padded sentence, against the sentence alone."""

    name: str  # which masks are used where
    real: int  # positions pooling treats as real
    cosine: float  # with the sentence alone
    difference: float  # largest |difference| from the sentence alone


@dataclass(frozen=True, kw_only=True)
class MaskResult:
    """The course's mask argument, for pooling: one sentence alone, then padded, pooled three ways."""

    sentence: int  # which sentence of the batch
    tokens: int  # n: its tokens alone
    target: int  # its padded length (== tokens: no room to pad it)
    limit: int  # the checkpoint's longest input
    padding_side: str  # "right" or "left"
    ways: tuple[MaskWay, ...]  # [3] mask in attention and pooling; in attention only; nowhere


@dataclass(frozen=True, kw_only=True)
class Corpus:
    """Labelled sentences to embed once per checkpoint (the app's bundled ones)."""

    texts: tuple[str, ...]  # [N]
    labels: tuple[str, ...]  # [N] label names


@dataclass(frozen=True, kw_only=True)
class BundledVectors:
    """The bundled labelled sentences' embeddings for one checkpoint (computed once, then kept)."""

    texts: tuple[str, ...]  # [N]
    labels: tuple[str, ...]  # [N] label names
    vectors: np.ndarray  # [N, D] read-only
    seconds: float  # how long computing them took


def token_vectors(loaded: Any, encoding: Any, run: Any) -> np.ndarray:
    """[B, S, D] the last layer's token vectors: the run's, or an encoder-decoder's encoder's (its
    run keeps the decoder's side; one more forward pass reads the encoder's)."""
    if run.last_hidden_state is not None:
        return run.last_hidden_state
    return runner.forward(loaded, encoding).last_hidden_state  # [B, S, D] the encoder's


def pipeline_returns_them(loaded: Any) -> bool:
    """Whether pipeline("feature-extraction") returns these token vectors: its first output is the
    last hidden state only for a headless model that is not an encoder-decoder."""
    return loaded.head_class == BASE and not loaded.is_encoder_decoder


def check_tokens(loaded: Any, encoding: Any, tokens: np.ndarray) -> TokenCheck:
    """The largest |difference| between the token vectors [B, S, D] and pipeline("feature-extraction")'s."""
    if not pipeline_returns_them(loaded):
        return TokenCheck(compared=False, error=None, mismatch=None, largest=0.0)
    limit = encoding.max_length or loaded.max_tokens
    try:
        outputs = runner.transformers_pipeline(
            "feature-extraction",
            loaded,
            list(encoding.sentences),
            return_tensors=True,
            tokenize_kwargs={"truncation": True, "max_length": limit},
        )  # [B] tensors of [1, n_b, D]
    except Exception as error:  # the library refuses this checkpoint: say so, do not hide it
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        return TokenCheck(compared=True, error=reason, mismatch=None, largest=0.0)
    largest = 0.0
    for b, output in enumerate(outputs):
        theirs = output[0].float().numpy()  # [n_b, D]
        ours = tokens[b][encoding.attention_mask[b] == 1]  # [n_b, D] without padding
        if theirs.shape != ours.shape:
            mismatch = (b, int(theirs.shape[0]), int(ours.shape[0]))
            return TokenCheck(compared=True, error=None, mismatch=mismatch, largest=0.0)
        largest = max(largest, float(np.abs(theirs.astype(np.float64) - ours).max(initial=0.0)))
    return TokenCheck(compared=True, error=None, mismatch=None, largest=largest)


def page_embeddings(loaded: Any, encoding: Any, tokens: np.ndarray, pooling: Pooling) -> PageEmbeddings:
    """The sentence embeddings pooled from the run's token vectors [B, S, D], unless a sentence is
    longer than the checkpoint's max_seq_length (then cut there, as sentence-transformers does,
    with one more forward pass)."""
    lengths = encoding.lengths  # [B]
    limit = token_limit(loaded, pooling)
    if int(lengths.max()) <= limit:
        embeddings = pool(tokens, encoding.attention_mask, pooling)  # [B, D]
        return PageEmbeddings(embeddings=embeddings, pooled=lengths, longer=(), limit=limit)
    return PageEmbeddings(
        embeddings=sentence_embeddings(loaded, encoding.sentences, pooling=pooling),  # [B, D]
        pooled=np.minimum(lengths, limit),  # [B]
        longer=tuple(b for b in range(len(lengths)) if lengths[b] > limit),
        limit=limit,
    )


def demo_sentence(encoding: Any) -> tuple[int, int]:
    """(which sentence, padded length): the batch's shortest sentence, padded as in the batch, or
    (no padding in the batch) with as many pad tokens as it has real tokens, at most DEMO_PADDING."""
    lengths = encoding.lengths  # [B]
    b = int(np.argmin(lengths))
    n, S = int(lengths[b]), encoding.shape[1]
    return b, (S if S > n else n + min(n, DEMO_PADDING))


_MASK_WAYS = (  # (name, the attention mask is the real one, pooling's mask is the real one)
    ("padded; the mask in attention and in pooling (sentence-transformers' way)", True, True),
    ("padded; the mask in attention, but pooling counts the padding as real", True, False),
    ("padded; no mask at all: attention and pooling both see the padding", False, False),
)


def mask_demo(loaded: Any, encoding: Any, pooling: Pooling) -> MaskResult:
    """The shortest sentence alone, then padded and pooled three ways (one forward per attention mask)."""
    b, target = demo_sentence(encoding)
    sentence = encoding.sentences[b]
    limit = token_limit(loaded, pooling)
    tokenizer = loaded.batch_tokenizer
    alone = encode_batch(tokenizer, [sentence], max_length=limit)  # [1, n]
    n = alone.shape[1]
    if n >= limit or target > limit:
        target = limit
    if target <= n:
        return MaskResult(sentence=b, tokens=n, target=n, limit=limit, padding_side="", ways=())
    padded = encode_batch(tokenizer, [sentence], padding="max_length", max_length=target)  # [1, target]
    mask = np.asarray(padded.attention_mask)  # [1, target]
    ones = np.ones_like(mask)  # [1, target]
    reference = pool(runner.forward(loaded, alone).last_hidden_state, alone.attention_mask, pooling)  # [1, D]
    outputs: dict[bool, np.ndarray] = {}  # [1, target, D] per attention mask: masked or all ones
    ways = []
    for name, attention_masked, pooling_masked in _MASK_WAYS:
        if attention_masked not in outputs:
            attention = mask if attention_masked else ones
            outputs[attention_masked] = runner.forward(
                loaded, padded, attention_mask=attention
            ).last_hidden_state
        pooled = mask if pooling_masked else ones
        vector = pool(outputs[attention_masked], pooled, pooling)  # [1, D]
        ways.append(
            MaskWay(
                name=name,
                real=int(pooled.sum()),
                cosine=float(cosine(vector, reference)[0, 0]),
                difference=float(np.abs(vector - reference).max()),
            )
        )
    return MaskResult(
        sentence=b, tokens=n, target=target, limit=limit, padding_side=padded.padding_side, ways=tuple(ways)
    )


def parse_labels(text: str) -> ParsedList:
    """Comma-separated candidate labels, stripped, duplicates and empties left out, at most MAX_LABELS."""
    return split_list(text, ",", MAX_LABELS)


def label_similarity(
    loaded: Any, embeddings: np.ndarray, labels: Sequence[str], pooling: Pooling
) -> np.ndarray:
    """[B, L] cosine between each sentence embedding [B, D] and each label's, embedded alike."""
    label_vectors = sentence_embeddings(loaded, labels, pooling=pooling)  # [L, D]
    return cosine(embeddings, label_vectors)  # [B, L]


def ranked(similarity: np.ndarray, k: int = NEAREST) -> np.ndarray:
    """[B, k] for each row of ``similarity`` [B, M], its k largest columns, largest first (stable)."""
    return np.argsort(-similarity, axis=-1, kind="stable")[:, :k]


_BUNDLED_CACHE: OrderedDict[tuple[str, str, str], BundledVectors] = OrderedDict()
_BUNDLED_LOCK = threading.Lock()
BUNDLED_CACHE_SIZE = 3  # checkpoints whose bundled vectors are kept (each N × D floats, < 2 MB for MiniLM)


def _bundled_key(loaded: Any, pooling: Pooling) -> tuple[str, str, str]:
    from explorer.pipeline import checkpoints

    return (loaded.resolved.ref, checkpoints.fingerprint(loaded.resolved), repr(pooling))


def cached_bundled_vectors(loaded: Any, pooling: Pooling) -> BundledVectors | None:
    """The bundled sentences' vectors for this checkpoint if already computed, else None."""
    key = _bundled_key(loaded, pooling)
    with _BUNDLED_LOCK:
        if key in _BUNDLED_CACHE:
            _BUNDLED_CACHE.move_to_end(key)
            return _BUNDLED_CACHE[key]
    return None


def bundled_vectors(loaded: Any, pooling: Pooling, corpus: Corpus) -> BundledVectors:
    """The bundled labelled sentences (``corpus``: the app has one) embedded by ``loaded``:
    computed once per checkpoint (keyed by its ref, the fingerprint of its files and the pooling)
    and kept in a small bounded cache shared by every session."""
    found = cached_bundled_vectors(loaded, pooling)
    if found is not None:
        return found
    started = time.perf_counter()
    vectors = sentence_embeddings(loaded, corpus.texts, pooling=pooling)  # [N, D]
    seconds = time.perf_counter() - started
    vectors.setflags(write=False)
    entry = BundledVectors(texts=corpus.texts, labels=corpus.labels, vectors=vectors, seconds=seconds)
    with _BUNDLED_LOCK:
        _BUNDLED_CACHE[_bundled_key(loaded, pooling)] = entry
        while len(_BUNDLED_CACHE) > BUNDLED_CACHE_SIZE:
            _BUNDLED_CACHE.popitem(last=False)
    return entry


def pca_2d(vectors: np.ndarray, others: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """PCA of ``vectors`` [N, D] to 2-D by SVD: ([N, 2], ``others`` [M, 2] on the same axes, the
    share of the variance the two axes keep). Each axis's sign is fixed so that its largest
    loading is positive (SVD may return either sign)."""
    mean = vectors.mean(axis=0, keepdims=True)  # [1, D]
    _, singular, components = np.linalg.svd(vectors - mean, full_matrices=False)  # components [K, D]
    axes = components[:2]  # [2, D]
    signs = np.sign(axes[np.arange(len(axes)), np.abs(axes).argmax(axis=1)])  # [2]
    axes = axes * np.where(signs == 0, 1.0, signs)[:, None]
    variance = singular**2
    kept = float(variance[:2].sum() / variance.sum()) if variance.sum() > 0 else 0.0
    return (vectors - mean) @ axes.T, (others - mean) @ axes.T, kept

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
- :func:`build`: step ③ of the Pipeline page (:class:`View`): the token vectors checked against
  ``pipeline("feature-extraction")``, the pooling, the sentence embeddings and their cosine
  similarities, what pooling the padding would do without the attention mask, the embedding way of
  zero-shot (cosine with each candidate label), and an embedding map of the bundled sentences with
  the nearest ones to each of the user's (semantic search).
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go

from explorer.drawing import figures
from explorer.drawing.render import visible
from explorer.pipeline import run as runner
from explorer.pipeline.encoding import encode_batch, last_real, readonly
from explorer.pipeline.tasks import BASE, TaskInputs
from explorer.views.common import Note, Table, table

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
SHOWN_DIMENSIONS = 4  # first values of each sentence vector shown in the table
DEMO_PADDING = 16  # pad tokens the mask demo adds to a sentence the batch does not pad (each costs time)
SHORT = 48  # characters of a sentence in a chart label or a table cell


@dataclass(frozen=True)
class MaskDemo:
    """The course's mask argument, for pooling: one sentence alone, then padded, pooled three ways."""

    intro: Note
    table: Table | None  # one row per way: cosine and largest difference vs the sentence alone
    conclusion: Note | None


@dataclass(frozen=True)
class LabelPart:
    """The embedding way of zero-shot: cosine between each sentence and each candidate label."""

    intro: Note
    notes: tuple[Note, ...]  # no labels, the cap, duplicates
    heatmap: go.Figure | None  # [B, labels] cosines
    table: Table | None  # each sentence's labels, most similar first


@dataclass(frozen=True, kw_only=True)
class EmbeddingMap:
    """The bundled labelled sentences, PCA to 2-D, the user's sentences placed on the same axes."""

    intro: Note
    timing: Note  # how long the bundled vectors took (computed once per checkpoint), or what it costs
    figure: go.Figure | None  # None until the bundled vectors are computed
    nearest: Table | None  # semantic search: the most similar bundled sentences per user sentence
    # Not computed yet for this checkpoint: a button's label, and what it runs (fills the cache the
    # next build reads). None once computed.
    offer: str | None = None
    compute: Callable[[], Any] | None = None


@dataclass(frozen=True, kw_only=True)
class View:
    """Step ③ for a checkpoint without a task head: token vectors -> pooling -> sentence embeddings."""

    intro: Note  # what the model returned: token vectors [B, S, D]
    check: Note  # the token vectors vs pipeline("feature-extraction")
    pooling: Note  # which pooling, and who chose it
    notes: tuple[Note, ...]  # sentences cut at the checkpoint's max_seq_length, …
    embeddings_title: str  # "Sentence embeddings: shape [B, D]"
    embeddings: Table  # per sentence: real tokens (cut at the limit), length, the first values
    similarity_title: str
    similarity: go.Figure | None  # [B, B] cosine heatmap
    similarity_table: Table | None  # every pair once, with its cosine
    similarity_note: Note
    mask: MaskDemo
    labels: LabelPart
    embedding_map: EmbeddingMap


def _short(text: str, limit: int = SHORT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def token_vectors(loaded: Any, encoding: Any, run: Any) -> np.ndarray:
    """[B, S, D] the last layer's token vectors: the run's, or an encoder-decoder's encoder's (its
    run keeps the decoder's side; one more forward pass reads the encoder's)."""
    if run.last_hidden_state is not None:
        return run.last_hidden_state
    return runner.forward(loaded, encoding).last_hidden_state  # [B, S, D] the encoder's


def _pipeline_returns_them(loaded: Any) -> bool:
    """Whether pipeline("feature-extraction") returns these token vectors: its first output is the
    last hidden state only for a headless model that is not an encoder-decoder."""
    return loaded.head_class == BASE and not loaded.is_encoder_decoder


def _intro(loaded: Any, tokens: np.ndarray) -> Note:
    B, S, D = tokens.shape
    if loaded.is_encoder_decoder:
        kind = (
            " It is an encoder-decoder: these are its **encoder's** vectors (each has read the whole "
            "sentence, both ways); its decoder, which writes text, is not used here."
        )
    elif loaded.is_decoder:
        kind = (
            " It is a decoder: each token's vector has seen only the tokens before it, so the last token's "
            "vector is the only one that has read the whole sentence."
        )
    else:
        kind = " It is an encoder: each token's vector has read the whole sentence, both ways."
    returned = (
        ' This is what `pipeline("feature-extraction")` returns.' if _pipeline_returns_them(loaded) else ""
    )
    headless = (
        "has no task head: its output is "
        if loaded.head_class == BASE
        else "has a task head; feature extraction reads the layer below it: "
    )
    return Note(
        "markdown",
        f"`{loaded.model_class}` {headless}one vector per token, `last_hidden_state` of shape "
        f"**[{B}, {S}, {D}]** (sentences × tokens, padding included × hidden size).{returned}{kind} "
        "To compare whole sentences, step ③ pools each sentence's token "
        f"vectors into one vector of {D} numbers: a **sentence embedding**.",
    )


def _token_check(loaded: Any, encoding: Any, tokens: np.ndarray) -> Note:
    """The largest |difference| between the token vectors [B, S, D] and pipeline("feature-extraction")'s."""
    if not _pipeline_returns_them(loaded):
        return Note(
            "info",
            'Not checked against `pipeline("feature-extraction")`: it returns the model\'s first output, '
            "which for this model is not these vectors (a head's logits, or an encoder-decoder's "
            "decoder side).",
        )
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
        return Note(
            "warning",
            f'`pipeline("feature-extraction")` could not run on this checkpoint ({reason}), so the '
            "token vectors are not checked against it.",
        )
    largest = 0.0
    for b, output in enumerate(outputs):
        theirs = output[0].float().numpy()  # [n_b, D]
        ours = tokens[b][encoding.attention_mask[b] == 1]  # [n_b, D] without padding
        if theirs.shape != ours.shape:
            return Note(
                "warning",
                f'`pipeline("feature-extraction")` returned {theirs.shape[0]} token vectors for sentence '
                f"{b} and the batch has {ours.shape[0]}: they tokenized it differently.",
            )
        largest = max(largest, float(np.abs(theirs.astype(np.float64) - ours).max(initial=0.0)))
    if largest <= CHECK_TOLERANCE:
        return Note(
            "success",
            f'Checked: `pipeline("feature-extraction")` returns the same token vectors (each sentence run '
            f"alone, without padding): largest difference {largest:.1e} ≤ {CHECK_TOLERANCE:.0e}.",
        )
    return Note(
        "warning",
        f'`pipeline("feature-extraction")` (each sentence alone, without padding) differs from the '
        f"batch's real tokens by up to {largest:.1e}, more than {CHECK_TOLERANCE:.0e}.",
    )


def _pooling_note(pooling: Pooling) -> Note:
    ways = "; ".join(MODE_TEXT[mode] for mode in pooling.modes)
    joined = " The modes' vectors are joined end to end." if len(pooling.modes) > 1 else ""
    scaled = (
        " Then each sentence vector is divided by its length (L2 norm), so a dot product of two of them "
        "is their cosine similarity."
        if pooling.normalize
        else ""
    )
    return Note("markdown", f"**Pooling.** {pooling.source} That is {ways}.{joined}{scaled}")


def _page_embeddings(
    loaded: Any, encoding: Any, tokens: np.ndarray, pooling: Pooling
) -> tuple[np.ndarray, np.ndarray, tuple[Note, ...]]:
    """([B, D] sentence embeddings, [B] real tokens per sentence, notes): pooled from the run, unless
    a sentence is longer than the checkpoint's max_seq_length (then cut there, as
    sentence-transformers does, with one more forward pass)."""
    lengths = encoding.lengths  # [B]
    limit = token_limit(loaded, pooling)
    if int(lengths.max()) <= limit:
        return pool(tokens, encoding.attention_mask, pooling), lengths, ()
    longer = [str(b) for b in range(len(lengths)) if lengths[b] > limit]
    note = Note(
        "info",
        f"Sentence(s) {', '.join(longer)} are longer than the {limit} tokens this checkpoint's "
        "sentence_bert_config.json allows (max_seq_length): as sentence-transformers does, their "
        f"embeddings pool only the first {limit} tokens.",
    )
    return (
        sentence_embeddings(loaded, encoding.sentences, pooling=pooling),
        np.minimum(lengths, limit),
        (note,),
    )


def _embeddings_table(embeddings: np.ndarray, pooled: np.ndarray, sentences: Sequence[str]) -> Table:
    rows = []
    for b, vector in enumerate(embeddings):
        row = {"sentence": f"{b} · {_short(sentences[b])}", "real tokens": int(pooled[b])}
        row["length (L2 norm)"] = round(float(np.linalg.norm(vector)), 4)
        for d in range(min(SHOWN_DIMENSIONS, len(vector))):
            row[f"dim {d}"] = round(float(vector[d]), 4)
        rows.append(row)
    return table(rows, index="sentence")


def _similarity(
    embeddings: np.ndarray, sentences: Sequence[str], pooling: Pooling
) -> tuple[go.Figure | None, Table | None, Note]:
    B = len(sentences)
    if B < 2:
        return (
            None,
            None,
            Note("info", "Type a second sentence (one per line) to compare sentence embeddings."),
        )
    similarity = cosine(embeddings, embeddings)  # [B, B]
    names = [figures.label(b, _short(s, 30)) for b, s in enumerate(sentences)]
    figure = figures.matrix_heatmap(
        similarity,
        names,
        names,
        f"Cosine similarity of the {B} sentence embeddings",
        "sentence",
        "sentence",
        value_name="cosine",
    )
    rows = [
        {
            "sentence": f"{i} · {_short(sentences[i])}",
            "other": f"{j} · {_short(sentences[j])}",
            "cosine": round(float(similarity[i, j]), 4),
        }
        for i in range(B)
        for j in range(i + 1, B)
    ]
    i, j = np.unravel_index(np.argmax(similarity + np.tril(np.full((B, B), -np.inf))), (B, B))
    note = Note(
        "markdown",
        "Cosine similarity: 1 = same direction, 0 = unrelated, −1 = opposite"
        + (" (with normalised vectors it is just their dot product)" if pooling.normalize else "")
        + f". The most similar pair here: sentences {i} and {j} ({similarity[i, j]:.3f}).",
    )
    return figure, table(rows[:200]), note


def _demo_sentence(encoding: Any) -> tuple[int, int]:
    """(which sentence, padded length): the batch's shortest sentence, padded as in the batch, or
    (no padding in the batch) with as many pad tokens as it has real tokens, at most DEMO_PADDING."""
    lengths = encoding.lengths  # [B]
    b = int(np.argmin(lengths))
    n, S = int(lengths[b]), encoding.shape[1]
    return b, (S if S > n else n + min(n, DEMO_PADDING))


def _mask_demo(loaded: Any, encoding: Any, pooling: Pooling) -> MaskDemo:
    b, target = _demo_sentence(encoding)
    sentence = encoding.sentences[b]
    limit = token_limit(loaded, pooling)
    tokenizer = loaded.batch_tokenizer
    alone = encode_batch(tokenizer, [sentence], max_length=limit)  # [1, n]
    n = alone.shape[1]
    if n >= limit or target > limit:
        target = limit
    if target <= n:
        return MaskDemo(
            Note("info", f"Sentence {b} fills the model's {limit} tokens: there is no room to pad it."),
            None,
            None,
        )
    padded = encode_batch(tokenizer, [sentence], padding="max_length", max_length=target)  # [1, target]
    mask = np.asarray(padded.attention_mask)  # [1, target]
    ones = np.ones_like(mask)  # [1, target]
    reference = pool(runner.forward(loaded, alone).last_hidden_state, alone.attention_mask, pooling)  # [1, D]
    ways = (
        ("padded; the mask in attention and in pooling (sentence-transformers' way)", mask, mask),
        ("padded; the mask in attention, but pooling counts the padding as real", mask, ones),
        ("padded; no mask at all: attention and pooling both see the padding", ones, ones),
    )
    rows = [
        {
            "way": "alone, no padding (the reference)",
            "positions treated as real": n,
            "cosine vs alone": 1.0,
            "largest |difference|": 0.0,
        }
    ]
    results = []
    outputs: dict[bool, np.ndarray] = {}  # one forward per attention mask: masked or all ones
    for name, attention, pooled in ways:
        masked = bool((attention == mask).all())
        if masked not in outputs:
            outputs[masked] = runner.forward(loaded, padded, attention_mask=attention).last_hidden_state
        vector = pool(outputs[masked], pooled, pooling)  # [1, D]
        similarity = float(cosine(vector, reference)[0, 0])
        difference = float(np.abs(vector - reference).max())
        results.append((similarity, difference))
        rows.append(
            {
                "way": name,
                "positions treated as real": int(pooled.sum()),
                "cosine vs alone": round(similarity, 6),
                "largest |difference|": float(f"{difference:.2e}"),
            }
        )
    pad = tokenizer.pad_token or "the pad token"
    where = (
        "in this batch it gets" if target == encoding.shape[1] else "beside a longer sentence it would get"
    )
    intro = Note(
        "markdown",
        f"**Why pooling needs the attention mask.** Sentence {b} has {n} tokens; {where} "
        f"{target - n} × `{pad}` ({padded.padding_side} padding) to make {target}. The padding "
        "positions still come out of the model with vectors. Below, the sentence alone and padded, "
        f"pooled three ways ({pooling.mode} pooling).",
    )
    return MaskDemo(intro, table(rows, index="way"), _mask_conclusion(results))


def _mask_conclusion(results: list[tuple[float, float]]) -> Note:
    """What the three padded ways did, from their numbers (cosine, largest difference vs alone)."""
    (_, masked), (pooled_cos, pooled_diff), (none_cos, none_diff) = results

    def said(cos: float, diff: float) -> str:
        if diff <= CHECK_TOLERANCE:
            return f"changes nothing here (largest difference {diff:.1e})"
        return f"moves the vector (cosine {cos:.4f} with the sentence alone, largest difference {diff:.1e})"

    same = masked <= CHECK_TOLERANCE
    first = (
        f"With the mask, padding changes nothing: the same vector as the sentence alone (largest difference "
        f"{masked:.1e})."
        if same
        else f"Even with the mask the padded vector differs from the sentence alone by up to {masked:.1e}."
    )
    return Note(
        "success" if same else "warning",
        f"{first} Pooling over the padding too {said(pooled_cos, pooled_diff)}; without the mask "
        f"anywhere, the padding {said(none_cos, none_diff)}.",
    )


def parse_labels(text: str) -> tuple[tuple[str, ...], tuple[Note, ...]]:
    """(labels, notes): comma-separated candidate labels, stripped, duplicates and empties left
    out, at most MAX_LABELS (each of these said in a note)."""
    parts = [part.strip() for part in (text or "").split(",")]
    kept: list[str] = []
    for part in parts:
        if part and part not in kept:
            kept.append(part)
    notes = []
    duplicates = sum(1 for part in parts if part) - len(kept)
    if duplicates:
        notes.append(Note("caption", f"{duplicates} repeated label(s) left out."))
    if len(kept) > MAX_LABELS:
        notes.append(
            Note(
                "warning",
                f"Only the first {MAX_LABELS} of {len(kept)} labels are compared (a cap, to keep it quick).",
            )
        )
        kept = kept[:MAX_LABELS]
    return tuple(kept), tuple(notes)


def _label_part(
    loaded: Any, sentences: Sequence[str], embeddings: np.ndarray, text: str, pooling: Pooling
) -> LabelPart:
    intro = Note(
        "markdown",
        "**Zero-shot, the embedding way.** Each candidate label is embedded like a sentence, and each "
        "sentence gets the label whose embedding is closest (cosine similarity). A cosine is not a "
        'probability, and this is not `pipeline("zero-shot-classification")`\'s way: that pipeline needs a '
        "natural-language-inference head (entailment vs contradiction), which this checkpoint does not have.",
    )
    labels, notes = parse_labels(text)
    if not labels:
        empty = Note("info", "Type candidate labels, separated by commas (e.g. sports, politics, cooking).")
        return LabelPart(intro, (*notes, empty), None, None)
    label_vectors = sentence_embeddings(loaded, labels, pooling=pooling)  # [L, D]
    similarity = cosine(embeddings, label_vectors)  # [B, L]
    figure = figures.matrix_heatmap(
        similarity,
        [figures.label(b, _short(s, 30)) for b, s in enumerate(sentences)],
        [figures.label(k, _short(label, 30)) for k, label in enumerate(labels)],
        "Cosine similarity: sentence embedding vs label embedding",
        "candidate label",
        "sentence",
        value_name="cosine",
    )
    rows = []
    for b, sentence in enumerate(sentences):
        for rank, k in enumerate(np.argsort(-similarity[b], kind="stable")[:NEAREST], start=1):
            rows.append(
                {
                    "sentence": f"{b} · {_short(sentence)}",
                    "rank": rank,
                    "label": _short(labels[k]),
                    "cosine": round(float(similarity[b, k]), 4),
                }
            )
    return LabelPart(intro, notes, figure, table(rows, index=["sentence", "rank"]))


@dataclass(frozen=True)
class BundledVectors:
    """The bundled labelled sentences' embeddings for one checkpoint (computed once, then kept)."""

    texts: tuple[str, ...]  # [N]
    labels: tuple[str, ...]  # [N] label names
    vectors: np.ndarray  # [N, D] read-only
    seconds: float  # how long computing them took


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


def bundled_vectors(loaded: Any, pooling: Pooling) -> BundledVectors:
    """The bundled labelled sentences (train + validation) embedded by ``loaded``: computed once
    per checkpoint (keyed by its ref, the fingerprint of its files and the pooling) and kept in a
    small bounded cache shared by every session."""
    from explorer.training.finetune import LABELS, bundled_dataset

    found = cached_bundled_vectors(loaded, pooling)
    if found is not None:
        return found
    train, validation = bundled_dataset()
    texts = train.texts + validation.texts
    started = time.perf_counter()
    vectors = sentence_embeddings(loaded, texts, pooling=pooling)  # [N, D]
    seconds = time.perf_counter() - started
    readonly(vectors)
    names = tuple(LABELS[i] for i in train.labels + validation.labels)
    entry = BundledVectors(texts, names, vectors, seconds)
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


# Okabe-Ito colours and distinct symbols: readable without colour vision too.
_LABEL_STYLE = {"NEGATIVE": ("#D55E00", "circle"), "POSITIVE": ("#0072B2", "diamond")}


def _map_figure(
    bundled: BundledVectors, points: np.ndarray, users: np.ndarray, sentences: Sequence[str], kept: float
) -> go.Figure:
    """[N, 2] bundled points coloured by label, [B, 2] the user's sentences as numbered stars."""
    figure = go.Figure()
    labels = np.array(bundled.labels)
    for name in sorted(set(bundled.labels)):
        colour, symbol = _LABEL_STYLE.get(name, ("#999999", "square"))
        chosen = labels == name
        figure.add_trace(
            go.Scatter(
                x=np.round(points[chosen, 0], 4),
                y=np.round(points[chosen, 1], 4),
                mode="markers",
                name=f"bundled: {name}",
                marker={"color": colour, "symbol": symbol, "size": 7, "opacity": 0.6},
                text=[visible(t, quote=False) for t, c in zip(bundled.texts, chosen, strict=True) if c],
                hovertemplate="%{text}<extra>" + name + "</extra>",
            )
        )
    figure.add_trace(
        go.Scatter(
            x=np.round(users[:, 0], 4),
            y=np.round(users[:, 1], 4),
            mode="markers+text",
            name="your sentences",
            marker={
                "color": "#000000",
                "symbol": "star",
                "size": 16,
                "line": {"color": "#F0E442", "width": 1},
            },
            text=[str(b) for b in range(len(sentences))],
            textposition="top center",
            hovertext=[figures.label(b, _short(s, 60)) for b, s in enumerate(sentences)],
            hovertemplate="%{hovertext}<extra>your sentence</extra>",
        )
    )
    figure.update_layout(
        title={
            "text": (
                f"Embedding map: {len(bundled.texts)} bundled sentences, PCA to 2-D "
                f"({kept:.0%} of the variance)"
            )
        },
        xaxis_title="principal component 1",
        yaxis_title="principal component 2",
        height=520,
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        plot_bgcolor="white",
    )
    return figure


def _nearest(bundled: BundledVectors, embeddings: np.ndarray, sentences: Sequence[str]) -> Table:
    similarity = cosine(embeddings, bundled.vectors)  # [B, N]
    rows = []
    for b, sentence in enumerate(sentences):
        for rank, k in enumerate(np.argsort(-similarity[b], kind="stable")[:NEAREST], start=1):
            rows.append(
                {
                    "sentence": f"{b} · {_short(sentence)}",
                    "rank": rank,
                    "nearest bundled sentence": bundled.texts[k],
                    "label": bundled.labels[k],
                    "cosine": round(float(similarity[b, k]), 4),
                }
            )
    return table(rows, index=["sentence", "rank"])


def _embedding_map(
    loaded: Any, embeddings: np.ndarray, sentences: Sequence[str], pooling: Pooling
) -> EmbeddingMap:
    from explorer.training.finetune import bundled_dataset

    train, validation = bundled_dataset()
    count = len(train.texts) + len(validation.texts)
    intro = Note(
        "markdown",
        f"**Embedding map and semantic search.** The app's {count} labelled sentences (the ones the "
        "default classifier is fine-tuned on), embedded the same way and drawn on their two main "
        "directions (PCA). Your sentences are the stars; below, the bundled sentences closest to each "
        "(cosine similarity), a semantic search. The labels are the dataset's, not this model's: it "
        "never saw them.",
    )
    bundled = cached_bundled_vectors(loaded, pooling)
    if bundled is None:
        cost = Note(
            "caption",
            f"Not computed yet for this checkpoint: {count} sentences through the model, once; then every "
            "session reuses them.",
        )
        offer = f"Embed the {count} bundled sentences"
        return EmbeddingMap(
            intro=intro,
            timing=cost,
            figure=None,
            nearest=None,
            offer=offer,
            compute=functools.partial(bundled_vectors, loaded, pooling),
        )
    points, users, kept = pca_2d(bundled.vectors, embeddings)  # [N, 2], [B, 2]
    timing = Note(
        "caption",
        f"The {count} bundled sentence embeddings took {bundled.seconds:.2f} s to compute, once for this "
        "checkpoint; they are kept in memory for every session.",
    )
    return EmbeddingMap(
        intro=intro,
        timing=timing,
        figure=_map_figure(bundled, points, users, sentences, kept),
        nearest=_nearest(bundled, embeddings, sentences),
    )


def build(loaded: Any, encoding: Any, run: Any, inputs: TaskInputs) -> View:
    """Step ③ for a headless checkpoint: pool the run's token vectors into sentence embeddings as
    the checkpoint says, compare them, and place them among the bundled sentences."""
    pooling = pooling_for(loaded)
    sentences = tuple(encoding.sentences)
    tokens = token_vectors(loaded, encoding, run)  # [B, S, D]
    embeddings, pooled, notes = _page_embeddings(loaded, encoding, tokens, pooling)  # [B, D], [B]
    figure, pairs, similarity_note = _similarity(embeddings, sentences, pooling)
    B, D = embeddings.shape
    return View(
        intro=_intro(loaded, tokens),
        check=_token_check(loaded, encoding, tokens),
        pooling=_pooling_note(pooling),
        notes=notes,
        embeddings_title=f"Sentence embeddings: shape [{B}, {D}]",
        embeddings=_embeddings_table(embeddings, pooled, sentences),
        similarity_title="How similar are the sentences?",
        similarity=figure,
        similarity_table=pairs,
        similarity_note=similarity_note,
        mask=_mask_demo(loaded, encoding, pooling),
        labels=_label_part(loaded, sentences, embeddings, inputs.labels, pooling),
        embedding_map=_embedding_map(loaded, embeddings, sentences, pooling),
    )

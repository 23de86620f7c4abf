"""The tokenizer, step by step: what kind of subwords a tokenizer makes, its special tokens, the
course's steps (tokenize -> convert_tokens_to_ids -> special tokens -> decode), tokenizer families
side by side, and exports of a batch. Pure functions; nothing here imports streamlit."""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

from explorer.pipeline.encoding import Encoding
from explorer.pipeline.token_display import PLAIN, shown_tokens


@dataclass(frozen=True)
class Scheme:
    """How a tokenizer splits words, and how its tokens show it."""

    algorithm: str  # "WordPiece", "byte-level BPE", "BPE", "Unigram (SentencePiece)", "word-level", …
    marker: str | None  # the marker the tokens carry: "##", "Ġ", "▁" (None when there is none)
    explanation: str


def _backend_json(tokenizer: Any) -> dict:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return {}
    return json.loads(backend.to_str())


def _types(node: Any) -> set[str]:
    """All "type" names in a (possibly nested Sequence) pre-tokenizer / decoder description."""
    if isinstance(node, dict):
        found = {node["type"]} if "type" in node else set()
        for value in node.values():
            found |= _types(value)
        return found
    if isinstance(node, list):
        return set().union(*(_types(item) for item in node)) if node else set()
    return set()


def subword_scheme(tokenizer: Any) -> Scheme:
    """Name the tokenizer's algorithm and explain its subword marker."""
    spec = _backend_json(tokenizer)
    model = spec.get("model", {}).get("type")
    around = _types(spec.get("pre_tokenizer")) | _types(spec.get("decoder"))
    if model == "WordPiece":
        prefix = spec["model"].get("continuing_subword_prefix") or "##"
        return Scheme(
            "WordPiece",
            prefix,
            f"WordPiece: a word is split into known pieces; every piece after the first starts with "
            f"'{prefix}', which means 'glued to the previous token' (play ##ing = playing).",
        )
    if model == "BPE" and "ByteLevel" in around:
        return Scheme(
            "byte-level BPE",
            "Ġ",
            "Byte-level BPE: the text is read as bytes, so nothing is ever unknown. 'Ġ' stands for a "
            "space before the token (Ġworld = ' world'); emoji and non-Latin letters show as several "
            "odd-looking byte tokens that decode back to the original characters.",
        )
    if model == "Unigram" or (model == "BPE" and "Metaspace" in around):
        algorithm = "Unigram (SentencePiece)" if model == "Unigram" else "BPE (SentencePiece)"
        return Scheme(
            algorithm,
            "▁",
            f"{algorithm}: spaces are part of the text; '▁' marks a token that starts a new word "
            "(▁the = ' the'), so decoding just swaps '▁' back to spaces.",
        )
    if model == "BPE":
        suffix = spec["model"].get("end_of_word_suffix")
        marker = suffix or spec["model"].get("continuing_subword_prefix")
        return Scheme("BPE", marker, "BPE: frequent character pairs are merged into longer tokens.")
    if model == "WordLevel":
        return Scheme("word-level", None, "Word-level: one token per word; unseen words become unknown.")
    return Scheme(
        type(tokenizer).__name__, None, "A tokenizer without a fast backend: its algorithm is not described."
    )


# Roles a tokenizer may define, and what each is for.
SPECIAL_ROLES: tuple[tuple[str, str], ...] = (
    (
        "cls_token",
        "classification token: what its vector means depends on how the model was trained "
        "(a head or pooling trained on it makes it summarise the sentence)",
    ),
    ("sep_token", "separator: ends a sentence, and separates the two sentences of a pair"),
    ("bos_token", "beginning of sequence"),
    ("eos_token", "end of sequence: a decoder stops generating after it"),
    ("pad_token", "padding: fills short sentences up to the batch length; masked out"),
    ("unk_token", "unknown: replaces what the vocabulary cannot express"),
    ("mask_token", "mask: hides a word for a masked language model to guess"),
)


@dataclass(frozen=True)
class SpecialToken:
    role: str  # e.g. "cls_token"
    token: str
    token_id: int | None
    meaning: str


def special_tokens(tokenizer: Any) -> tuple[SpecialToken, ...]:
    """The special tokens this tokenizer defines, with their IDs and what they are for."""
    found = []
    for role, meaning in SPECIAL_ROLES:
        token = getattr(tokenizer, role, None)
        if token:
            found.append(SpecialToken(role, str(token), tokenizer.convert_tokens_to_ids(str(token)), meaning))
    return tuple(found)


@dataclass(frozen=True, kw_only=True)
class Steps:
    """The course's tokenizer steps for one sentence."""

    sentence: str
    tokens: tuple[str, ...]  # tokenizer.tokenize(sentence)
    ids: tuple[int, ...]  # tokenizer.convert_tokens_to_ids(tokens)
    ids_with_specials: tuple[int, ...]  # tokenizer(sentence)["input_ids"]
    tokens_with_specials: tuple[str, ...]
    added: tuple[str, ...]  # the special tokens the last step added, in order
    decoded: str  # tokenizer.decode(ids_with_specials)
    decoded_plain: str  # tokenizer.decode(ids_with_specials, skip_special_tokens=True)
    exact: bool  # decoded_plain == sentence
    why_not_exact: tuple[str, ...]  # reasons, when not exact


def tokenizer_steps(tokenizer: Any, sentence: str) -> Steps:
    """tokenize() -> convert_tokens_to_ids() -> add special tokens -> decode(), for one sentence."""
    tokens = tuple(tokenizer.tokenize(sentence))
    ids = tuple(int(i) for i in tokenizer.convert_tokens_to_ids(list(tokens)))
    full = tokenizer(sentence, return_special_tokens_mask=True)
    with_specials = tuple(int(i) for i in full["input_ids"])
    tokens_with_specials = tuple(tokenizer.convert_ids_to_tokens(list(with_specials)))
    added = tuple(
        token
        for token, special in zip(tokens_with_specials, full["special_tokens_mask"], strict=True)
        if special
    )
    decoded = tokenizer.decode(list(with_specials))
    plain = tokenizer.decode(list(with_specials), skip_special_tokens=True)
    reasons = _why_not_exact(tokenizer, sentence, plain, ids) if plain != sentence else ()
    return Steps(
        sentence=sentence,
        tokens=tokens,
        ids=ids,
        ids_with_specials=with_specials,
        tokens_with_specials=tokens_with_specials,
        added=added,
        decoded=decoded,
        decoded_plain=plain,
        exact=plain == sentence,
        why_not_exact=reasons,
    )


def _why_not_exact(tokenizer: Any, sentence: str, decoded: str, ids: Sequence[int]) -> tuple[str, ...]:
    """Plain-language reasons why decode(encode(sentence)) differs from the sentence."""
    reasons = []
    unk = tokenizer.unk_token_id
    if unk is not None and unk in ids:
        reasons.append(
            f"{list(ids).count(unk)} piece(s) became the unknown token {tokenizer.unk_token}, which "
            "cannot be turned back into the characters it replaced."
        )
    if sentence != sentence.lower() and decoded == decoded.lower():
        reasons.append("The tokenizer lower-cases text (an uncased model), so capitals do not come back.")
    without_accents = "".join(
        c for c in unicodedata.normalize("NFD", sentence) if unicodedata.category(c) != "Mn"
    )
    if without_accents != sentence and without_accents.lower() in (decoded, decoded.lower()):
        reasons.append("Accents were removed by the tokenizer's normalisation.")
    squeeze = re.compile(r"\s+")
    if not reasons and squeeze.sub("", decoded) == squeeze.sub("", sentence):
        reasons.append("Only spaces differ: decoding re-joins the tokens with its own spacing rules.")
    if not reasons:
        reasons.append(
            "The tokenizer normalises text (spacing, punctuation or Unicode forms) before splitting it."
        )
    return tuple(reasons)


# --- Exports ----------------------------------------------------------------------------------


def encoding_json(encoding: Encoding) -> str:
    """The encoding as JSON: per sentence its tokens, IDs, masks, type IDs and offsets."""
    sentences = []
    for b, sentence in enumerate(encoding.sentences):
        row = {
            "sentence": sentence,
            "tokens": list(encoding.tokens[b]),
            "input_ids": encoding.input_ids[b].tolist(),
            "attention_mask": encoding.attention_mask[b].tolist(),
            "special_tokens_mask": encoding.special_tokens_mask[b].tolist(),
            "tokens_truncated": encoding.truncated[b],
        }
        if encoding.pairs is not None:
            row["pair"] = encoding.pairs[b]
        if encoding.token_type_ids is not None:
            row["token_type_ids"] = encoding.token_type_ids[b].tolist()
        if encoding.offsets is not None:
            row["offsets"] = encoding.offsets[b].tolist()
        sentences.append(row)
    payload = {
        "shape": list(encoding.shape),
        "padding_side": encoding.padding_side,
        "pad_token": encoding.pad_token,
        "pad_token_id": encoding.pad_token_id,
        "max_length": encoding.max_length,
        "sentences": sentences,
    }
    return json.dumps(payload, ensure_ascii=False, indent=2)


def batch_csv(encoding: Encoding) -> str:
    """The batch grid as CSV: one row per (sentence, position)."""
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["sentence", "position", "token", "input_id", "attention_mask", "special"]
    if encoding.token_type_ids is not None:
        header.append("token_type_id")
    writer.writerow(header)
    B, S = encoding.shape
    for b in range(B):
        for s in range(S):
            row = [
                b,
                s,
                encoding.tokens[b][s],
                int(encoding.input_ids[b, s]),
                int(encoding.attention_mask[b, s]),
                int(encoding.special_tokens_mask[b, s]),
            ]
            if encoding.token_type_ids is not None:
                row.append(int(encoding.token_type_ids[b, s]))
            writer.writerow(row)
    return out.getvalue()


# --- Tokenizer families -------------------------------------------------------------------------

WORD_PATTERN = re.compile(r"\w+|[^\w\s]", re.UNICODE)
Trainable = Literal["BPE", "WordPiece", "Unigram"]


def sample_corpus() -> str:
    """A short English text written for this project, to train small tokenizers on."""
    return resources.files("explorer").joinpath("data/sample_corpus.txt").read_text(encoding="utf-8")


@dataclass(frozen=True, kw_only=True)
class FamilyResult:
    """One tokenizer family applied to a text."""

    family: str  # e.g. "word-based"
    source: str  # where the tokenizer comes from
    tokens: tuple[str, ...]
    vocab_size: int
    unknown: int  # tokens that are the unknown token
    shown: tuple[str, ...] = ()  # the tokens as the screen shows them (token_display); () = as they are

    @property
    def display(self) -> tuple[str, ...]:
        return self.shown or shown_tokens(PLAIN, self.tokens)


def word_tokenize(text: str) -> list[str]:
    """Word-based: words and single punctuation marks."""
    return WORD_PATTERN.findall(text)


def _closed_family(
    family: str, source: str, vocabulary: set[str], pieces: list[str], key: Callable[[str], str]
) -> FamilyResult:
    """A closed vocabulary: each piece kept when ``key(piece)`` is in ``vocabulary``, else [UNK]
    (which the vocabulary size counts too)."""
    tokens = tuple(piece if key(piece) in vocabulary else "[UNK]" for piece in pieces)
    return FamilyResult(
        family=family,
        source=source,
        tokens=tokens,
        vocab_size=len(vocabulary) + 1,
        unknown=tokens.count("[UNK]"),
    )


def word_family(text: str, corpus: str) -> FamilyResult:
    vocabulary = {w.lower() for w in word_tokenize(corpus)}
    return _closed_family(
        "word-based", "the words of the training text", vocabulary, word_tokenize(text), str.lower
    )


def character_family(text: str, corpus: str) -> FamilyResult:
    pieces = [c for c in text if not c.isspace()]
    return _closed_family(
        "character-based", "the characters of the training text", set(corpus), pieces, lambda c: c
    )


def pretrained_family(family: str, source: str, tokenizer: Any, text: str) -> FamilyResult:
    tokens = tuple(tokenizer.tokenize(text))
    unknown = tokens.count(tokenizer.unk_token) if tokenizer.unk_token else 0
    return FamilyResult(
        family=family,
        source=source,
        tokens=tokens,
        vocab_size=len(tokenizer),
        unknown=unknown,
        shown=shown_tokens(tokenizer, tokens),
    )


def train_tokenizer(kind: Trainable, corpus: str, vocab_size: int) -> Any:
    """Train a small `tokenizers` tokenizer of the given kind on ``corpus`` (one text per line)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    lines = [line for line in corpus.splitlines() if line.strip()]
    trainer: trainers.WordPieceTrainer | trainers.BpeTrainer | trainers.UnigramTrainer
    if kind == "WordPiece":
        tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
        tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tokenizer.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(
            vocab_size=vocab_size, special_tokens=["[UNK]"], show_progress=False
        )
    elif kind == "BPE":
        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            special_tokens=[],
            show_progress=False,
        )
    elif kind == "Unigram":
        tokenizer = Tokenizer(models.Unigram())
        tokenizer.normalizer = normalizers.NFKC()
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
        tokenizer.decoder = decoders.Metaspace()
        trainer = trainers.UnigramTrainer(
            vocab_size=vocab_size, special_tokens=["<unk>"], unk_token="<unk>", show_progress=False
        )
    else:
        raise ValueError(f"unknown tokenizer kind {kind!r}")
    tokenizer.train_from_iterator(lines, trainer)
    return tokenizer


def trained_family(
    kind: Trainable, tokenizer: Any, text: str, source: str = "trained on the sample text"
) -> FamilyResult:
    family = {
        "BPE": "byte-level BPE (trained here)",
        "WordPiece": "WordPiece (trained here)",
        "Unigram": "SentencePiece / Unigram (trained here)",
    }[kind]
    tokens = tuple(tokenizer.encode(text).tokens)
    unknown = sum(t in ("[UNK]", "<unk>") for t in tokens)
    return FamilyResult(
        family=family,
        source=source,
        tokens=tokens,
        vocab_size=tokenizer.get_vocab_size(),
        unknown=unknown,
        shown=shown_tokens(tokenizer, tokens),
    )


# --- Sentence pairs ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PairLayout:
    """What a tokenizer makes of a sentence pair (first, second), read from its own encoding."""

    tokens: tuple[str, ...]  # [S] the pair's tokens, special tokens included (no truncation)
    segments: tuple[int | None, ...]  # [S] 0 = first text, 1 = second text, None = special token
    before: tuple[str, ...]  # special tokens inserted before the first text
    between: tuple[str, ...]  # special tokens inserted between the two texts
    after: tuple[str, ...]  # special tokens inserted after the second text
    token_type_ids: tuple[int, ...] | None  # [S] None when the tokenizer returns none
    parts: tuple[str, ...]  # e.g. ("[CLS]", "A", "[SEP]", "B", "[SEP]"): specials, A / B for the texts

    @property
    def template(self) -> str:
        """e.g. "[CLS] A [SEP] B [SEP]", or "A B" when the texts are just joined."""
        return " ".join(self.parts)

    def types_of(self, segment: int) -> tuple[int, ...]:
        """The distinct token_type_ids of one text's tokens (empty without token_type_ids)."""
        if self.token_type_ids is None:
            return ()
        return tuple(
            sorted({t for t, s in zip(self.token_type_ids, self.segments, strict=True) if s == segment})
        )


def _segments(tokenizer: Any, encoded: Any, first: str) -> tuple[int | None, ...]:
    """0 / 1 / None per position of a pair's encoding: from the fast tokenizer's sequence_ids,
    else by counting the first text's own tokens among the non-special ones."""
    try:
        return tuple(encoded.sequence_ids())
    except (AttributeError, ValueError):  # a slow tokenizer
        pass
    n_first = len(tokenizer(first, add_special_tokens=False)["input_ids"])
    segments: list[int | None] = []
    seen = 0
    for special in encoded["special_tokens_mask"]:
        if special:
            segments.append(None)
        else:
            segments.append(0 if seen < n_first else 1)
            seen += 1
    return tuple(segments)


def pair_layout(tokenizer: Any, first: str, second: str) -> PairLayout:
    """Encode one pair as ``tokenizer(first, second)`` does (no truncation) and say where the
    tokenizer put special tokens and which token_type_ids each text got."""
    encoded = tokenizer(first, second, truncation=False, return_special_tokens_mask=True)
    ids = [int(i) for i in encoded["input_ids"]]
    tokens = tuple(tokenizer.convert_ids_to_tokens(ids))
    segments = _segments(tokenizer, encoded, first)
    types = encoded.get("token_type_ids")
    before: list[str] = []
    between: list[str] = []
    after: list[str] = []
    parts: list[str] = []
    for token, segment in zip(tokens, segments, strict=True):
        name = token if segment is None else "AB"[segment]
        if segment is None or not parts or parts[-1] != name:  # one letter per run of a text's tokens
            parts.append(name)
    # Where each special token sits: before A, between A and B, or after B.
    for position, (token, segment) in enumerate(zip(tokens, segments, strict=True)):
        if segment is not None:
            continue
        earlier = {s for s in segments[:position] if s is not None}
        later = {s for s in segments[position + 1 :] if s is not None}
        if not earlier:
            before.append(token)
        elif not later:
            after.append(token)
        elif 0 in earlier and 1 in later:
            between.append(token)
    return PairLayout(
        tokens=tokens,
        segments=segments,
        before=tuple(before),
        between=tuple(between),
        after=tuple(after),
        token_type_ids=tuple(int(t) for t in types) if types is not None else None,
        parts=tuple(parts),
    )

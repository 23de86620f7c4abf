"""How a token is shown on screen: the one place raw tokenizer pieces become readable labels.

A tokenizer writes its pieces in its own alphabet: byte-level BPE (GPT-2, RoBERTa, SmolLM2, Qwen)
maps every byte to a printable character (``Ġ`` = space, ``Ċ`` = newline, ``ĉ`` = tab, ``ðŁĺ`` =
the first three bytes of an emoji); SentencePiece (T5, ALBERT, Llama) writes a space as ``▁`` and
an unknown byte as ``<0x0A>``; WordPiece (BERT, MiniLM) marks a word's continuation with ``##``.
:func:`shown` turns one piece into what a reader should see, the same way on every page:

- a space is ``␣``, a newline ``↵``, a tab ``⇥``, a carriage return ``␍``; other invisible
  characters ⟨U+XXXX⟩;
- a byte that is not a whole UTF-8 character (part of an emoji split over pieces) is ``<0xF0>``;
- WordPiece pieces (``##ing``) and special tokens (``[CLS]``, ``<|im_end|>``) stay as they are;
- the result is never empty (an empty piece is ``∅``).

The result is plain text, not escaped: the drawing layer escapes it once. The raw piece stays what
computations use (word ids, markers, offsets) and is offered on hover. Which alphabet a tokenizer
uses is read from the tokenizer itself (its decoder), never from a model name.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

Kind = Literal["byte-level", "sentencepiece", "wordpiece", "plain"]

SPACE, NEWLINE, TAB, RETURN, EMPTY = "␣", "↵", "⇥", "␍", "∅"
_WHITESPACE = {" ": SPACE, "\n": NEWLINE, "\t": TAB, "\r": RETURN}
_INVISIBLE = {"Cc", "Cf", "Zl", "Zp", "Zs"}  # shown as ⟨U+XXXX⟩ (a plain space is ␣ above)
_BYTE_PIECE = re.compile(r"<0x([0-9A-Fa-f]{2})>")


@dataclass(frozen=True)
class TokenScheme:
    """What a tokenizer's pieces are written in, read from the tokenizer."""

    kind: Kind
    specials: frozenset[str]  # added / special tokens, shown as they are


PLAIN = TokenScheme("plain", frozenset())  # text split without a tokenizer (words, characters)


@dataclass(frozen=True)
class ShownToken:
    """One piece as shown (``text``) and as the tokenizer wrote it (``raw``, for hover)."""

    text: str
    raw: str


@cache
def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level alphabet, character -> byte (the mapping every byte-level BPE uses:
    printable Latin-1 bytes map to themselves, the others to U+0100 onwards)."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    chars = list(printable)
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars, strict=True)}


def _decoder_types(decoder: Any) -> set[str]:
    """The types of a ``tokenizers`` decoder and, for a Sequence, of its parts."""
    if decoder is None:
        return set()
    try:
        state = json.loads(decoder.__getstate__())
    except (AttributeError, TypeError, ValueError):
        return {type(decoder).__name__}
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("type"), str):
                found.add(node["type"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(state)
    return found


def _kind(tokenizer: Any) -> Kind:
    backend = getattr(tokenizer, "backend_tokenizer", tokenizer)  # a fast tokenizer, or a raw one
    types = _decoder_types(getattr(backend, "decoder", None))
    if "ByteLevel" in types:
        return "byte-level"
    if "Metaspace" in types or "ByteFallback" in types:
        return "sentencepiece"
    if "WordPiece" in types:
        return "wordpiece"
    # Slow tokenizers: GPT-2's keeps its byte decoder, SentencePiece ones their sp_model.
    if getattr(tokenizer, "byte_decoder", None) is not None:
        return "byte-level"
    if getattr(tokenizer, "sp_model", None) is not None:
        return "sentencepiece"
    if hasattr(tokenizer, "wordpiece_tokenizer"):
        return "wordpiece"
    return "plain"


def _specials(tokenizer: Any) -> frozenset[str]:
    names: set[str] = set(getattr(tokenizer, "all_special_tokens", None) or ())
    added = getattr(tokenizer, "added_tokens_decoder", None)
    if added is None and hasattr(tokenizer, "get_added_tokens_decoder"):  # a raw tokenizers.Tokenizer
        added = tokenizer.get_added_tokens_decoder()
    for token in (added or {}).values():
        names.add(str(getattr(token, "content", token)))
    return frozenset(names)


def scheme_of(tokenizer: Any) -> TokenScheme:
    """The alphabet of ``tokenizer``'s pieces (a transformers tokenizer, fast or slow, or a raw
    ``tokenizers.Tokenizer``) and its special tokens."""
    return TokenScheme(_kind(tokenizer), _specials(tokenizer))


def _bytes_shown(data: bytes) -> str:
    """Bytes as text: whole UTF-8 characters decoded, every byte that is not part of one as <0xNN>."""
    out: list[str] = []
    i = 0
    while i < len(data):
        for width in (1, 2, 3, 4):  # the shortest run of bytes that is one whole character
            try:
                out.append(data[i : i + width].decode("utf-8"))
            except UnicodeDecodeError:
                continue
            i += width
            break
        else:
            out.append(f"<0x{data[i]:02X}>")
            i += 1
    return "".join(out)


def _characters_shown(text: str) -> str:
    """Space ␣, newline ↵, tab ⇥, return ␍; other invisible characters ⟨U+XXXX⟩."""
    out = []
    for char in text:
        if char in _WHITESPACE:
            out.append(_WHITESPACE[char])
        elif unicodedata.category(char) in _INVISIBLE or char.isspace():
            out.append(f"⟨U+{ord(char):04X}⟩")
        else:
            out.append(char)
    return "".join(out)


def _text_of(piece: str, kind: Kind) -> str:
    """The text (with <0xNN> for stray bytes) that ``piece`` stands for."""
    if kind == "byte-level":
        decoder = _byte_decoder()
        if all(char in decoder for char in piece):
            return _bytes_shown(bytes(decoder[char] for char in piece))
        return piece  # not in the byte alphabet (an added token): as written
    if kind == "sentencepiece":
        match = _BYTE_PIECE.fullmatch(piece)
        if match:  # byte fallback: one byte
            return _bytes_shown(bytes([int(match.group(1), 16)]))
        return piece.replace("▁", " ")
    return piece


def shown(piece: str, scheme: TokenScheme) -> str:
    """One raw piece as a reader should see it (plain text, never empty; see the module doc)."""
    if piece in scheme.specials:
        return piece or EMPTY
    text = _text_of(piece, scheme.kind)
    # A <0xNN> written by _bytes_shown stays; only real characters are made visible.
    parts = re.split(r"(<0x[0-9A-F]{2}>)", text) if "<0x" in text else [text]
    out = "".join(p if _BYTE_PIECE.fullmatch(p) else _characters_shown(p) for p in parts)
    return out or EMPTY


def shown_tokens(tokenizer_or_scheme: Any, pieces: Sequence[str]) -> tuple[str, ...]:
    """[N] every piece shown (``tokenizer_or_scheme``: a tokenizer, or its :func:`scheme_of`)."""
    scheme = (
        tokenizer_or_scheme
        if isinstance(tokenizer_or_scheme, TokenScheme)
        else scheme_of(tokenizer_or_scheme)
    )
    return tuple(shown(piece, scheme) for piece in pieces)


def shown_pairs(tokenizer_or_scheme: Any, pieces: Sequence[str]) -> tuple[ShownToken, ...]:
    """[N] every piece as (shown text, raw piece)."""
    texts = shown_tokens(tokenizer_or_scheme, pieces)
    return tuple(ShownToken(text, raw) for text, raw in zip(texts, pieces, strict=True))


def hover(text: str, raw: str) -> str:
    """What a hover says about a piece: its raw form when that differs from what is shown."""
    return f"raw piece {raw!r}" if raw != text else ""

"""Step 1 of the pipeline, the tokenizer: text -> sentences -> the batch tensor the model receives.

:func:`split_sentences` reads the text box (one sentence per line); :func:`encode_batch` calls the
tokenizer once for the whole batch and returns an :class:`Encoding` whose arrays are exactly what
``tokenizer(...)`` returned for the same arguments, as read-only NumPy arrays.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from explorer.errors import InputError
from explorer.pipeline.token_display import TokenScheme, scheme_of, shown_tokens

MAX_SENTENCES = 8  # lines beyond this are left out, with a note
Padding = Literal["longest", "max_length", "do_not_pad"]


@dataclass(frozen=True)
class Sentences:
    """The text box read as a batch: one sentence per non-blank line."""

    sentences: tuple[str, ...]
    blank_lines: int  # empty or whitespace-only lines that were skipped
    left_out: int  # non-blank lines beyond max_sentences

    def notes(self) -> list[str]:
        notes = []
        if self.blank_lines:
            notes.append(f"Skipped {self.blank_lines} empty line(s).")
        if self.left_out:
            notes.append(
                f"Only the first {len(self.sentences)} lines make the batch; "
                f"{self.left_out} more line(s) were left out."
            )
        return notes


def split_sentences(text: str, max_sentences: int = MAX_SENTENCES) -> Sentences:
    """Each non-blank line of ``text`` is one sentence of the batch (kept as typed)."""
    lines = [line.rstrip("\r") for line in (text or "").split("\n")]
    kept = [line for line in lines if line.strip()]
    blank = len(lines) - len(kept) if kept else 0
    if not kept:
        raise InputError("The text box is empty. Type a sentence (one sentence per line).")
    return Sentences(tuple(kept[:max_sentences]), blank, max(0, len(kept) - max_sentences))


def readonly(array: np.ndarray) -> np.ndarray:
    """``array``, made read-only: results are cached and shared between sessions, so nothing may
    write into them. The one place the app freezes an array."""
    array.setflags(write=False)
    return array


def last_real(mask: np.ndarray) -> np.ndarray:
    """[B] int64 position of each row's last real token in a [B, S] mask (1 = real, 0 = padding),
    wherever the padding is (left or right); a row with no real token gives -1."""
    real = np.asarray(mask) > 0  # [B, S]
    last = real.shape[1] - 1 - real[:, ::-1].argmax(axis=1)  # [B]
    return np.where(real.any(axis=1), last, -1).astype(np.int64)


@dataclass(frozen=True, kw_only=True)
class Encoding:
    """The batch as the model receives it. Arrays are read-only; B = batch, S = sequence length."""

    sentences: tuple[str, ...]  # [B] the texts as typed
    pairs: tuple[str, ...] | None  # [B] second segments, for sentence-pair input
    tokens: tuple[tuple[str, ...], ...]  # [B][S] token strings, padding included
    shown: tuple[tuple[str, ...], ...]  # [B][S] the same tokens as the screen shows them (token_display)
    scheme: TokenScheme  # the tokenizer's alphabet: shows any other piece of it the same way
    input_ids: np.ndarray  # [B, S] int64
    attention_mask: np.ndarray  # [B, S] int64: 1 = real token, 0 = padding
    token_type_ids: np.ndarray | None  # [B, S] int64 segment ids, None if the model has none
    special_tokens_mask: np.ndarray  # [B, S] int64: 1 = special token or padding
    offsets: np.ndarray | None  # [B, S, 2] character spans in the source text; (0, 0) = none
    truncated: tuple[int, ...]  # [B] tokens cut from each sentence (0 = nothing cut)
    pad_token: str | None
    pad_token_id: int | None
    padding_side: str
    max_length: int | None
    padded: (
        bool  # False for padding="do_not_pad": rows keep their own lengths (cells past a row's end are fill)
    )

    def show(self, pieces: Sequence[str]) -> tuple[str, ...]:
        """[N] pieces of this encoding's tokenizer as the screen shows them (token_display)."""
        return shown_tokens(self.scheme, pieces)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.input_ids.shape)  # (B, S)

    @property
    def lengths(self) -> np.ndarray:
        """[B] real (non-padding) tokens per sentence."""
        return self.attention_mask.sum(axis=1)

    @property
    def left_padded(self) -> bool:
        """Whether any sentence has padding on its left (its first cell is not a real token)."""
        return bool((self.attention_mask[:, 0] == 0).any())

    @property
    def last_real(self) -> np.ndarray:
        """[B] position of each sentence's last real token (see :func:`last_real`)."""
        return last_real(self.attention_mask)

    def cut(self, rows: slice = slice(None), columns: slice = slice(None)) -> Encoding:
        """The batch cut to ``rows`` (sentences) and ``columns`` (positions): every per-sentence and
        per-position field cut alike, the arrays copied and read-only."""

        def part(array: np.ndarray | None) -> np.ndarray | None:
            return None if array is None else readonly(np.array(array[rows, columns]))

        def required(array: np.ndarray) -> np.ndarray:
            return readonly(np.array(array[rows, columns]))

        return dataclasses.replace(
            self,
            sentences=self.sentences[rows],
            pairs=self.pairs[rows] if self.pairs else None,
            tokens=tuple(row[columns] for row in self.tokens[rows]),
            shown=tuple(row[columns] for row in self.shown[rows]),
            input_ids=required(self.input_ids),  # [B', S']
            attention_mask=required(self.attention_mask),  # [B', S']
            token_type_ids=part(self.token_type_ids),  # [B', S']
            special_tokens_mask=required(self.special_tokens_mask),  # [B', S']
            offsets=part(self.offsets),  # [B', S', 2]
            truncated=self.truncated[rows],
        )

    def model_inputs(self, accepted: Sequence[str]) -> dict[str, Any]:
        """The tensors for ``model(**inputs)``: the keys the model accepts, as torch tensors."""
        import torch

        arrays = {"input_ids": self.input_ids, "attention_mask": self.attention_mask}
        if self.token_type_ids is not None:
            arrays["token_type_ids"] = self.token_type_ids
        return {key: torch.from_numpy(np.array(value)) for key, value in arrays.items() if key in accepted}


def encode_batch(
    tokenizer: Any,
    sentences: Sequence[str],
    pairs: Sequence[str] | None = None,
    *,
    padding: Padding = "longest",
    truncation: bool = True,
    max_length: int | None = None,
    padding_side: str | None = None,
) -> Encoding:
    """Tokenize a batch with one ``tokenizer(...)`` call and keep everything the course shows."""
    sentences, pairs = _checked(tokenizer, sentences, pairs, padding)
    side = padding_side or tokenizer.padding_side
    padded = padding != "do_not_pad"
    call = dict(
        padding=padding,
        truncation="longest_first" if truncation else False,
        max_length=max_length,
        padding_side=side,
        return_special_tokens_mask=True,
        return_offsets_mapping=bool(getattr(tokenizer, "is_fast", False)),
        return_attention_mask=True,
    )
    encoded = tokenizer(list(sentences), list(pairs) if pairs else None, **call)
    input_ids = _as_matrix(encoded["input_ids"], tokenizer.pad_token_id, side)
    B, S = input_ids.shape
    attention_mask = _as_matrix(encoded["attention_mask"], 0, side)  # [B, S]
    special = _as_matrix(encoded["special_tokens_mask"], 1, side)  # [B, S]
    types = encoded.get("token_type_ids")
    token_type_ids = _as_matrix(types, 0, side) if types is not None else None  # [B, S]
    offsets = _offsets(encoded["offset_mapping"], B, S, side) if "offset_mapping" in encoded else None
    truncated = _tokens_cut(tokenizer, sentences, pairs, attention_mask.sum(1), truncation, max_length)
    # One lookup for the whole batch (padding and fill cells included), cut into rows.
    flat = tokenizer.convert_ids_to_tokens(input_ids.ravel().tolist())
    tokens = tuple(tuple(flat[b * S : (b + 1) * S]) for b in range(B))
    scheme = scheme_of(tokenizer)
    return Encoding(
        sentences=sentences,
        pairs=pairs,
        tokens=tokens,
        shown=tuple(shown_tokens(scheme, row) for row in tokens),
        scheme=scheme,
        input_ids=readonly(input_ids),
        attention_mask=readonly(attention_mask),
        token_type_ids=readonly(token_type_ids) if token_type_ids is not None else None,
        special_tokens_mask=readonly(special),
        offsets=readonly(offsets) if offsets is not None else None,
        truncated=truncated,
        pad_token=tokenizer.pad_token,
        pad_token_id=tokenizer.pad_token_id,
        padding_side=side,
        max_length=max_length,
        padded=padded,
    )


def _checked(
    tokenizer: Any, sentences: Sequence[str], pairs: Sequence[str] | None, padding: Padding
) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
    """The batch as tuples, or InputError: no sentence, not one pair per sentence, or padding
    asked of a tokenizer without a pad token."""
    sentences = tuple(sentences)
    if not sentences:
        raise InputError("There is no sentence to tokenize.")
    if pairs is not None:
        pairs = tuple(pairs)
        if len(pairs) != len(sentences):
            raise InputError(
                f"Pairs need one second sentence per sentence: got {len(sentences)} and {len(pairs)}."
            )
    if padding != "do_not_pad" and tokenizer.pad_token is None:
        raise InputError("This tokenizer has no pad token; use the checkpoint's batch tokenizer.")
    return sentences, pairs


def _offsets(mapping: Any, B: int, S: int, side: str) -> np.ndarray:
    """[B, S, 2] character spans from the tokenizer's offset_mapping; rows shorter than S (no
    padding, or a row longer than max_length without truncation) are filled on ``side`` with (0, 0)."""
    if len({len(row) for row in mapping}) == 1:  # every row has S (start, end) pairs
        return np.array(mapping, dtype=np.int64).reshape(B, S, 2)  # [B, S, 2]
    offsets = np.zeros((B, S, 2), dtype=np.int64)  # [B, S, 2]
    for b, row in enumerate(np.asarray(r, dtype=np.int64).reshape(-1, 2) for r in mapping):
        if side == "left":
            offsets[b, S - len(row) :] = row
        else:
            offsets[b, : len(row)] = row
    return offsets


def _tokens_cut(
    tokenizer: Any,
    sentences: tuple[str, ...],
    pairs: tuple[str, ...] | None,
    kept: np.ndarray,
    truncation: bool,
    max_length: int | None,
) -> tuple[int, ...]:
    """[B] tokens truncation cut from each row, as ``len(untruncated ids) - kept``.

    Truncation (longest_first, for single sentences and pairs alike) only acts on a row longer
    than the limit and then leaves exactly ``limit`` tokens, so a row that kept fewer than the
    limit lost nothing. Only rows that kept at least the limit are tokenized again, untruncated,
    to count what was cut: the common case (every row shorter than the model's limit) costs no
    second tokenizer call."""
    B = len(sentences)
    if not truncation:
        return (0,) * B
    limit = max_length if max_length is not None else tokenizer.model_max_length
    full_rows = [b for b in range(B) if int(kept[b]) >= limit]
    if not full_rows:
        return (0,) * B
    full = tokenizer(
        [sentences[b] for b in full_rows],
        [pairs[b] for b in full_rows] if pairs else None,
        truncation=False,
        padding=False,
    )
    cut = [0] * B
    for b, ids in zip(full_rows, full["input_ids"], strict=True):
        cut[b] = max(0, len(ids) - int(kept[b]))
    return tuple(cut)


def _as_matrix(rows: Any, fill: int | None, side: str) -> np.ndarray:
    """Rows of (possibly) different lengths -> [B, S] int64; ragged rows are filled on ``side``
    (only happens with padding="do_not_pad", where ``fill`` cells are shown as absent)."""
    if len({len(row) for row in rows}) == 1:  # a padded batch: one NumPy call
        return np.array(rows, dtype=np.int64).reshape(len(rows), -1)
    rows = [list(row) for row in rows]
    width = max(len(row) for row in rows)
    matrix = np.full((len(rows), width), fill if fill is not None else 0, dtype=np.int64)  # [B, S]
    for b, row in enumerate(rows):
        if side == "left":
            matrix[b, width - len(row) :] = row
        else:
            matrix[b, : len(row)] = row
    return matrix

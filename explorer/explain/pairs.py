"""Sentence pairs: how the Classification page reads them, and BERT's next-sentence prediction
(NSP) head, loaded only from a checkpoint whose own weights carry it.

BERT was pre-trained on two tasks: masked words, and "is sentence B the sentence that followed A?"
(``BertForPreTraining``'s ``cls.seq_relationship`` layer, two logits: IsNext, NotNext). A checkpoint
saved without that layer (a bare ``BertModel`` such as MiniLM, or a fine-tuned classifier) would
get a randomly initialised one from ``BertForNextSentencePrediction.from_pretrained``, and its
"probabilities" would mean nothing: :func:`nsp_weights` reads the weight files' tensor names first
(the safetensors header, no tensor is loaded) and :func:`load_nsp_model` refuses without them.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from explorer.errors import CheckpointError, InputError
from explorer.pipeline.checkpoints import TRAINING_METADATA, ResolvedCheckpoint

NSP_PREFIX = "cls.seq_relationship."  # BertForPreTraining / BertForNextSentencePrediction's head
NSP_LABELS = ("IsNext", "NotNext")  # logit 0: B follows A; logit 1: B is a random sentence
SEPARATOR = "|||"  # between the two sentences of a pair, on one line
MAX_PAIRS = 8
MAX_HEADER_BYTES = 100_000_000  # a safetensors header larger than this is not read


@dataclass(frozen=True)
class NspWeights:
    """Whether a checkpoint's saved weights include the NSP head."""

    present: bool | None  # None: the weight files could not be read (e.g. not downloaded yet)
    tensors: tuple[str, ...]  # the cls.seq_relationship.* tensor names found
    files: tuple[str, ...]  # the weight files read
    reason: str  # one sentence for the page


def _local_weight_files(folder: Path) -> list[Path]:
    files = sorted(folder.glob("*.safetensors"))
    return files or sorted(folder.glob("pytorch_model*.bin"))


def _hub_weight_files(model_id: str) -> list[Path]:
    """The checkpoint's weight files in the local Hub cache (nothing is downloaded)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - transformers depends on it
        return []
    for name in ("model.safetensors", "pytorch_model.bin"):
        found = try_to_load_from_cache(model_id, name)
        if isinstance(found, str):
            return [Path(found)]
    index = try_to_load_from_cache(model_id, "model.safetensors.index.json")
    if isinstance(index, str):
        shards = sorted(set(json.loads(Path(index).read_text())["weight_map"].values()))
        paths = [try_to_load_from_cache(model_id, shard) for shard in shards]
        return [Path(p) for p in paths if isinstance(p, str)]
    return []


def tensor_names(path: Path) -> set[str]:
    """The tensor names stored in one weight file: a safetensors file's JSON header (8 bytes of
    length, then the header; no tensor is read), or a PyTorch .bin's keys (memory-mapped)."""
    if path.suffix == ".safetensors":
        with path.open("rb") as handle:
            (size,) = struct.unpack("<Q", handle.read(8))
            if size > MAX_HEADER_BYTES:
                raise ValueError(f"{path.name}: a {size:,}-byte header is not a safetensors header")
            header = json.loads(handle.read(size))
        return {name for name in header if name != "__metadata__"}
    import torch

    return set(torch.load(path, map_location="cpu", weights_only=True, mmap=True))


def nsp_weights(resolved: ResolvedCheckpoint, config: Any) -> NspWeights:
    """Read the checkpoint's weight files and say whether they hold ``cls.seq_relationship.*``."""
    model_type = getattr(config, "model_type", "")
    if model_type != "bert":
        return NspWeights(
            False,
            (),
            (),
            f"Next-sentence prediction is BERT's pre-training head; {resolved.label} is a "
            f"`{model_type or 'non-BERT'}` checkpoint, so there is no NSP head to load.",
        )
    if resolved.source == "hub":
        files = _hub_weight_files(resolved.location)
        if not files:
            return NspWeights(
                None,
                (),
                (),
                f"The weight files of {resolved.location} are not in this machine's Hub cache, so whether "
                "they carry the NSP head cannot be read.",
            )
    else:
        files = _local_weight_files(Path(resolved.location))
    names: set[str] = set()
    try:
        for path in files:
            names |= tensor_names(path)
    except (OSError, ValueError, RuntimeError) as error:
        return NspWeights(
            None, (), tuple(p.name for p in files), f"The weight files could not be read: {error}"
        )
    found = tuple(sorted(n for n in names if n.startswith(NSP_PREFIX)))
    shown = ", ".join(p.name for p in files) or "no weight file"
    if not found:
        return NspWeights(
            False,
            (),
            tuple(p.name for p in files),
            f"{resolved.label} was saved without BERT's next-sentence head: its weights ({shown}, "
            f"{len(names):,} tensors) hold no `{NSP_PREFIX}*` tensor. Loading "
            "`BertForNextSentencePrediction` from it would start that head from random numbers, so no "
            "prediction is shown.",
        )
    return NspWeights(
        True,
        found,
        tuple(p.name for p in files),
        f"{resolved.label}'s weights ({shown}) carry the next-sentence head: {', '.join(found)}.",
    )


def load_nsp_model(resolved: ResolvedCheckpoint, config: Any) -> Any | None:
    """``BertForNextSentencePrediction`` from the checkpoint (eval, float32, eager attention), or
    None when its weights lack the NSP head (a random head is never returned)."""
    if nsp_weights(resolved, config).present is not True:
        return None
    import torch
    from transformers import BertForNextSentencePrediction

    try:
        # output_loading_info=True returns (model, loading info); its annotation names only the model
        with_info: Any = BertForNextSentencePrediction.from_pretrained(
            resolved.location,
            attn_implementation="eager",
            dtype=torch.float32,
            output_loading_info=True,
            local_files_only=True,  # a Hub checkpoint's weights were found in the local cache above
        )
    except Exception as error:  # transformers raises OSError, ValueError, KeyError, …
        raise CheckpointError(
            f"BertForNextSentencePrediction could not be loaded from {resolved.label}: {error}"
        ) from error
    model, info = with_info
    if any(name.startswith(NSP_PREFIX) for name in info.get("missing_keys", ())):
        return None  # the file named the tensors but they did not load: still no random head
    return model.eval()


def split_pairs(text: str, max_pairs: int = MAX_PAIRS) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """One pair per line, ``first ||| second`` (a tab also separates): (firsts, seconds). Raises
    InputError naming the line to fix."""
    firsts, seconds = [], []
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise InputError(f"Type a sentence pair: the first sentence, then {SEPARATOR}, then the second.")
    for number, line in enumerate(lines[:max_pairs], start=1):
        parts = line.split(SEPARATOR) if SEPARATOR in line else line.split("\t")
        parts = [p.strip() for p in parts]
        if len(parts) != 2 or not all(parts):
            raise InputError(
                f"Line {number} is not a pair: write the first sentence, then {SEPARATOR}, then the second "
                f"(found {max(len(parts) - 1, 0)} separator(s))."
            )
        firsts.append(parts[0])
        seconds.append(parts[1])
    return tuple(firsts), tuple(seconds)


def is_pair_classifier(resolved: ResolvedCheckpoint) -> bool:
    """Whether the checkpoint was fine-tuned here on sentence pairs (its training metadata says so)."""
    path = Path(resolved.location) / TRAINING_METADATA
    if resolved.source == "hub" or not path.is_file():
        return False
    try:
        return bool(json.loads(path.read_text()).get("pairs"))
    except (OSError, ValueError, AttributeError):
        return False

"""Save and load, as the course shows it: save_pretrained writes a folder, from_pretrained reads it
back, and the reloaded model gives exactly the same outputs."""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from explorer.pipeline import tasks
from explorer.pipeline.checkpoints import TRAINING_METADATA
from explorer.pipeline.encoding import Encoding
from explorer.pipeline.loading import LoadedCheckpoint
from explorer.pipeline.run import main_output, model_inputs, task_forward


@dataclass(frozen=True)
class SavedFile:
    name: str
    bytes: int
    what: str  # what the file holds


def _json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _token_text(value: object) -> str | None:
    """A special token as written in a tokenizer file: a string, or {"content": ...}."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return value["content"]
    return None


_SPECIAL_NAMES = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")


def _special_tokens(data: dict) -> str:
    """'pad_token <pad>, eos_token </s>' for the special tokens a tokenizer file names."""
    found = [f"{name} {_token_text(data[name])}" for name in _SPECIAL_NAMES if _token_text(data.get(name))]
    extra = data.get("additional_special_tokens") or data.get("extra_special_tokens") or []
    if isinstance(extra, dict):
        extra = list(extra.values())
    if isinstance(extra, list):
        texts = [t for t in (_token_text(x) for x in extra) if t]
        if texts:
            found.append("extra " + " ".join(texts[:5]) + (" …" if len(texts) > 5 else ""))
    return ", ".join(found) if found else "none"


def _lines(path: Path) -> int:
    """Lines of a text file, not counting a '#version' header (merges.txt) or empty lines."""
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip() and not line.startswith(b"#version"))


def _safetensors_header(path: Path) -> dict:
    """The JSON header of a safetensors file (8-byte little-endian length, then JSON)."""
    try:
        with path.open("rb") as handle:
            size = int.from_bytes(handle.read(8), "little")
            if not 0 < size < 100_000_000:
                return {}
            header = json.loads(handle.read(size))
    except (OSError, ValueError):
        return {}
    header.pop("__metadata__", None)
    return header if isinstance(header, dict) else {}


def _describe_config(path: Path) -> str:
    data = _json(path)
    architecture = (data.get("architectures") or ["?"])[0]
    return (
        f"the architecture and sizes (AutoConfig reads this): {architecture}, "
        f"model_type {data.get('model_type', '?')}"
    )


def _describe_generation_config(path: Path) -> str:
    keys = ", ".join(k for k in _json(path) if k != "transformers_version" and not k.startswith("_"))
    return f"default settings for generate(): {keys or 'nothing beyond the defaults'}"


def _describe_safetensors(path: Path) -> str:
    header = _safetensors_header(path)
    dtypes = sorted({str(v.get("dtype")) for v in header.values() if isinstance(v, dict)})
    return (
        f"the weights, as safetensors: {len(header):,} tensors ({', '.join(dtypes) or '?'}); "
        "no code can hide in it"
    )


def _describe_index(path: Path) -> str:
    shards = sorted(set((_json(path).get("weight_map") or {}).values()))
    return f"which of the {len(shards)} weight files holds each tensor"


def _describe_tokenizer(path: Path) -> str:
    data = _json(path)
    model = data.get("model") or {}
    vocab = model.get("vocab")
    added = [t for t in data.get("added_tokens") or [] if isinstance(t, dict) and t.get("special")]
    specials = " ".join(str(t.get("content")) for t in added[:8]) + (" …" if len(added) > 8 else "")
    steps = [
        step
        for key, step in (
            ("normalizer", "normalisation"),
            ("pre_tokenizer", "pre-tokenisation"),
            ("post_processor", "post-processing"),
            ("decoder", "decoding"),
        )
        if data.get(key)
    ]
    return (
        f"the whole tokenizer: a {model.get('type', '?')} model"
        + (f" with {len(vocab):,} tokens" if isinstance(vocab, dict | list) else "")
        + "".join(f", {step}" for step in steps)
        + (f"; special tokens {specials}" if specials else "; no special tokens")
    )


def _describe_tokenizer_config(path: Path) -> str:
    data = _json(path)
    limit = data.get("model_max_length")
    return (
        f"tokenizer settings: class {data.get('tokenizer_class', '?')}; special tokens: "
        f"{_special_tokens(data)}"
        + (f"; max length {limit:,}" if isinstance(limit, int) and limit < 1_000_000_000 else "")
    )


# The files known by their exact name: what each holds, read from the file.
_DESCRIBE_BY_NAME: dict[str, Callable[[Path], str]] = {
    "config.json": _describe_config,
    "generation_config.json": _describe_generation_config,
    "tokenizer.json": _describe_tokenizer,
    "tokenizer_config.json": _describe_tokenizer_config,
    "special_tokens_map.json": lambda path: (
        f"this tokenizer's special tokens: {_special_tokens(_json(path))}"
    ),
    "added_tokens.json": lambda path: f"{len(_json(path))} token(s) added to the vocabulary after training",
    "vocab.txt": lambda path: f"the WordPiece vocabulary, one token per line ({_lines(path):,} tokens)",
    "vocab.json": lambda path: (
        f"the BPE vocabulary: {len(_json(path)):,} tokens and their ids (used with merges.txt)"
    ),
    "merges.txt": lambda path: (
        f"the BPE merge rules, in the order they were learned ({_lines(path):,} merges)"
    ),
    "chat_template.jinja": lambda path: "the chat template of an instruct model",
}


def describe_file(path: Path) -> str:
    """What one file of a checkpoint folder holds, read from the file itself ("" when unknown)."""
    name = path.name
    if name in _DESCRIBE_BY_NAME:
        return _DESCRIBE_BY_NAME[name](path)
    if name.endswith(".safetensors"):
        return _describe_safetensors(path)
    if name.endswith(".safetensors.index.json") or name.endswith(".bin.index.json"):
        return _describe_index(path)
    if name == "pytorch_model.bin" or (name.startswith("pytorch_model-") and name.endswith(".bin")):
        return "the weights, as a pickled PyTorch file (the older format; loading a pickle can run code)"
    if name.endswith(".model") and ("spiece" in name or "sentencepiece" in name or name == "tokenizer.model"):
        return "the SentencePiece model: its vocabulary and how it splits text"
    return ""


def saved_files(folder: Path) -> tuple[SavedFile, ...]:
    """The files save_pretrained wrote, with their sizes and what each holds (read from it)."""
    return tuple(
        SavedFile(path.name, path.stat().st_size, describe_file(path))
        for path in sorted(folder.iterdir())
        if path.is_file() and not path.name.startswith(".")
    )


def weight_files(folder: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(safetensors files, pickled PyTorch files) holding a folder's weights, by name."""
    names = sorted(p.name for p in Path(folder).iterdir() if p.is_file() and not p.name.startswith("."))
    safetensors = tuple(n for n in names if n.endswith(".safetensors"))
    pickled = tuple(n for n in names if n.endswith(".bin") and n.startswith("pytorch_model"))
    return safetensors, pickled


def save_checkpoint(loaded: LoadedCheckpoint, folder: Path) -> tuple[SavedFile, ...]:
    """save_pretrained for the model and its tokenizer (reading the shared objects only),
    written beside ``folder`` and moved into place when complete."""
    save_atomically(loaded.model, loaded.tokenizer, folder)
    return saved_files(folder)


def config_json(folder: Path) -> dict:
    """What AutoConfig.from_pretrained(folder) holds, as a dict."""
    from transformers import AutoConfig

    return json.loads(AutoConfig.from_pretrained(folder, trust_remote_code=False).to_json_string())


@dataclass(frozen=True)
class RoundTrip:
    output: str  # which output was compared, e.g. "logits"
    shape: tuple[int, ...]
    max_abs_difference: float  # 0.0 when the reloaded model is identical


def reload_and_compare(loaded: LoadedCheckpoint, folder: Path, encoding: Encoding) -> RoundTrip:
    """from_pretrained the saved folder with the same head class and compare its output on the
    same batch with the shared model's."""
    import torch
    import transformers

    reloaded = (
        getattr(transformers, loaded.head_class)
        .from_pretrained(folder, attn_implementation="eager", dtype=torch.float32, trust_remote_code=False)
        .eval()
    )
    name, original = head_output(loaded, loaded.model, encoding)
    _, again = head_output(loaded, reloaded, encoding)
    shape = original.shape[1:] if name == QA_OUTPUTS else original.shape  # QA: each output's [B, S]
    return RoundTrip(name, tuple(shape), float(np.abs(original - again).max()))


QA_OUTPUTS = "start_logits and end_logits"


def head_output(loaded: LoadedCheckpoint, model: Any, encoding: Encoding) -> tuple[str, np.ndarray]:
    """(name, array) of ``model``'s head output on the batch (``model`` has ``loaded``'s head):
    ``run.main_output``, but a question-answering head's two outputs ([2, B, S]: start, end) and a
    multiple-choice head's logits with each sentence as its one choice ([B, 1])."""
    if loaded.head_class not in (tasks.QUESTION_ANSWERING, tasks.MULTIPLE_CHOICE):
        return main_output(model, encoding)
    twin = dataclasses.replace(loaded, model=model)
    _, inputs = model_inputs(model, encoding)  # each [B, S]
    arrays = {name: np.array(value) for name, value in inputs.items()}  # writable copies
    if loaded.head_class == tasks.QUESTION_ANSWERING:
        out = task_forward(twin, arrays, ("start_logits", "end_logits"))  # each [B, S]
        return QA_OUTPUTS, np.stack([out["start_logits"], out["end_logits"]])  # [2, B, S]
    choices = {name: value[:, None] for name, value in arrays.items()}  # each [B, 1, S]
    return "logits", task_forward(twin, choices, ("logits",))["logits"]  # [B, 1]


# The temporary folders save_pretrained writes into beside the checkpoints: ".<name>-<8 random
# characters>" (tempfile.mkdtemp) and ".<name>-old-<nanoseconds>" (the checkpoint being replaced).
_TEMPORARY = re.compile(r"^\.[a-z0-9][a-z0-9_-]*-(old-\d+|[a-z0-9_]{8})$")
STALE_AFTER = 600.0  # seconds: a save takes seconds, so a temporary folder this old was left by a killed one


def remove_stale_temporaries(parent: Path, older_than: float = STALE_AFTER) -> list[str]:
    """Remove the temporary folders a killed save left in ``parent`` (older than ``older_than``
    seconds, so a save running right now in another process keeps its own); returns their names."""
    if not parent.is_dir():
        return []
    now = time.time()
    removed = []
    for path in parent.iterdir():
        if _TEMPORARY.match(path.name) and path.is_dir() and now - path.stat().st_mtime > older_than:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    return sorted(removed)


def _write_temporary(model: Any, tokenizer: Any, output: Path, metadata: dict | None) -> Path:
    """save_pretrained into a fresh temporary folder beside ``output``; returns that folder."""
    output.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(output.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output.name}-", dir=output.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if metadata is not None:
            (tmp / TRAINING_METADATA).write_text(json.dumps(metadata, indent=2))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp


def save_atomically(model: Any, tokenizer: Any, output: Path, metadata: dict | None = None) -> None:
    """save_pretrained into a temporary folder beside ``output``, then swap it into place
    (replacing what was there)."""
    tmp = _write_temporary(model, tokenizer, output, metadata)
    try:
        old = None
        if output.exists():
            old = output.parent / f".{output.name}-old-{time.time_ns()}"
            output.rename(old)
        tmp.rename(output)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


MAX_NAME = 40  # characters of a saved checkpoint's name (checkpoints.SAVED_NAME)


def free_names(output: Path) -> Iterator[Path]:
    """``output``, then ``<name>-2``, ``<name>-3``, … (the name shortened to stay within MAX_NAME)."""
    yield output
    for number in itertools.count(2):
        suffix = f"-{number}"
        yield output.parent / f"{output.name[: MAX_NAME - len(suffix)]}{suffix}"


def save_new(model: Any, tokenizer: Any, output: Path, metadata: dict | None = None) -> Path:
    """Like :func:`save_atomically`, but never replaces a checkpoint: when ``output`` is taken
    (say, another fine-tune saved under the same name first), the first free ``<name>-2``,
    ``<name>-3``, … is used. Claiming a name is one rename, which fails when the folder is there
    already, so two saves at the same moment (threads or processes) cannot both get one name.
    Returns the folder the checkpoint is in."""
    tmp = _write_temporary(model, tokenizer, output, metadata)
    try:
        for candidate in free_names(output):
            if candidate.exists():
                continue
            try:
                tmp.rename(candidate)  # atomic; fails if another save created `candidate` meanwhile
            except OSError:
                if candidate.exists():
                    continue
                raise
            return candidate
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    raise AssertionError("unreachable: free_names never ends")

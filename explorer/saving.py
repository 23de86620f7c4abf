"""Save and load, as the course shows it: save_pretrained writes a folder, from_pretrained reads it
back, and the reloaded model gives exactly the same outputs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from explorer.encoding import Encoding
from explorer.loading import LoadedCheckpoint
from explorer.run import main_output


@dataclass(frozen=True)
class SavedFile:
    name: str
    bytes: int
    what: str  # what the file holds


_WHAT = {
    "config.json": "the architecture and sizes (AutoConfig reads this)",
    "model.safetensors": "the weights, as safetensors (no code can hide in it)",
    "generation_config.json": "default settings for generate()",
    "tokenizer.json": "the whole tokenizer: vocabulary, merges, normalisation, special tokens",
    "tokenizer_config.json": "tokenizer settings: class, special tokens, max length",
    "special_tokens_map.json": "which tokens are [CLS], [SEP], [PAD], …",
    "vocab.txt": "the WordPiece vocabulary, one token per line",
    "chat_template.jinja": "the chat template of an instruct model",
}


def saved_files(folder: Path) -> tuple[SavedFile, ...]:
    """The files save_pretrained wrote, with their sizes and what each holds."""
    return tuple(
        SavedFile(path.name, path.stat().st_size, _WHAT.get(path.name, ""))
        for path in sorted(folder.iterdir())
        if path.is_file() and not path.name.startswith(".")
    )


def save_checkpoint(loaded: LoadedCheckpoint, folder: Path) -> tuple[SavedFile, ...]:
    """save_pretrained for the model and its tokenizer (reading the shared objects only),
    written beside ``folder`` and moved into place when complete."""
    from explorer.finetune import save_atomically

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
    name, original = main_output(loaded.model, encoding)
    _, again = main_output(reloaded, encoding)
    return RoundTrip(name, tuple(original.shape), float(np.abs(original - again).max()))

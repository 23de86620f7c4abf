"""Load a resolved checkpoint once: tokenizer + model with the head its config names, in eval
mode, with eager attention (transformers 5 defaults to sdpa, which returns no attention weights),
float32, and never ``trust_remote_code``.

The returned objects are shared by every session of the app: nothing here or downstream may mutate
them. A tokenizer without a pad token gets a private *copy* with a pad token for batching.
"""

from __future__ import annotations

import copy
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from explorer.deployment import cloud_mode, max_hub_bytes
from explorer.errors import CheckpointError
from explorer.pipeline import tasks
from explorer.pipeline.checkpoints import ResolvedCheckpoint, has_tokenizer_files, no_tokenizer_message

# Longest sentence (in tokens) the app runs through any model: attention grows as tokens², and a
# decoder's 8,192 positions would need tens of GB of attention weights.
MAX_TOKENS = 512

BASE_HEAD = tasks.BASE
HEAD_DESCRIPTIONS = tasks.HEAD_DESCRIPTIONS
head_class_for = tasks.head_class_for


@dataclass(frozen=True, kw_only=True)
class LoadedCheckpoint:
    """A tokenizer and model ready to run. Shared across sessions: never mutate."""

    resolved: ResolvedCheckpoint
    config: Any  # transformers.PretrainedConfig
    tokenizer: Any  # as shipped with the checkpoint
    batch_tokenizer: Any  # `tokenizer`, or a private copy that has a pad token for batching
    pad_note: str | None  # says which pad token the app chose, when the checkpoint has none
    model: Any  # transformers.PreTrainedModel, eval(), eager attention
    head_class: str  # the Auto class used, e.g. tasks.CAUSAL_LM
    max_tokens: int  # longest sentence (tokens, specials included) the app runs
    causal: bool = False  # its attention modules are causal (read once at load: has_causal_attention)

    @property
    def model_class(self) -> str:
        return type(self.model).__name__

    @property
    def task(self) -> tasks.Task:
        """The task this checkpoint's head does (explorer.pipeline.tasks chooses it, from the head)."""
        return tasks.task_for(self.head_class, self.config)

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    @property
    def is_decoder(self) -> bool:
        """A decoder-only model (causal self-attention on the text). An encoder-decoder is not:
        its encoder, the part that reads the text, attends both ways (see is_encoder_decoder)."""
        if self.is_encoder_decoder:
            return False
        return (
            self.head_class == tasks.CAUSAL_LM
            or bool(getattr(self.config, "is_decoder", False))
            or self.causal
        )

    @property
    def is_encoder_decoder(self) -> bool:
        """T5, BART…: an encoder reads the text, a separate decoder writes the output."""
        return bool(getattr(self.config, "is_encoder_decoder", False))


def has_causal_attention(model: Any) -> bool:
    """Whether any attention module of ``model`` is causal (each token sees only the tokens before
    it): a decoder body under any head (LlamaForSequenceClassification) or none (GPT2Model)."""
    return any(getattr(module, "is_causal", None) is True for module in model.modules())


def encoder_decoder_note(loaded: LoadedCheckpoint, view: str) -> str:
    """One sentence for a view that shows only the encoder of an encoder-decoder, or does not
    apply to one: ``view`` says what the view does with it (e.g. "This view shows the encoder")."""
    kind = getattr(loaded.config, "model_type", "encoder-decoder")
    return (
        f"{loaded.resolved.label} is an encoder-decoder ({kind}): an encoder reads the text and a "
        f"separate decoder writes the output, attending to the encoder. {view}"
    )


# --- Hub reachability ---------------------------------------------------------------------------

_REACHABILITY_TTL_S = 30.0
_reachability: dict[str, tuple[float, bool]] = {}


def hub_reachable(timeout_s: float = 3.0) -> bool:
    """Whether the Hub's host answers a TCP connection (cached for 30 s). Without this check an
    unreachable Hub costs ~45 s of retries before transformers gives up."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    url = urlparse(constants.ENDPOINT)
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)
    cached = _reachability.get(host)
    if cached and time.monotonic() - cached[0] < _REACHABILITY_TTL_S:
        return cached[1]
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
        reachable = True
    except OSError:
        reachable = False
    _reachability[host] = (time.monotonic(), reachable)
    return reachable


def _offline_message(model_id: str) -> str:
    return (
        f"Checkpoint '{model_id}' needs the Hugging Face Hub, which this machine cannot reach, and "
        "it is not in the local Hugging Face cache. Pick a bundled model or a local folder."
    )


def _hub_kwargs(resolved: ResolvedCheckpoint) -> dict[str, Any]:
    """Use the local Hub cache when it has the checkpoint; fail fast and clearly when offline."""
    if resolved.source != "hub":
        return {}
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(resolved.location, local_files_only=True, trust_remote_code=False)
        cached = True
    except Exception:
        cached = False
    if cached and (os.environ.get("HF_HUB_OFFLINE") or not hub_reachable()):
        return {"local_files_only": True}
    if not cached and not hub_reachable():
        raise CheckpointError(_offline_message(resolved.location))
    if cloud_mode():
        check_hub_size(resolved.location)
    return {}


def hub_weight_bytes(model_id: str) -> int:
    """Bytes of the weight files a Hub checkpoint would download (safetensors, else .bin)."""
    from huggingface_hub import HfApi

    files = HfApi().model_info(model_id, files_metadata=True).siblings or []
    sizes = {f.rfilename: (f.size or 0) for f in files}
    safetensors = [n for n in sizes if n.endswith(".safetensors")]
    chosen = safetensors or [n for n in sizes if n.endswith((".bin", ".pt", ".pth", ".h5", ".msgpack"))]
    return sum(sizes[n] for n in chosen)


def check_hub_size(model_id: str) -> None:
    """Cloud mode: refuse, before any download, a checkpoint too big for the deployment's memory."""
    limit = max_hub_bytes()
    try:
        size = hub_weight_bytes(model_id)
    except Exception as error:  # not found, gated, network: say so in the user's words
        raise _explain(
            error, ResolvedCheckpoint(ref=f"hub:{model_id}", label=model_id, source="hub", location=model_id)
        ) from error
    if size > limit:
        raise CheckpointError(
            f"'{model_id}' has {size / 1e6:,.0f} MB of weights; this shared deployment loads at most "
            f"{limit / 1e6:,.0f} MB so that it fits its memory. Pick a smaller checkpoint (distilbert, "
            "MiniLM, gpt2 are fine), or run the app on your own machine."
        )


# What safetensors and torch say about a weights file cut short or corrupted.
_DAMAGED_WEIGHTS = (
    "error while deserializing header",
    "incomplete metadata",
    "failed finding central directory",
    "pytorchstreamreader failed",
    "unexpected eof",
    "ran out of input",
)


def _starts_with(path: Path, magic: bytes) -> bool:
    with open(path, "rb") as file:
        return file.read(len(magic)) == magic


def _damaged_weights_file(folder: Path) -> str | None:
    """The first weights file in ``folder`` that cannot be read to the end (a safetensors header
    that does not cover the file, a torch zip without its directory), by name; None if all read."""
    import zipfile

    from safetensors import safe_open

    try:
        files = sorted(path for path in folder.iterdir() if path.is_file())
    except OSError:
        return None
    for path in files:
        try:
            if path.suffix == ".safetensors":
                with safe_open(str(path), framework="pt"):
                    pass
            elif path.suffix == ".bin" and _starts_with(path, b"PK"):
                zipfile.ZipFile(path).close()  # torch.save writes a zip; its directory is at the end
        except Exception:  # safetensors raises its own SafetensorError, zipfile BadZipFile
            return path.name
    return None


def _damaged_message(name: str, file: str | None) -> CheckpointError:
    where = f"The weights file {file} of '{name}'" if file else f"A weights file of '{name}'"
    return CheckpointError(
        f"{where} is incomplete or damaged: it could not be read to the end (often a copy or download "
        "that stopped early). Copy or download it again, and check that its size matches the original's."
    )


def _explain(error: Exception, resolved: ResolvedCheckpoint) -> CheckpointError:
    """Turn a loading exception into one sentence the user can act on."""
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    name = resolved.location if resolved.source == "hub" else resolved.label
    text = str(error)
    if resolved.source != "hub" and (damaged := _damaged_weights_file(Path(resolved.location))):
        return _damaged_message(name, damaged)
    if any(sign in text.lower() for sign in _DAMAGED_WEIGHTS):
        return _damaged_message(name, None)
    if isinstance(error, GatedRepoError):
        return CheckpointError(
            f"'{name}' is a gated model: accept its terms on the Hub and log in "
            "(`hf auth login`) before loading it."
        )
    if isinstance(error, RepositoryNotFoundError):
        return CheckpointError(
            f"There is no model '{name}' on the Hugging Face Hub (or it is private). "
            "Check the spelling, e.g. google-bert/bert-base-cased."
        )
    if "trust_remote_code" in text:
        return CheckpointError(
            f"'{name}' needs its own Python code from the Hub (trust_remote_code). This app never "
            "runs downloaded code; pick a checkpoint that transformers supports natively."
        )
    if "couldn't connect" in text.lower() or "offline" in text.lower():
        return CheckpointError(_offline_message(name))
    first_line = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    return CheckpointError(f"Could not load '{name}': {first_line[:300]}")


def _max_tokens(tokenizer: Any, config: Any) -> int:
    limits = [MAX_TOKENS]
    model_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(model_max, int) and 0 < model_max < 1_000_000:
        limits.append(model_max)
    positions = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
    if isinstance(positions, int) and positions > 0:
        limits.append(positions)
    return min(limits)


def _batch_tokenizer(tokenizer: Any) -> tuple[Any, str | None]:
    """A tokenizer that can pad: the shared one, or a private copy with a pad token."""
    if tokenizer.pad_token is not None:
        return tokenizer, None
    stand_in = tokenizer.eos_token or tokenizer.unk_token
    if stand_in is None:
        stand_in = tokenizer.convert_ids_to_tokens(0)
        why = "token id 0"
    else:
        why = "the end-of-sequence token" if stand_in == tokenizer.eos_token else "the unknown token"
    padded = copy.deepcopy(tokenizer)
    padded.pad_token = stand_in
    note = (
        f"This tokenizer has no pad token, so batches are padded with {why} {stand_in!r} "
        f"(id {padded.pad_token_id}); the attention mask (0) keeps every token's attention off it."
    )
    return padded, note


def _has_no_vocabulary(resolved: ResolvedCheckpoint) -> bool:
    """A checkpoint folder without tokenizer files (tokenizer.json, vocab.txt, a .model…)."""
    return resolved.source != "hub" and not has_tokenizer_files(Path(resolved.location))


def _auto_tokenizer(resolved: ResolvedCheckpoint, kwargs: dict[str, Any]) -> Any:
    """The checkpoint's tokenizer, or CheckpointError. transformers loads a folder without tokenizer
    files as a tokenizer of special tokens only (every word [UNK]), or fails with a technical error
    (when tokenizer_config.json is there): both are refused, naming the missing files."""
    import transformers

    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(
            resolved.location, trust_remote_code=False, **kwargs
        )
    except Exception as error:
        if _has_no_vocabulary(resolved):
            raise CheckpointError(no_tokenizer_message(resolved.label)) from error
        raise _explain(error, resolved) from error
    if _has_no_vocabulary(resolved) or len(tokenizer) <= len(set(tokenizer.all_special_tokens)):
        raise CheckpointError(no_tokenizer_message(resolved.label))
    return tokenizer


def load_tokenizer(resolved: ResolvedCheckpoint) -> Any:
    """Only the tokenizer of a checkpoint (shared: never mutate)."""
    if resolved.needs_preparation:
        raise CheckpointError(f"{resolved.label} must be prepared first (explorer.pipeline.bundled).")
    return _auto_tokenizer(resolved, _hub_kwargs(resolved))


def load_checkpoint(resolved: ResolvedCheckpoint) -> LoadedCheckpoint:
    """Load tokenizer and model for a resolved checkpoint; raise CheckpointError on failure."""
    if resolved.needs_preparation:
        raise CheckpointError(f"{resolved.label} must be prepared first (explorer.pipeline.bundled).")
    import torch
    import transformers

    kwargs = _hub_kwargs(resolved)
    try:
        config = transformers.AutoConfig.from_pretrained(resolved.location, trust_remote_code=False, **kwargs)
        head_class = head_class_for(getattr(config, "architectures", None))
        if head_class == tasks.SEQ2SEQ_LM and not getattr(config, "is_encoder_decoder", False):
            head_class = BASE_HEAD  # e.g. LlavaForConditionalGeneration: not a text encoder-decoder
        elif head_class == BASE_HEAD and getattr(config, "is_encoder_decoder", False):
            # T5Model, BartModel…: without a head the decoder's output means nothing to postprocess;
            # their LM head is tied to the shared embeddings, so the seq2seq class adds no new weights.
            head_class = tasks.SEQ2SEQ_LM
        tokenizer = _auto_tokenizer(resolved, kwargs)
        model = getattr(transformers, head_class).from_pretrained(
            resolved.location,
            config=config,
            attn_implementation="eager",
            dtype=torch.float32,
            trust_remote_code=False,
            **kwargs,
        )
    except CheckpointError:
        raise
    except Exception as error:  # transformers raises OSError, ValueError, KeyError, …
        raise _explain(error, resolved) from error
    model.eval()
    batch_tokenizer, pad_note = _batch_tokenizer(tokenizer)
    return LoadedCheckpoint(
        resolved=resolved,
        config=config,
        tokenizer=tokenizer,
        batch_tokenizer=batch_tokenizer,
        pad_note=pad_note,
        model=model,
        head_class=head_class,
        max_tokens=_max_tokens(tokenizer, config),
        causal=not getattr(config, "is_encoder_decoder", False) and has_causal_attention(model),
    )

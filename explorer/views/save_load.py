"""Save and load: save_pretrained, the files it writes, and from_pretrained giving the same outputs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from explorer.errors import CheckpointError
from explorer.pipeline import checkpoints, saving
from explorer.pipeline.encoding import Encoding
from explorer.pipeline.loading import LoadedCheckpoint
from explorer.views.common import Note, Table, table
from explorer.views.settings import setting


@dataclass(frozen=True)
class Settings:
    PREFIX: ClassVar[str] = "save"

    # None: a name made from the checkpoint's label (see build()).
    name: str | None = setting(
        "str",
        "Save as (in this app's checkpoint folder)",
        None,
        widget="text_input",
        per_checkpoint=True,
        linked=False,
    )


@dataclass(frozen=True, kw_only=True)
class Saved:
    """What the page shows once a folder was written."""

    folder: Path
    heading: str
    files: tuple[saving.SavedFile, ...]
    table: Table  # one row per file: name, size, what it holds (read from the file)
    total_bytes: int
    total: Note
    round_trip: saving.RoundTrip | None  # None when reloading failed (see verdict)
    identical: bool  # the largest difference is exactly 0.0
    verdict: Note
    config: dict[str, Any]  # what AutoConfig.from_pretrained(folder) holds
    weights: Note | None = None  # which weight format the folder holds, and why not pytorch_model.bin


@dataclass(frozen=True, kw_only=True)
class View:
    loaded: Note  # which checkpoint is loaded, with which classes
    default_name: str  # a valid name for save_pretrained's folder, made from the label
    name: str  # the name the settings give, or the default
    saved: Saved | None  # None before anything was saved (or when the folder is gone)
    gone: Note | None = None  # the saved folder no longer exists
    weights: Note | None = None  # the loaded checkpoint's own folder's weight format (None: not a folder)


def default_name(label: str) -> str:
    """'copy-of-<label>' with only lower-case letters, digits and '-' (checkpoints.SAVED_NAME)."""
    stem = re.sub(r"[^a-z0-9]+", "-", label.split(" (")[0].lower())[:30].strip("-")
    return f"copy-of-{stem}" if stem else "copy"


def target(name: str) -> Path:
    """The folder a checkpoint saved as ``name`` goes to (CheckpointError for a bad name)."""
    return checkpoints.saved_checkpoints_dir() / checkpoints.saved_name(name)


def save(loaded: LoadedCheckpoint, folder: Path) -> tuple[saving.SavedFile, ...]:
    """save_pretrained the model and tokenizer into ``folder``; a failure is a CheckpointError."""
    try:
        return saving.save_checkpoint(loaded, Path(folder))
    except CheckpointError:
        raise
    except Exception as error:  # disk full, read-only folder, a model that refuses to be saved
        first = str(error).strip().splitlines()[0][:300] if str(error).strip() else type(error).__name__
        raise CheckpointError(f"save_pretrained could not write {Path(folder).name}: {first}") from error


def _size(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n > 1e5 else f"{n / 1e3:.1f} KB"


def _verdict(
    loaded: LoadedCheckpoint, folder: Path, encoding: Encoding, trip: saving.RoundTrip
) -> tuple[bool, Note]:
    identical = trip.max_abs_difference == 0.0
    text = (
        f'`{loaded.head_class}.from_pretrained("{folder.name}")` on your '
        f"{len(encoding.sentences)} sentence(s): {trip.output} {[int(n) for n in trip.shape]}, "
        f"largest difference from the original **{trip.max_abs_difference:.1e}**"
    )
    if identical:
        return True, Note("success", text + " — identical.")
    return False, Note("warning", text + ": the reloaded model gives different numbers.")


def _names(names: tuple[str, ...]) -> str:
    shown = ", ".join(f"`{n}`" for n in names[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def weights_note(folder: Path, which: str = "This folder") -> Note | None:
    """Why ``folder`` holds model.safetensors where the course's older pages show
    pytorch_model.bin, from the files really there (None when it holds neither)."""
    safetensors, pickled = saving.weight_files(folder)
    safe = (
        "safetensors: a header of tensor names, shapes and dtypes, then the raw numbers, so loading it "
        "cannot run code and the file can be memory-mapped (read from disk as it is needed)"
    )
    pickle = (
        "a pickled PyTorch state dict: a pickle can carry code that runs when it is loaded (recent "
        "PyTorch loads weights with a restricted unpickler, `weights_only=True`, to stop that)"
    )
    if safetensors and pickled:
        return Note(
            "markdown",
            f"{which} holds both {_names(safetensors)} and {_names(pickled)}; from_pretrained reads the "
            f"safetensors, {safe}. The pickled file is the format of the course's older pages: {pickle}.",
        )
    if safetensors:
        return Note(
            "markdown",
            f"{which} holds {_names(safetensors)} where the course's older pages show `pytorch_model.bin`: "
            f"transformers 5's save_pretrained writes {safe}; `pytorch_model.bin` was {pickle}.",
        )
    if pickled:
        return Note(
            "markdown",
            f"{which} holds {_names(pickled)}, the format the course's older pages show: {pickle}. "
            f"transformers 5's save_pretrained writes `model.safetensors` instead: {safe}.",
        )
    return None


def _saved(loaded: LoadedCheckpoint, encoding: Encoding, folder: Path) -> Saved:
    files = saving.saved_files(folder)
    total = sum(f.bytes for f in files)
    rows = table(
        [{"file": f.name, "size": _size(f.bytes), "what it holds": f.what} for f in files], index="file"
    )
    trip: saving.RoundTrip | None = None
    try:
        reloaded = saving.reload_and_compare(loaded, folder, encoding)
    except Exception as error:  # from_pretrained refused the folder: say so, no traceback
        first = str(error).strip().splitlines()[0][:300] if str(error).strip() else type(error).__name__
        identical = False
        verdict = Note("error", f'`{loaded.head_class}.from_pretrained("{folder.name}")` failed: {first}')
    else:
        trip = reloaded
        identical, verdict = _verdict(loaded, folder, encoding, reloaded)
    try:
        config = saving.config_json(folder)
    except Exception as error:
        config = {"error": str(error).strip().splitlines()[0][:300] if str(error).strip() else "unreadable"}
    return Saved(
        folder=folder,
        heading=f"What save_pretrained wrote in {folder}",
        files=files,
        table=rows,
        total_bytes=total,
        total=Note(
            "caption",
            f"{total / 1e6:.1f} MB in all. It appears in the checkpoint picker as '{folder.name} (saved here)'.",
        ),
        round_trip=trip,
        identical=identical,
        verdict=verdict,
        config=config,
        weights=weights_note(folder),
    )


def build(
    loaded: LoadedCheckpoint,
    encoding: Encoding,
    settings: Settings | None = None,
    folder: str | Path | None = None,
) -> View:
    """The page's View. Without ``folder`` only the header (cheap); with the folder save_pretrained
    wrote, its files, the reloaded model's outputs compared with the shared model's on ``encoding``,
    and its config."""
    settings = settings or Settings()
    label = loaded.resolved.label
    intro = Note("markdown", f"Loaded: **{label}** (`{loaded.head_class}` → `{loaded.model_class}`).")
    name = default_name(label)
    chosen = settings.name if settings.name is not None else name
    source = Path(loaded.resolved.location)
    local = loaded.resolved.source != "hub" and source.is_dir()
    own = weights_note(source, "The loaded checkpoint's folder") if local else None
    if folder is None:
        return View(loaded=intro, default_name=name, name=chosen, saved=None, weights=own)
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        gone = Note("info", "The saved folder is gone; save again.")
        return View(loaded=intro, default_name=name, name=chosen, saved=None, gone=gone, weights=own)
    return View(
        loaded=intro, default_name=name, name=chosen, saved=_saved(loaded, encoding, folder), weights=own
    )

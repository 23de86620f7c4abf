"""Prepare the bundled SmolLM2 decoder: its package ships a Q4_1 GGUF file, which transformers
can read (dequantizing to float32, ~25 s, ~1.5 GB peak) but not save. We rebuild the model from
its config, copy the dequantized weights in, and write a normal safetensors folder that reloads in
under a second. Done once per machine; concurrent callers wait on a file lock, and the folder
appears only when complete (written to a temporary folder, then renamed)."""

from __future__ import annotations

import errno
import fcntl
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from explorer.errors import CheckpointError
from explorer.pipeline.checkpoints import smollm2_folder, smollm2_gguf

# progress(fraction in [0, 1], what is happening now)
Progress = Callable[[float, str], None]


def _quiet(fraction: float, message: str) -> None:
    pass


# About 540 MB of float32 weights, plus the tokenizer files.
_PREPARED_MB = 550


def _cannot_write(folder: Path, error: OSError) -> CheckpointError:
    """Why the prepared copy could not be written, and what to do, in the user's words."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        why = f"the disk is full (it needs about {_PREPARED_MB} MB free)"
    elif error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        why = "the app cannot write there (a read-only or protected folder)"
    else:
        return CheckpointError(
            f"SmolLM2 could not be prepared into {folder}: {error}. Run `python -m "
            "explorer.pipeline.bundled` to see the details, or pick another checkpoint."
        )
    return CheckpointError(
        f"SmolLM2 has to be prepared once, into {folder}, but that failed: {why}. Set the "
        "EXPLORER_CACHE_DIR environment variable to a folder the app can write (about "
        f"{_PREPARED_MB} MB), or prepare it there once with `python -m explorer.pipeline.bundled` as "
        "a user who can write it. Meanwhile, pick another checkpoint."
    )


def prepare_smollm2(progress: Progress = _quiet) -> Path:
    """Write the safetensors copy of SmolLM2 if it is not there yet; return its folder. Raises
    CheckpointError when the cache folder cannot be written (read-only, full)."""
    folder = smollm2_folder()
    if (folder / "config.json").is_file():
        progress(1.0, "SmolLM2 is ready.")
        return folder
    try:
        _prepare_once(folder, progress)
    except OSError as error:
        raise _cannot_write(folder, error) from error
    progress(1.0, "SmolLM2 is ready.")
    return folder


def _prepare_once(folder: Path, progress: Progress) -> None:
    """Convert under a file lock, so concurrent callers wait instead of converting twice."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f".{folder.name}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress(0.0, "Waiting for another preparation of SmolLM2 to finish…")
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (folder / "config.json").is_file():  # another process may have finished it
                _convert(smollm2_gguf(), folder, progress)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _convert(gguf_path: Path, folder: Path, progress: Progress) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_dir, gguf_name = str(gguf_path.parent), gguf_path.name
    progress(0.05, "Reading the tokenizer from the GGUF file…")
    tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_name)
    progress(0.25, "Dequantizing the Q4_1 weights to float32 (about 25 s)…")
    quantized = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_name)
    progress(0.75, "Rebuilding the model from its config…")
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # a GGUF-tagged config refuses save_pretrained
    config.architectures = [type(quantized).__name__]  # the GGUF config does not name it
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(quantized.state_dict(), strict=True)
    del quantized
    progress(0.85, "Writing model.safetensors and the tokenizer files…")
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if folder.exists():
            shutil.rmtree(folder)
        tmp.rename(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def main() -> None:
    """`python -m explorer.pipeline.bundled`: prepare the bundled checkpoints, printing progress."""
    import time

    from explorer.pipeline.checkpoints import minilm_folder

    print(f"MiniLM-L6: {minilm_folder()}")
    started = time.perf_counter()

    def show(fraction: float, message: str) -> None:
        print(f"SmolLM2 [{fraction:4.0%}] {message}", flush=True)

    try:
        folder = prepare_smollm2(show)
    except CheckpointError as problem:
        raise SystemExit(str(problem)) from None
    print(f"SmolLM2: {folder} ({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()

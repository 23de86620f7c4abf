"""Where the app keeps what it prepares or trains: one cache folder, configurable by environment."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The app's cache folder: ``$EXPLORER_CACHE_DIR``, else ``$XDG_CACHE_HOME/transformer-explorer``."""
    explicit = os.environ.get("EXPLORER_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "transformer-explorer"


def saved_checkpoints_dir() -> Path:
    """Checkpoints the app itself writes (fine-tuned classifiers, saved copies)."""
    return cache_dir() / "checkpoints"

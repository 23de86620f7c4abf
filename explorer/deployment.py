"""Where the app runs: on someone's own machine (everything allowed) or as a shared deployment
such as Streamlit Community Cloud ("cloud mode"), where the server's disk is not the user's, memory
is small (690 MB to 2.7 GB) and many people share one process.

Cloud mode is on when EXPLORER_CLOUD=1, or detected on Community Cloud (it serves apps from
/mount/src as the user 'appuser'); EXPLORER_CLOUD=0 turns it off."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_MAX_HUB_MB = 600  # weights a Hub checkpoint may have in cloud mode (float32 in memory)


def cloud_mode() -> bool:
    flag = os.environ.get("EXPLORER_CLOUD", "").strip().lower()
    if flag in ("1", "true", "yes", "on"):
        return True
    if flag in ("0", "false", "no", "off"):
        return False
    return Path("/mount/src").is_dir() and os.environ.get("HOME", "") == "/home/appuser"


def max_hub_bytes() -> int:
    """The largest Hub checkpoint (weight files, bytes) cloud mode loads."""
    try:
        megabytes = float(os.environ.get("EXPLORER_MAX_HUB_MB", DEFAULT_MAX_HUB_MB))
    except ValueError:
        megabytes = DEFAULT_MAX_HUB_MB
    return int(megabytes * 1_000_000)


def cache_sizes() -> dict[str, int]:
    """How many models and runs the server keeps (shared by all sessions)."""
    if cloud_mode():
        return {"models": 2, "light_runs": 8, "heavy_runs": 1, "tokenizers": 2, "trained_tokenizers": 6}
    return {"models": 3, "light_runs": 32, "heavy_runs": 3, "tokenizers": 4, "trained_tokenizers": 16}

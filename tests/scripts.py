"""The project's scripts outside packages (bench/load.py, deploy/classroom.py, …) as modules that
tests can import, each loaded once under its own name."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def script_module(name: str, relative: str):
    """The file ROOT / ``relative`` imported as module ``name`` (the same module on later calls)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / relative)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module

"""Architecture boundaries, checked on the source (AST), so a change that crosses one fails
`make test`: only explorer/ui imports Streamlit; pages import no torch, transformers or NumPy;
views import no Streamlit; one module calls models; one module turns logits into probabilities."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXPLORER = sorted((ROOT / "explorer").rglob("*.py"))
PAGES = sorted((ROOT / "pages").glob("*.py"))


def _imports(path: Path) -> set[str]:
    """Top-level package names a file imports (anywhere in it, lazy imports included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_the_files_are_found():
    assert len(EXPLORER) > 20 and len(PAGES) >= 8
    assert (ROOT / "explorer" / "ui" / "__init__.py") in EXPLORER


@pytest.mark.parametrize("path", EXPLORER, ids=_relative)
def test_only_explorer_ui_imports_streamlit(path):
    streamlit = {name for name in _imports(path) if name.split(".")[0] == "streamlit"}
    if "explorer/ui/" not in _relative(path):
        assert not streamlit, f"{_relative(path)} imports {streamlit}: Streamlit code belongs in explorer/ui"


@pytest.mark.parametrize("path", PAGES, ids=_relative)
def test_pages_import_no_model_or_array_library(path):
    heavy = {name for name in _imports(path) if name.split(".")[0] in ("torch", "transformers", "numpy")}
    assert not heavy, f"{_relative(path)} imports {heavy}: pages draw views, explorer computes them"


def _called_names(path: Path) -> list[tuple[int, str]]:
    """(line, name) of every call: f(...) -> "f", a.b.f(...) -> "b.f" (the last two parts)."""
    calls = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                calls.append((node.lineno, func.id))
            elif isinstance(func, ast.Attribute):
                owner = func.value
                prefix = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
                calls.append((node.lineno, f"{prefix}.{func.attr}"))
    return calls


def _imports_transformers_pipeline(path: Path) -> bool:
    return any(
        isinstance(node, ast.ImportFrom)
        and node.module == "transformers"
        and any(alias.name == "pipeline" for alias in node.names)
        for node in ast.walk(ast.parse(path.read_text()))
    )


def _calls_a_model(name: str, transformers_pipeline: bool = False) -> bool:
    """A forward pass: x.model(…), reloaded(…), x.generate(…), or transformers' pipeline(…)
    (the app's own cached ui.pipeline is not one)."""
    last = name.rsplit(".", 1)[-1]
    if name == "transformers.pipeline" or (name == "pipeline" and transformers_pipeline):
        return True
    return last in ("model", "reloaded") or name == "model.generate"


@pytest.mark.parametrize("path", EXPLORER + PAGES, ids=_relative)
def test_only_explorer_run_calls_a_model(path):
    if _relative(path) == "explorer/pipeline/run.py":
        return
    imported = _imports_transformers_pipeline(path)
    found = [
        f"line {line}: {name}(…)" for line, name in _called_names(path) if _calls_a_model(name, imported)
    ]
    assert not found, f"{_relative(path)} calls a model outside explorer/pipeline/run.py: {found}"


# Attention's own softmax (scores -> weights, worked step by step) is not postprocessing.
SOFTMAX_ALLOWED = {"explorer/pipeline/postprocess.py", "explorer/explain/attention.py"}


@pytest.mark.parametrize("path", EXPLORER + PAGES, ids=_relative)
def test_only_postprocess_turns_logits_into_probabilities(path):
    if _relative(path) in SOFTMAX_ALLOWED:
        return
    found = [
        f"line {line}: {name}(…)"
        for line, name in _called_names(path)
        if name.rsplit(".", 1)[-1] in ("softmax", "sigmoid", "log_softmax")
    ]
    assert not found, f"{_relative(path)} turns logits into probabilities outside postprocess.py: {found}"


def test_the_model_call_check_would_catch_one():
    """The scan above must be able to fail: a file that calls a model is flagged."""
    source = "def f(loaded, x):\n    return loaded.model(**x)\n"
    tree = ast.parse(source)
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call))
    assert isinstance(call.func, ast.Attribute) and _calls_a_model(f"loaded.{call.func.attr}")
    assert _calls_a_model("pipeline", transformers_pipeline=True) and not _calls_a_model("pipeline")


# The package's folders, lowest first: a module imports from its own folder or from a lower one,
# never from a higher one or a sibling at its level, so the data flow reads one way
# (text -> pipeline -> explanations -> drawing -> views -> app -> ui -> pages).
LAYERS = {
    "errors": 0,
    "paths": 0,
    "deployment": 0,
    "words": 0,
    "pipeline": 1,
    "explain": 2,
    "training": 2,
    "drawing": 3,
    "views": 4,
    "app": 5,
    "ui": 6,
}


# Crossings not yet removed, each with the import it makes; an entry that is no longer true fails
# test_known_upward_imports_are_still_there, so this list can only shrink.
KNOWN_UPWARD: dict[str, list[str]] = {}


def _folder(path: Path) -> str:
    parts = path.relative_to(ROOT / "explorer").with_suffix("").parts
    return parts[0]


def _explorer_imports(path: Path) -> set[str]:
    """The explorer folders (or top-level modules) a file imports, lazy imports included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        modules = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "explorer":
                modules = [f"explorer.{alias.name}" for alias in node.names]
            else:
                modules = [node.module]
        found |= {m.split(".")[1] for m in modules if m.startswith("explorer.")}
    return found


def test_every_folder_has_a_layer():
    folders = {_folder(path) for path in EXPLORER} - {"__init__", "data"}
    assert folders == set(LAYERS), (
        f"a folder without a layer, or a layer without a folder: {folders ^ set(LAYERS)}"
    )


def _upward(path: Path) -> list[str]:
    own = _folder(path)
    return sorted(
        target
        for target in _explorer_imports(path) - {own}
        if target in LAYERS and LAYERS[target] >= LAYERS[own]
    )


@pytest.mark.parametrize("path", [p for p in EXPLORER if _folder(p) in LAYERS], ids=_relative)
def test_imports_go_down_the_layers(path):
    own = _folder(path)
    upward = [target for target in _upward(path) if target not in KNOWN_UPWARD.get(_relative(path), [])]
    assert not upward, (
        f"{_relative(path)} ({own}, layer {LAYERS[own]}) imports {upward}: "
        "move the shared piece down, or the caller up"
    )


def test_known_upward_imports_are_still_there():
    """Every entry of KNOWN_UPWARD is still exactly true (one loop, so an empty list still runs)."""
    stale = {
        relative: _upward(ROOT / relative)
        for relative, targets in KNOWN_UPWARD.items()
        if _upward(ROOT / relative) != targets
    }
    assert not stale, f"update KNOWN_UPWARD (it can only shrink): now {stale}"

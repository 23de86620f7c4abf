"""The checkpoint-family matrix as a fixture: every test that takes ``family`` runs once per family
(bert, distilbert, roberta, albert, gpt2, llama, qwen3, t5, cls-single, cls-multi, cls-regression,
bert-mlm), against a tiny checkpoint written with save_pretrained and loaded by the app's loader.

``family.loaded`` is None when the app's loader raised; the exception is then in
``family.load_error``. Today only t5 fails to load: the loader refuses encoder-decoders with a
CheckpointError (see tests/unit/test_families.py). ``family.family`` carries the facts to check
against (tests/families.py), e.g. ``family.family.has_token_type_ids``.
"""

from __future__ import annotations

import pytest

from tests.families import NAMES, FamilyCheckpoint, build_and_load


@pytest.fixture(scope="session", params=NAMES, ids=NAMES)
def family(request, tmp_path_factory) -> FamilyCheckpoint:
    """A built and loaded checkpoint: ``.family`` (the facts), ``.folder``, ``.ref``
    ("local:<folder>"), ``.loaded`` (LoadedCheckpoint or None) and ``.load_error``."""
    name = request.param
    return build_and_load(name, tmp_path_factory.mktemp(f"family-{name}"))

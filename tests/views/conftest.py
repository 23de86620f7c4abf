"""The checkpoint-family matrix as a fixture: every test that takes ``family`` runs once per family
of ``tests.families.NAMES`` (bert, distilbert, roberta, albert, gpt2, llama, qwen3, t5, bart,
cls-single, cls-multi, cls-regression, bert-mlm), against a tiny checkpoint written with
save_pretrained and loaded by the app's loader.

The thirteen families of the course's other heads (``tests.families.TASK_HEAD_NAMES``: token
classification, question answering, multiple choice and NLI on BERT, DistilBERT and RoBERTa, and a
Llama classifier) are not in this fixture: ``tests/views/test_task_heads_pages.py`` builds every
page's View on each of them (the fast "every page opens" matrix) and ``tests/app/test_task_heads_app.py``
opens every page of the app on three of them. Adding them here would double the per-view tests'
time, and several per-view tests still assume that every sequence classifier is BERT and every
other encoder is headless (see ``PER_VIEW_CANDIDATES``).

``family.loaded`` is None when the app's loader raised; the exception is then in
``family.load_error`` (every family loads today). ``family.family`` carries the facts to check
against (tests/families.py), e.g. ``family.family.has_token_type_ids``.
"""

from __future__ import annotations

import pytest

from tests.families import NAMES, FamilyCheckpoint, build_and_load

# A representative subset of the task heads for the per-view tests, one per head kind, once those
# tests read the head from the family's facts (family.family.kind / head / causal) instead of
# assuming BERT: roberta-ner, distilbert-qa, bert-mc, bert-nli, llama-cls.
PER_VIEW_CANDIDATES = ("roberta-ner", "distilbert-qa", "bert-mc", "bert-nli", "llama-cls")


@pytest.fixture(scope="session", params=NAMES, ids=NAMES)
def family(request, tmp_path_factory) -> FamilyCheckpoint:
    """A built and loaded checkpoint: ``.family`` (the facts), ``.folder``, ``.ref``
    ("local:<folder>"), ``.loaded`` (LoadedCheckpoint or None) and ``.load_error``."""
    name = request.param
    return build_and_load(name, tmp_path_factory.mktemp(f"family-{name}"))

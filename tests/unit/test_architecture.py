"""The architecture table (explorer.pipeline.architecture): every family of the test matrix has an
entry, the module names it gives exist on the family's tiny checkpoint, and a family it does not
know gets one clear message."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from explorer.errors import ExplorerError
from explorer.pipeline import architecture as arch
from tests.families import ALL_FAMILIES, FAMILIES, build_and_load

# One checkpoint per model type of the matrix (bert, distilbert, roberta, albert, gpt2, llama,
# qwen3, t5, bart): the table is keyed by model type, so the task heads add no new entry.
BY_TYPE = {family.model_type: family.name for family in reversed(FAMILIES)}
TYPES = tuple(sorted(BY_TYPE))


@pytest.fixture(scope="module", params=TYPES, ids=TYPES)
def checkpoint(request, tmp_path_factory):
    built = build_and_load(BY_TYPE[request.param], tmp_path_factory.mktemp(f"arch-{request.param}"))
    assert built.loaded is not None, built.load_error
    return built


def test_every_family_of_the_matrix_has_an_entry():
    missing = sorted({f.model_type for f in ALL_FAMILIES if arch.lookup(_Config(f.model_type)) is None})
    assert missing == []


def test_a_model_type_belongs_to_one_family():
    types = [kind for family in arch.FAMILIES for kind in family.model_types]
    assert len(types) == len(set(types))


def test_records_are_frozen_and_keyword_only():
    with pytest.raises(TypeError):
        arch.Norms("pre", "RMSNorm", "a", "b", None)  # positional on purpose
    with pytest.raises(dataclasses.FrozenInstanceError):
        arch.BERT.label = "x"  # frozen on purpose


def _layer_paths(family: arch.Family) -> list[str]:
    """Every module path the entry gives inside one layer."""
    attention, norms, ffn = family.attention, family.norms, family.feed_forward
    paths = [
        attention.module,
        attention.output,
        norms.attention,
        norms.feed_forward,
        ffn.up,
        ffn.down,
        ffn.activation,
    ]
    paths += [p for p in (attention.query, attention.key, attention.value, attention.fused, ffn.gate) if p]
    return paths


def _base_paths(family: arch.Family) -> list[str]:
    table = family.embeddings
    paths = [family.layers, table.token, family.norms.final, table.rotary]
    return [p for p in (*paths, table.segment, table.position, table.norm, table.projection) if p]


def test_the_table_names_modules_the_model_has(checkpoint):
    loaded, facts = checkpoint.loaded, checkpoint.family
    family = arch.lookup(loaded.config)
    assert family is not None and facts.model_type in family.model_types
    assert family.kind == ("decoder" if facts.causal else facts.kind), family.name
    base = loaded.model.base_model
    for path in _base_paths(family):
        assert arch.module_at(base, path) is not None, (family.name, path)
    assert arch.layer_count(loaded.model, family) >= 1
    for index in range(facts.layers):
        layer = arch.layer_module(loaded.model, family, index)
        for path in _layer_paths(family):
            assert arch.module_at(layer, path) is not None, (family.name, index, path)
        heads = arch.module_at(arch.module_at(layer, family.attention.module), family.attention.heads)
        assert int(heads) == facts.heads
    names = {name for name, _ in base.named_modules()}
    assert any(name.endswith(family.attention.output) for name in names)  # the names are real module names


def test_position_kind_matches_the_facts(checkpoint):
    loaded, facts = checkpoint.loaded, checkpoint.family
    kind = arch.position_kind(loaded.model)
    if facts.max_positions is None:
        assert kind == "relative"  # T5
    elif facts.model_type in ("llama", "qwen3"):
        assert kind == "rotary" and arch.position_table(loaded.model) is None
    else:
        assert kind == "learned"
        assert arch.position_table(loaded.model).weight.shape[0] >= facts.max_positions


def test_the_table_says_what_is_recomputed(checkpoint):
    loaded, facts = checkpoint.loaded, checkpoint.family
    for step in ("embeddings", "attention", "layer"):
        covered = facts.kind != "encoder-decoder" and not (
            step == "attention" and facts.model_type == "albert"
        )
        if covered:
            assert arch.family_for(loaded, step).name == arch.lookup(loaded.config).name
        else:
            with pytest.raises(ExplorerError, match="not available for"):
                arch.family_for(loaded, step)


def test_an_unknown_family_gets_one_message_from_the_table(checkpoint):
    loaded = checkpoint.loaded
    config = copy.deepcopy(loaded.config)
    config.model_type = "mpnet"  # a copy: the shared checkpoint is never mutated
    other = dataclasses.replace(loaded, config=config)
    assert arch.lookup(config) is None
    with pytest.raises(ExplorerError) as raised:
        arch.family_for(other, "layer")
    text = str(raised.value)
    if config.is_encoder_decoder:
        assert "is an encoder-decoder (mpnet)" in text and "not available for encoder-decoders yet" in text
    else:
        assert text.startswith(
            "The step-by-step embeddings and layer are not available for 'mpnet' models yet"
        )
    assert text.endswith(f"they cover {arch.supported('layer')}.")
    assert loaded.config.model_type == checkpoint.family.model_type


def test_the_supported_lists_come_from_the_table():
    assert arch.supported("layer") == (
        "BERT-style encoders (BERT, MiniLM, RoBERTa, XLM-R, CamemBERT), DistilBERT, ALBERT, GPT-2 and "
        "Llama-style decoders (Llama, SmolLM2, Qwen2, Qwen3, Mistral)"
    )
    attention = arch.supported("attention")
    assert "ELECTRA" in attention and "ALBERT" not in attention  # one list, not two that disagree
    message = arch.unsupported("x", _Config("albert"), "attention")
    assert (
        message
        == f"Step-by-step attention is not available for 'albert' models yet; it supports {attention}."
    )


@dataclasses.dataclass
class _Config:
    model_type: str
    is_encoder_decoder: bool = False

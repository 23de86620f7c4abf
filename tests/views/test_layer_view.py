"""The "A layer, step by step" page's View, built for every family of the checkpoint matrix.

The recomputed embeddings and layers are checked against the model's own hidden states (sliced
here from the run), and every intermediate tensor against what the model's own modules returned
during its forward pass (captured here with forward hooks), never against the View itself.
"""

from __future__ import annotations

import copy
import dataclasses
import re

import numpy as np
import pytest

from explorer.explain import layer as walks
from explorer.pipeline import checkpoints
from explorer.pipeline.bundled import prepare_smollm2
from explorer.pipeline.encoding import encode_batch
from explorer.pipeline.loading import load_checkpoint
from explorer.pipeline.run import run_model
from explorer.views import layer as layer_view

# The first is shorter: it is padded (on the side the fixture asks for).
SENTENCES = ("The cat sat.", "Attention lets every token look at every other token.")
TOLERANCE = 1e-4
SIDES = ("right", "left")


@pytest.fixture(scope="module", params=SIDES, ids=[f"pad-{side}" for side in SIDES])
def batch(family, request):
    """(loaded, encoding, run) with the short sentence padded on the right or on the left."""
    if family.family.kind == "encoder-decoder":
        pytest.skip(
            f"{family.family.name}: not covered step by step (test_encoder_decoders_get_a_clear_note)"
        )
    loaded, side = family.loaded, request.param
    encoding = encode_batch(
        loaded.batch_tokenizer, SENTENCES, max_length=loaded.max_tokens, padding_side=side
    )
    padded_first = encoding.attention_mask[0, 0] == 0
    assert padded_first == (side == "left") and not encoding.attention_mask[0].all()
    return loaded, encoding, run_model(loaded, encoding, hidden_states=True, attentions=True)


_VIEWS: dict = {}


def _view(batch, **values):
    loaded, encoding, run = batch
    settings = layer_view.Settings(**values)
    key = (loaded.resolved.location, encoding.padding_side, settings)
    if key not in _VIEWS:
        _VIEWS[key] = layer_view.build(loaded, encoding, run, settings)
    return _VIEWS[key]


def _arch(family) -> str:
    """The layer layout expected from the family's facts (not from the code under test)."""
    model_type = family.family.model_type
    if model_type in ("llama", "qwen3"):
        return "rotary"
    return model_type if model_type in ("distilbert", "albert", "gpt2") else "bert"


def _real(encoding, sentence) -> np.ndarray:
    return encoding.attention_mask[sentence].astype(bool)  # [S]


# --- T5 and unsupported families ----------------------------------------------------------------


def test_encoder_decoders_get_a_clear_note(family):
    """Issue 13: T5 and BART load; this page says the step-by-step layer does not cover
    encoder-decoders yet, with a Note instead of a traceback."""
    assert family.loaded is not None, family.load_error
    if family.family.kind != "encoder-decoder":
        return
    loaded = family.loaded
    encoding = encode_batch(loaded.batch_tokenizer, SENTENCES, max_length=loaded.max_tokens)
    run = run_model(loaded, encoding, hidden_states=True, attentions=True)
    view = layer_view.build(loaded, encoding, run, layer_view.Settings())
    assert view.embeddings is None and view.layer is None
    assert view.unsupported.kind == "info"
    assert (
        "encoder-decoder" in view.unsupported.text
        and "not available for encoder-decoders yet" in view.unsupported.text
    )


def test_an_architecture_it_does_not_know_gets_a_note(family, batch):
    loaded, encoding, run = batch
    config = copy.deepcopy(loaded.config)
    config.model_type = "mpnet"  # a copy: the shared checkpoint is never mutated
    other = dataclasses.replace(loaded, config=config)
    view = layer_view.build(other, encoding, run, layer_view.Settings())
    assert view.embeddings is None and view.layer is None
    assert view.unsupported.kind == "info" and "'mpnet'" in view.unsupported.text
    assert loaded.config.model_type == family.family.model_type


# --- The input embeddings -------------------------------------------------------------------------

EMBEDDING_STEPS = {
    "bert": ("token", "segment", "position", "sum", "norm"),
    "distilbert": ("token", "position", "sum", "norm"),
    "albert": ("token", "segment", "position", "sum", "norm", "projection"),
    "gpt2": ("token", "position", "sum"),
    "rotary": ("token",),
}


def _expected_positions(family, encoding, sentence) -> np.ndarray | None:
    """[S] the row of the position table each token reads, from the family's facts."""
    mask = encoding.attention_mask[sentence]
    if _arch(family) == "rotary":
        return None
    if family.family.position_offset:  # RoBERTa: real tokens from padding_idx + 1, padding at padding_idx
        pad = family.family.position_offset - 1
        return np.where(mask == 1, np.cumsum(mask) + pad, pad)
    if mask[0] == 0:  # left padding: counted from the first real token, padding at 0
        return np.maximum(np.cumsum(mask) - 1, 0)
    return np.arange(len(mask))


@pytest.mark.parametrize("sentence", [0, 1])
def test_embeddings_are_hidden_states_0(family, batch, sentence):
    loaded, encoding, run = batch
    walk = walks.embedding_steps(loaded, run, encoding, sentence=sentence)
    arch = _arch(family)
    assert walk.architecture == arch
    assert tuple(step.key for step in walk.steps) == EMBEDDING_STEPS[arch]
    expected = run.hidden_states[0, sentence]  # [S, D]
    assert walk.output.shape == expected.shape
    assert np.abs(walk.output - expected).max() < TOLERANCE  # every position, padding included
    assert walk.same and walk.max_abs_difference < TOLERANCE and walk.reference_name == "hidden_states[0]"
    base = loaded.model.base_model
    ids = encoding.input_ids[sentence]
    steps = {step.key: step for step in walk.steps}
    tables = {
        "bert": lambda: (base.embeddings.word_embeddings, base.embeddings.position_embeddings),
        "distilbert": lambda: (base.embeddings.word_embeddings, base.embeddings.position_embeddings),
        "albert": lambda: (base.embeddings.word_embeddings, base.embeddings.position_embeddings),
        "gpt2": lambda: (base.wte, base.wpe),
        "rotary": lambda: (base.embed_tokens, None),
    }
    token_table, position_table = tables[arch]()
    np.testing.assert_array_equal(steps["token"].tensor, token_table.weight.detach().numpy()[ids])
    rows = _expected_positions(family, encoding, sentence)
    if rows is not None:
        np.testing.assert_array_equal(steps["position"].tensor, position_table.weight.detach().numpy()[rows])
        assert f"Rows used: {int(rows[0])}, {int(rows[1])}" in steps["position"].operation
    if arch == "albert":  # factorised: E-wide tables, projected to the hidden size
        E, D = loaded.config.embedding_size, loaded.config.hidden_size
        assert steps["norm"].shape[-1] == E and steps["projection"].shape[-1] == D != E
        assert "hidden_states[0] is taken after it" in steps["projection"].operation
    if arch == "rotary":
        assert any("No position embedding" in fact and "rotary" in fact for fact in walk.facts)
    if "segment" in steps:
        types = encoding.token_type_ids[sentence] if family.family.has_token_type_ids else np.zeros_like(ids)
        table = base.embeddings.token_type_embeddings.weight.detach().numpy()
        np.testing.assert_array_equal(steps["segment"].tensor, table[types])


# --- One whole layer -------------------------------------------------------------------------------

LAYER_STEPS = {
    "post": (
        "input",
        "queries",
        "keys",
        "values",
        "weights",
        "heads",
        "concatenated",
        "attention_output",
        "residual_1",
        "attention_norm",
        "ffn_in",
        "activation",
        "ffn_out",
        "residual_2",
        "ffn_norm",
    ),
    "gpt2": (
        "input",
        "attention_norm",
        "queries",
        "keys",
        "values",
        "weights",
        "heads",
        "concatenated",
        "attention_output",
        "residual_1",
        "ffn_norm",
        "ffn_in",
        "activation",
        "ffn_out",
        "residual_2",
    ),
    "rotary": (
        "input",
        "attention_norm",
        "queries",
        "keys",
        "values",
        "weights",
        "heads",
        "concatenated",
        "attention_output",
        "residual_1",
        "ffn_norm",
        "gate",
        "up",
        "activation",
        "ffn_out",
        "residual_2",
    ),
}


@pytest.mark.parametrize("sentence", [0, 1])
def test_every_layer_is_its_hidden_state(family, batch, sentence):
    loaded, encoding, run = batch
    real = _real(encoding, sentence)
    L = family.family.layers
    assert run.hidden_states.shape[0] == L + 1
    arch = _arch(family)
    for number in range(1, L + 1):
        walk = walks.layer_steps(loaded, run, encoding, layer=number, sentence=sentence)
        expected = run.hidden_states[number, sentence]  # [S, D]
        assert np.abs(walk.output - expected)[real].max() < TOLERANCE
        assert walk.same and walk.reference_name == f"hidden_states[{number}]"
        assert (walk.compared == real).all()
        # The check can fail: the layer changes its input.
        assert np.abs(walk.output - run.hidden_states[number - 1, sentence])[real].max() > 10 * TOLERANCE
        np.testing.assert_array_equal(walk.steps[0].tensor, run.hidden_states[number - 1, sentence])
        keys = tuple(step.key for step in walk.steps)
        last_with_final_norm = family.family.kind == "decoder" and number == L
        expected_keys = LAYER_STEPS.get(arch, LAYER_STEPS["post"]) + (
            ("final_norm",) if last_with_final_norm else ()
        )
        assert keys == expected_keys
        layout = "pre-norm" if family.family.kind == "decoder" else "post-norm"
        assert any(f"**{layout}" in fact for fact in walk.facts)


# What each step's tensor is in the model's own forward pass: the output of this submodule of the
# layer ("" = the whole layer). Rotary queries and keys are rotated after their projection, so
# only their shape is compared with the projection's output.
MODULES = {
    "bert": {
        "queries": "attention.self.query",
        "keys": "attention.self.key",
        "values": "attention.self.value",
        "attention_output": "attention.output.dense",
        "attention_norm": "attention.output.LayerNorm",
        "ffn_in": "intermediate.dense",
        "activation": "intermediate",
        "ffn_out": "output.dense",
        "ffn_norm": "output.LayerNorm",
    },
    "distilbert": {
        "queries": "attention.q_lin",
        "keys": "attention.k_lin",
        "values": "attention.v_lin",
        "attention_output": "attention.out_lin",
        "attention_norm": "sa_layer_norm",
        "ffn_in": "ffn.lin1",
        "ffn_out": "ffn.lin2",
        "ffn_norm": "output_layer_norm",
    },
    "albert": {
        "queries": "attention.query",
        "keys": "attention.key",
        "values": "attention.value",
        "attention_output": "attention.dense",
        "attention_norm": "attention.LayerNorm",
        "ffn_in": "ffn",
        "ffn_out": "ffn_output",
        "ffn_norm": "full_layer_layer_norm",
    },
    "gpt2": {
        "attention_norm": "ln_1",
        "attention_output": "attn.c_proj",
        "ffn_norm": "ln_2",
        "ffn_in": "mlp.c_fc",
        "ffn_out": "mlp.c_proj",
    },
    "rotary": {
        "attention_norm": "input_layernorm",
        "queries": "self_attn.q_proj",
        "keys": "self_attn.k_proj",
        "values": "self_attn.v_proj",
        "attention_output": "self_attn.o_proj",
        "ffn_norm": "post_attention_layernorm",
        "gate": "mlp.gate_proj",
        "up": "mlp.up_proj",
        "ffn_out": "mlp.down_proj",
        "residual_2": "",
    },
}
SHAPE_ONLY = {("rotary", "queries"), ("rotary", "keys")}


def _blocks(loaded, arch) -> list:
    """The module of each layer, in order (ALBERT: the same shared module, once per layer)."""
    base, config = loaded.model.base_model, loaded.config
    if arch == "bert":
        return list(base.encoder.layer)
    if arch == "distilbert":
        return list(base.transformer.layer)
    if arch == "gpt2":
        return list(base.h)
    if arch == "rotary":
        return list(base.layers)
    per_group = config.num_hidden_layers / config.num_hidden_groups
    return [
        base.encoder.albert_layer_groups[int(i / per_group)].albert_layers[0]
        for i in range(config.num_hidden_layers)
    ]


def _captured(loaded, encoding, arch) -> list[dict]:
    """[L] {step key: [B, S, X] tensor} the layer's submodules returned in the model's own forward
    pass (the app's run_model, with forward hooks on the shared model, removed afterwards)."""
    blocks = _blocks(loaded, arch)
    calls: dict = {}
    handles = []

    def record(store):
        def hook(module, inputs, output):
            store.append((output[0] if isinstance(output, tuple) else output).detach().float().numpy().copy())

        return hook

    try:
        for block in {id(b): b for b in blocks}.values():
            for key, path in MODULES[arch].items():
                store = calls.setdefault((id(block), key), [])
                module = block.get_submodule(path) if path else block
                handles.append(module.register_forward_hook(record(store)))
        run_model(loaded, encoding, hidden_states=True)
    finally:
        for handle in handles:
            handle.remove()
    seen: dict = {}
    layers = []
    for block in blocks:
        call = seen.get(id(block), 0)
        seen[id(block)] = call + 1
        layers.append({key: calls[(id(block), key)][call] for key in MODULES[arch]})
    return layers


_CAPTURED: dict = {}  # (checkpoint, padding side) -> _captured(...)
SHAPE = re.compile(r"Shape \*\*\[([^\]]*)\]\*\*")


def _parse_shape(text: str) -> tuple[int, ...]:
    """ "[12, 4 × 16 = 64]" -> (12, 64), checking that each product is what it says."""
    (inside,) = SHAPE.findall(text)
    dims = []
    for part in inside.split(", "):
        if "=" in part:
            product, total = part.split("=")
            factors = [int(f) for f in product.split("×")]
            assert int(np.prod(factors)) == int(total), part
            dims.append(int(total))
        else:
            dims.append(int(part))
    return tuple(dims)


@pytest.mark.parametrize("sentence", [0, 1])
def test_each_step_is_the_models_own_tensor_with_its_shape(family, batch, sentence):
    loaded, encoding, run = batch
    arch = _arch(family)
    real = _real(encoding, sentence)
    S = encoding.shape[1]
    H, KV, d, D = family.family.heads, family.family.kv_heads, family.family.head_dim, family.family.hidden
    key = (loaded.resolved.location, encoding.padding_side)
    if key not in _CAPTURED:
        _CAPTURED[key] = _captured(loaded, encoding, arch)
    captured = _CAPTURED[key]
    for number in range(1, family.family.layers + 1):
        walk = walks.layer_steps(loaded, run, encoding, layer=number, sentence=sentence)
        steps = {step.key: step for step in walk.steps}
        for key, tensor in captured[number - 1].items():
            model_tensor = tensor[sentence]  # [S, X]
            assert steps[key].shape == model_tensor.shape, (number, key)
            if (arch, key) not in SHAPE_ONLY:
                difference = np.abs(steps[key].tensor - model_tensor)[real].max()
                assert difference < TOLERANCE, (number, key, difference)
        # The attention weights are the ones the model returned (real query rows).
        weights = steps["weights"].tensor  # [H, S, S]
        assert weights.shape == (H, S, S)
        assert np.abs(weights - run.attentions[number - 1, sentence])[:, real].max() < TOLERANCE
        # Sizes from the family's facts: heads × head size need not be the hidden size (Qwen3).
        assert steps["queries"].shape == (S, H * d) and steps["queries"].split == (H, d)
        assert steps["keys"].shape == (S, KV * d) and steps["keys"].split == (KV, d)
        assert steps["heads"].shape == (H, S, d)
        assert steps["concatenated"].shape == (S, H * d)
        assert steps["attention_output"].shape == (S, D)
        assert steps["queries"].shape_text == f"[{S}, {H} × {d} = {H * d}]"
    # Every step's sentence on the page states the tensor's real shape.
    view = _view(batch, sentence=sentence, layer=family.family.layers)
    for section in (view.embeddings, view.layer):
        for shown in section.steps:
            assert _parse_shape(shown.text.text) == shown.step.tensor.shape, shown.text.text
            assert shown.text.text.startswith(f"**{section.steps.index(shown) + 1}. {shown.step.title}.**")


# --- The View -------------------------------------------------------------------------------------


def test_the_view_for_each_layer(family, batch):
    loaded, encoding, run = batch
    L = family.family.layers
    view = _view(batch, sentence=0, layer=L)
    assert view.layers == tuple(range(1, L + 1))
    assert [layer_view.layer_label(n) for n in view.layers] == [f"layer {n}" for n in range(1, L + 1)]
    assert view.unsupported is None and view.settings.layer == L
    real = int(encoding.attention_mask[0].sum())
    S = encoding.shape[1]
    layer_text = view.layer.agreement.text
    assert view.layer.agreement.kind == "success" and view.layer.same
    assert f"**hidden_states[{L}]**" in layer_text and f"at the {real} real tokens" in layer_text
    assert "(padding positions excluded)" in layer_text  # sentence 0 is padded
    assert view.embeddings.agreement.kind == "success"
    assert f"at all {S} positions, padding included" in view.embeddings.agreement.text
    final = [step for step in view.layer.steps if step.step.key == "final_norm"]
    if family.family.kind == "decoder":  # transformers puts the final norm into hidden_states[L]
        (step,) = final
        assert "compared after it" in step.text.text
        name = "ln_f" if family.family.model_type == "gpt2" else "norm"
        assert f"`{name}`" in step.text.text
    else:
        assert not final
    overview = view.layer.overview
    assert [row["operation"] for row in overview.rows] == [s.step.title for s in view.layer.steps]
    assert [row["shape"] for row in overview.rows] == [s.step.shape_text for s in view.layer.steps]
    # One heatmap at a time (issue 21): each step, chosen, is the only one drawn (every step on
    # one padding side; the default step on the other).
    for value in view.step_options if encoding.padding_side == "right" else (view.settings.step,):
        chosen = _view(batch, sentence=0, layer=L, step=value)
        drawn = [one for one in (*chosen.embeddings.steps, *chosen.layer.steps) if one.figure is not None]
        assert drawn == [] and chosen.chosen is not None and chosen.chosen.value == value
        shown = chosen.chosen
        figure = shown.figure
        z = np.array(figure.data[0].z, dtype=float)
        assert z.shape[0] == min(S, layer_view.WINDOW_POSITIONS)
        if shown.step.key != "weights":
            matrix = shown.step.tensor[0] if shown.step.tensor.ndim == 3 else shown.step.tensor
            columns = min(matrix.shape[1], layer_view.WINDOW_DIMENSIONS)
            np.testing.assert_allclose(z, matrix[: z.shape[0], :columns], atol=1e-4)


def test_one_chosen_step_is_drawn_and_its_width_said(family, batch):
    """Issue 21: one heatmap at a time, and the feed-forward's wide tensor said and drawn wider
    (its width read from config.json here, with each family's own field name)."""
    if batch[1].padding_side != "right":
        pytest.skip("one padding side is enough")
    import json

    from tests.views.test_flow_view import FIELDS

    _, hidden, _, ffn = FIELDS[family.family.model_type]
    config = json.loads((family.folder / "config.json").read_text())
    D, F = config[hidden], config.get(ffn) or 4 * config[hidden]  # GPT-2: n_inner None is 4 × n_embd
    view = _view(batch, sentence=1, layer=1, step="layer.activation")
    assert view.settings.step == "layer.activation" and view.chosen.value == "layer.activation"
    assert [one for one in (*view.embeddings.steps, *view.layer.steps) if one.figure is not None] == []
    assert view.chosen.step.tensor.shape[-1] == F
    z = np.array(view.chosen.figure.data[0].z, dtype=float)
    assert z.shape[1] == min(F, layer_view.WINDOW_DIMENSIONS)
    drawn = min(F, layer_view.WINDOW_DIMENSIONS)
    assert (f"the first {drawn} of {F:,}" if drawn < F else f"all {F}") in view.window.text
    # The strip draws the input [S, D] and the widened [S, F] in proportion.
    wholes = [float(w) for w in re.findall(r'fx-whole" style="width:([\d.]+)%', view.layer.widths_html)]
    activation = [s.step.key for s in view.layer.steps].index("activation")
    assert wholes[0] / wholes[activation] == pytest.approx(D / F, rel=1e-3)  # input [S, D] vs [S, F]
    assert view.step_label("layer.activation").endswith(f", {F}]")
    # A step this model does not have (from a link): the default step, drawn.
    fallback = _view(batch, sentence=1, layer=1, step="layer.nonsense")
    assert fallback.settings.step == "layer.input" and fallback.chosen.figure is not None


def test_out_of_range_settings_fall_back(family, batch):
    view = layer_view.build(*batch, layer_view.Settings(sentence=7, layer=family.family.layers + 1))
    assert view.settings.layer == 1 and view.settings.sentence == 0
    assert view.layer.walk.reference_name == "hidden_states[1]"
    if batch[1].padding_side == "right":  # one more View is enough
        assert layer_view.build(*batch, layer_view.Settings(layer=0)).settings.layer == 1


# --- The bundled checkpoints (real weights) -------------------------------------------------------


@pytest.mark.bundled
@pytest.mark.parametrize("ref", [checkpoints.MINILM, checkpoints.SMOLLM2], ids=["minilm", "smollm2"])
def test_bundled_checkpoints_layer_by_layer(ref):
    """MiniLM (BERT, post-norm) and SmolLM2 (Llama, grouped-query, 30 layers): every layer."""
    if ref == checkpoints.SMOLLM2:
        prepare_smollm2()
    loaded = load_checkpoint(checkpoints.resolve(ref))
    encoding = encode_batch(loaded.batch_tokenizer, SENTENCES, max_length=loaded.max_tokens)
    run = run_model(loaded, encoding, hidden_states=True)
    L = run.hidden_states.shape[0] - 1
    for sentence in (0, 1):
        real = _real(encoding, sentence)
        walk = walks.embedding_steps(loaded, run, encoding, sentence=sentence)
        assert np.abs(walk.output - run.hidden_states[0, sentence]).max() < TOLERANCE
        for number in range(1, L + 1):
            walk = walks.layer_steps(loaded, run, encoding, layer=number, sentence=sentence)
            assert np.abs(walk.output - run.hidden_states[number, sentence])[real].max() < TOLERANCE, number

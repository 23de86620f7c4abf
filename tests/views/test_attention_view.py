"""The Attention page's View, built for every family of the checkpoint matrix.

Expected values come from the model's run (sliced here, independently of the app), from the
config and the weights, or from the family's facts in tests/families.py, never from the View.
"""

from __future__ import annotations

import functools
import re

import numpy as np
import pytest

from explorer.drawing import bertviz_html
from explorer.drawing.bertviz_html import THRESHOLD
from explorer.explain.attention import attention_steps
from explorer.pipeline.encoding import encode_batch
from explorer.pipeline.run import run_model
from explorer.views import attention
from tests.view_contents import note_texts
from tests.views.bertviz_expected import dense as _dense
from tests.views.bertviz_expected import visible as _visible

# The first is shorter: it is padded (right or left, as the checkpoint's batch tokenizer pads).
SENTENCES = ("The cat sat.", "Attention lets every token look at every other token.")
SPECIAL_NAMES = ("[CLS]", "[SEP]", "[PAD]", "[MASK]", "<s>", "</s>", "<pad>", "<mask>", "<|endoftext|>")


@pytest.fixture(scope="module")
def batch(family):
    """(loaded, encoding, run) for an encoder or decoder family; encoder-decoders (T5, BART: three
    attentions) are checked in test_cross_attention.py."""
    if family.family.kind == "encoder-decoder":
        pytest.skip(f"{family.family.name}: an encoder-decoder, checked in test_cross_attention.py")
    assert family.loaded is not None, family.load_error
    loaded = family.loaded
    encoding = encode_batch(loaded.batch_tokenizer, SENTENCES, max_length=loaded.max_tokens)
    return loaded, encoding, run_model(loaded, encoding, hidden_states=True, attentions=True)


_VIEWS: dict = {}  # (family, Settings) -> View: tests asking for the same View share it


def _build(batch, cache: bool = True, **values):
    loaded, encoding, run = batch
    settings = attention.Settings(**{"bertviz": "off", "steps": True, "position": True, **values})
    key = (loaded.resolved.location, settings)
    if not cache or key not in _VIEWS:
        view = attention.build(loaded, encoding, run, settings)
        if not cache:
            return view
        _VIEWS[key] = view
    return _VIEWS[key]


def _allowed(encoding, sentence, causal):
    """[S, S] may query i see key j: real keys only, and no later key in a decoder."""
    S = encoding.shape[1]
    keys = encoding.attention_mask[sentence].astype(bool)  # [S]
    allowed = np.tile(keys, (S, 1))  # [S, S]
    return allowed & np.tri(S, dtype=bool) if causal else allowed


def _heads_and_head_dim(loaded):
    """(query heads, key/value heads, d, D) from the config and the query / key weights."""
    config, model = loaded.config, loaded.model
    H = config.num_attention_heads
    KV = getattr(config, "num_key_value_heads", None) or H
    D = config.hidden_size
    params = dict(model.named_parameters())
    q_proj = next(
        (w for name, w in params.items() if name.endswith("layers.0.self_attn.q_proj.weight")), None
    )
    k_proj = next(
        (w for name, w in params.items() if name.endswith("layers.0.self_attn.k_proj.weight")), None
    )
    if q_proj is not None:  # Llama / Qwen3: [H × d, D] and [KV × d, D]
        d = q_proj.shape[0] // H
        assert k_proj.shape[0] == KV * d
        if getattr(config, "head_dim", None):
            assert config.head_dim == d
    else:
        d = getattr(config, "head_dim", None) or D // H
    return H, KV, d, D


def test_every_family_loads(family):
    assert family.loaded is not None, family.load_error


# (layer, head) pairs whose View is built: together they cover every layer and head of the tiny
# models and both sentences (building a View makes ~10 Plotly figures, ~25 ms each). Layers are
# numbered 1 … L as on every page (layer l's attention is run.attentions[l - 1]), heads from 0.
SAMPLED = {0: ((1, 0), (2, 1), (1, 2), (2, 3)), 1: ((2, 0), (1, 1))}


@pytest.mark.parametrize("sentence", [0, 1])
def test_heatmap_and_steps_are_the_models_attention(family, batch, sentence):
    loaded, encoding, run = batch
    causal = family.family.kind == "decoder"
    allowed = _allowed(encoding, sentence, causal)  # [S, S]
    real = encoding.attention_mask[sentence].astype(bool)  # [S]
    L, H = family.family.layers, family.family.heads
    assert run.attentions.shape[:3] == (L, len(SENTENCES), H)
    above = np.triu_indices(encoding.shape[1], 1)
    for layer, head in SAMPLED[sentence]:
        view = _build(batch, sentence=sentence, layer=layer, head=head)
        expected = run.attentions[layer - 1, sentence, head]  # [S, S]: layer l is attentions[l - 1]
        assert view.heatmap.figure.layout.title.text == f"Layer {layer}, head {head}"
        assert view.heatmap.filename == f"attention-layer{layer}-head{head}"
        matrix = view.heatmap.matrix.matrix
        assert matrix.shape == expected.shape
        np.testing.assert_array_equal(matrix[allowed], expected[allowed])
        assert np.isnan(matrix[~allowed]).all()
        np.testing.assert_allclose(np.nansum(matrix[real], axis=1), 1.0, atol=1e-5)
        z = np.array(view.heatmap.figure.data[0].z, dtype=float)
        np.testing.assert_allclose(z[allowed], expected[allowed], atol=1e-4)  # rounded to 4 places
        assert np.isnan(z[~allowed]).all()
        if causal:  # nothing above the diagonal, in the model's weights and on screen
            assert (expected[above] == 0).all()
            assert np.isnan(matrix[above]).all()
        if family.family.model_type == "albert":  # step by step not supported: a Note, not an exception
            assert view.steps is None
            assert "not available for 'albert'" in view.steps_note.text
            continue
        steps = view.steps
        assert steps is not None and view.steps_note is None
        assert np.abs(steps.steps.weights[real] - expected[real]).max() < 1e-5
        assert steps.same and steps.agreement.kind == "success" and "the same" in steps.agreement.text
        if causal:
            assert (steps.steps.weights[above] == 0).all()


def test_step_by_step_agrees_for_every_layer_and_head(family, batch):
    """The same recomputation the View draws, for every head (no figures: fast)."""
    loaded, encoding, run = batch
    if family.family.model_type == "albert":
        pytest.skip("step by step is not supported for ALBERT (a Note: checked above)")
    for sentence in (0, 1):
        real = encoding.attention_mask[sentence].astype(bool)
        for layer in range(family.family.layers):
            for head in range(family.family.heads):
                steps = attention_steps(loaded, run, encoding, layer=layer, head=head, sentence=sentence)
                expected = run.attentions[layer, sentence, head]
                assert np.abs(steps.weights[real] - expected[real]).max() < 1e-5, (sentence, layer, head)


def test_averages_and_hidden_positions(family, batch):
    loaded, encoding, run = batch
    causal = family.family.kind == "decoder"
    allowed = _allowed(encoding, 0, causal)
    view = _build(batch, sentence=0, layer=2, aggregate="head average")
    np.testing.assert_allclose(
        view.heatmap.matrix.matrix[allowed], run.attentions[1, 0].mean(0)[allowed], atol=1e-6
    )
    assert view.heatmap.figure.layout.title.text == f"Layer 2, average of {family.family.heads} heads"
    view = _build(batch, sentence=0, aggregate="layer average")
    np.testing.assert_allclose(
        view.heatmap.matrix.matrix[allowed], run.attentions[:, 0].mean((0, 1))[allowed], atol=1e-6
    )
    special_ids = set(loaded.batch_tokenizer.all_special_ids)
    keep = [
        p
        for p, (token_id, mask) in enumerate(
            zip(encoding.input_ids[0], encoding.attention_mask[0], strict=True)
        )
        if mask and int(token_id) not in special_ids
    ]
    view = _build(batch, sentence=0, hide_special=True, show_padding=False)
    assert list(view.heatmap.matrix.query_positions) == list(view.heatmap.matrix.key_positions) == keep
    np.testing.assert_array_equal(
        np.nan_to_num(view.heatmap.matrix.matrix, nan=-1),
        np.nan_to_num(np.where(allowed, run.attentions[0, 0, 0], np.nan)[np.ix_(keep, keep)], nan=-1),
    )


def test_multi_head_sentence_has_the_models_sizes(family, batch):
    loaded, encoding, run = batch
    if family.family.model_type == "albert":
        pytest.skip("step by step is not supported for ALBERT (checked above)")
    H, KV, d, D = _heads_and_head_dim(loaded)
    assert (H, KV, d, D) == (
        family.family.heads,
        family.family.kv_heads,
        family.family.head_dim,
        family.family.hidden,
    )
    view = _build(batch, layer=2, head=3)
    assert H == 4  # the matrix's heads: head 3 shares K/V head 1 with head 2 when KV = 2
    text = view.steps.multi_head.text
    assert f"all {H} heads" in text and f"{H} slices of {d} dimensions" in text
    assert f"{H} × {d} = {H * d}" in text
    if H * d == D:
        assert f"→ [{H}, " in text and "not the hidden size" not in text
    else:  # Qwen3: 4 × 16 = 64, the hidden size is 32
        assert f"not the hidden size {D}" in text and f"[{D}] → [{H}" not in text
        assert f"back to the hidden size, [{encoding.shape[1]}, {D}]" in text
    if KV != H:
        assert f"only {KV} heads" in text and f"shared by {H // KV} query heads" in text
        assert "grouped-query attention" in view.steps.project.text
    else:
        assert "grouped-query" not in text
    S = encoding.shape[1]
    assert f"[{S}, {d}]" in view.steps.project.text
    assert view.steps.steps.q.shape == (S, d) and view.steps.steps.k.shape == (S, d)


def test_no_false_arithmetic_or_foreign_special_tokens(family, batch):
    loaded, encoding, run = batch
    specials = set(loaded.tokenizer.all_special_tokens) | set(loaded.batch_tokenizer.all_special_tokens)
    views = [_build(batch, sentence=0, layer=2, head=1), _build(batch, sentence=1, layer=1, head=1)]
    for sentence, view in enumerate(views):
        for text in note_texts(view) + note_texts(_build(batch, sentence=1, bertviz="head view")):
            for a, b, c in re.findall(r"(\d+) × (\d+) = (\d+)", text):
                assert int(a) * int(b) == int(c), text
            for name in SPECIAL_NAMES:
                assert name not in text or name in specials, (name, text)
        assert (view.causal is not None) == (family.family.kind == "decoder")
        padded = not encoding.attention_mask[sentence].all()
        assert (view.padding is not None) == padded


def test_entropy_grid_and_position(family, batch):
    loaded, encoding, run = batch
    view = _build(batch, sentence=0)
    real = encoding.attention_mask[0].astype(bool)
    rows = run.attentions[:, 0][:, :, real][..., real].astype(np.float64)  # [L, H, T, T]
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.nansum(np.where(rows > 0, rows * np.log2(rows), 0.0), axis=-1).mean(-1)  # [L, H]
    np.testing.assert_allclose(view.entropy, entropy, atol=1e-4)
    assert view.entropy.shape == (family.family.layers, family.family.heads)
    assert view.position.text.text
    if family.family.max_positions is not None:  # learned table or rotary: a figure
        assert view.position.figure is not None


def test_bertviz_view_and_its_window(family, batch, monkeypatch):
    loaded, encoding, run = batch
    real = int(encoding.attention_mask[1].sum())
    view = _build(batch, sentence=1, bertviz="head view")
    assert view.bertviz.html and "window.d3" in view.bertviz.html and not view.bertviz.windowed
    assert view.bertviz.height == 120 + 24 * real
    view = _build(batch, sentence=1, bertviz="model view")
    assert view.bertviz.html and view.bertviz.height == 80 + 100 * family.family.layers
    # A small budget forces a window: its range comes from the View, the start is clamped to it.
    small = functools.partial(bertviz_html.plan_view, budget=family.family.heads * 16)
    monkeypatch.setattr(attention, "plan_view", small)
    view = _build(batch, cache=False, sentence=1, bertviz="head view", window=10_000)
    width = 4  # plan_view's smallest window
    assert view.bertviz.windowed and (view.bertviz.window_low, view.bertviz.window_high) == (0, real - width)
    assert view.bertviz.window_start == real - width == view.settings.window
    assert "too many to draw" in view.bertviz.note.text


def test_step_figures_show_at_most_48_positions(family, batch):
    loaded, _, _ = batch
    if family.family.model_type == "albert":
        pytest.skip("step by step is not supported for ALBERT")
    encoding = encode_batch(loaded.batch_tokenizer, (" ".join(["token"] * 80),), max_length=loaded.max_tokens)
    run = run_model(loaded, encoding, hidden_states=True, attentions=True)
    S = encoding.shape[1]
    assert S > attention.STEP_WINDOW
    view = attention.build(loaded, encoding, run, attention.Settings(bertviz="off", steps=True))
    d = family.family.head_dim
    assert np.array(view.steps.projections[0][1].data[0].z).shape == (48, d)
    assert np.array(view.steps.masked_figure.data[0].z).shape == (48, 48)
    assert np.array(view.steps.weights_figure.data[0].z).shape == (48, 48)
    assert f"all {S} positions" in view.steps.window_note.text


# --- One layer numbering: embeddings, then layer 1 … L ---------------------------------------


def _figure_labels(figure) -> list[str]:
    """Every label a Plotly figure shows: its title, axis titles and tick labels."""
    layout = figure.layout
    labels = [layout.title.text or "", layout.xaxis.title.text or "", layout.yaxis.title.text or ""]
    for trace in figure.data:
        for axis in ("x", "y"):
            values = getattr(trace, axis, None)
            if values is not None:
                labels += [str(v) for v in values]
    return labels


def _bertviz_params(html: str) -> dict:
    """The parameters our bertviz page hands to bertviz's script (the JSON after 'const params =')."""
    import json

    start = html.index('{"attention"')
    params, _ = json.JSONDecoder().raw_decode(html, start)
    return params


def test_layers_are_numbered_from_1_everywhere(family, batch):
    loaded, encoding, run = batch
    L, H = family.family.layers, family.family.heads
    assert attention.choices(run, encoding) == attention.Choices(tuple(range(1, L + 1)), tuple(range(H)))
    assert attention.Settings().layer == 1
    for layer in range(1, L + 1):
        view = _build(batch, sentence=1, layer=layer, head=0, bertviz="head view")
        texts = note_texts(view)
        figures_ = [view.heatmap.figure, view.entropy_figure]
        if view.steps is not None:
            figures_ += [f for _, f in view.steps.projections] + [view.steps.weights_figure]
            intro = view.steps.intro.text
            assert f"Layer {layer}, head 0, sentence 1" in intro
            if layer == 1:
                assert "hidden_states[0] (the embeddings)" in intro
            else:
                assert f"hidden_states[{layer - 1}] (the output of layer {layer - 1})" in intro
            assert f"for layer {layer}, head 0 (`outputs.attentions[{layer - 1}][1, 0]`)" in (
                view.steps.agreement.text
            )
        for text in texts + [label for f in figures_ for label in _figure_labels(f)]:
            assert not re.search(r"\blayer 0\b", text, re.IGNORECASE), text
        # bertviz: its menu and rows show the indices it is given: layers 1 … L; weights by order
        params = _bertviz_params(view.bertviz.html)
        assert params["include_layers"] == list(range(1, L + 1)) and params["layer"] == layer
        real = encoding.attention_mask[1].astype(bool)
        attn = _dense(params["attention"][0])  # [L, H, T, T]
        expected = run.attentions[:, 1][:, :, real][..., real]  # [L, H, T, T]
        np.testing.assert_allclose(attn, _visible(expected), atol=5e-4)  # rounded to 3 places
        assert "1 … L" in view.bertviz.caption.text
    grid = view.entropy_figure.data[0]
    assert list(grid.y) == [f"layer {layer}" for layer in range(1, L + 1)]
    assert list(grid.x) == [f"head {h}" for h in range(H)]
    assert "layer l (1 … " in view.numbering.text and "Heads are numbered from 0" in view.numbering.text
    model_view = _build(batch, sentence=1, bertviz="model view")
    assert _bertviz_params(model_view.bertviz.html)["include_layers"] == list(range(1, L + 1))


@pytest.mark.parametrize("layer", [0, -1, "L+1"])
def test_an_out_of_range_layer_falls_back_to_layer_1(family, batch, layer):
    loaded, encoding, run = batch
    L = family.family.layers
    value = L + 1 if layer == "L+1" else layer
    view = _build(batch, sentence=0, layer=value, head=1)
    assert view.settings.layer == 1
    np.testing.assert_array_equal(
        np.nan_to_num(view.heatmap.matrix.matrix, nan=-1),
        np.nan_to_num(
            np.where(_allowed(encoding, 0, family.family.kind == "decoder"), run.attentions[0, 0, 1], np.nan),
            nan=-1,
        ),
    )


def test_a_windowed_head_view_names_the_layer_by_its_number(family, batch, monkeypatch):
    loaded, encoding, run = batch
    L, H = family.family.layers, family.family.heads
    keep = encoding.attention_mask[1].astype(bool)
    # a budget that fits the visible weights of one layer but not of all layers: "shows layer l only"
    visible = [int((run.attentions[layer, 1][:, keep][..., keep] >= THRESHOLD).sum()) for layer in range(L)]
    assert sum(visible) > visible[L - 1]
    small = functools.partial(bertviz_html.plan_view, budget=visible[L - 1])
    monkeypatch.setattr(attention, "plan_view", small)
    view = _build(batch, cache=False, sentence=1, layer=L, bertviz="head view")
    assert f"shows layer {L} only" in view.bertviz.note.text and view.bertviz.follows_layer
    assert (view.bertviz.kept, view.bertviz.total) == (visible[L - 1], H * int(keep.sum()) ** 2)
    params = _bertviz_params(view.bertviz.html)
    assert params["include_layers"] == [L] and params["layer"] == L
    np.testing.assert_allclose(
        _dense(params["attention"][0])[0], _visible(run.attentions[L - 1, 1][:, keep][..., keep]), atol=5e-4
    )


# --- Where position comes from ------------------------------------------------------------------

POSITION_KIND = {  # model_type -> what the family uses (the real checkpoints of that family too)
    "bert": "learned absolute embeddings",
    "distilbert": "learned absolute embeddings",
    "roberta": "learned absolute embeddings",
    "albert": "learned absolute embeddings",
    "gpt2": "learned absolute embeddings",
    "llama": "rotary (RoPE)",
    "qwen3": "rotary (RoPE)",
    "t5": "relative position biases",
    "bart": "learned absolute embeddings",
}


def _sinusoids(P: int, d: int) -> np.ndarray:
    """The original transformer's PE, written from the paper's formula one value at a time."""
    pe = np.zeros((P, d))
    for pos in range(P):
        for j in range(d):
            i = j // 2
            angle = pos / 10000 ** (2 * i / d)
            pe[pos, j] = np.sin(angle) if j % 2 == 0 else np.cos(angle)
    return pe


def test_position_info_names_the_kind_and_uses_the_right_rows(family):
    from explorer.explain import model_info

    loaded = family.loaded
    assert loaded is not None, family.load_error
    position = model_info.position_info(loaded, positions=16)
    kind = POSITION_KIND[family.family.model_type]
    assert position.kind == kind
    uses = {
        "learned absolute embeddings": "learned absolute position embeddings",
        "rotary (RoPE)": "rotary position embeddings",
        "relative position biases": "relative position biases",
    }[kind]
    assert f"This model ({type(loaded.model).__name__}) uses {uses}" in position.uses
    d = loaded.config.d_model if family.family.kind == "encoder-decoder" else family.family.hidden
    np.testing.assert_allclose(position.sinusoidal, _sinusoids(position.sinusoidal.shape[0], d), atol=1e-12)
    assert f"d = {d}" in position.sinusoidal_text
    if kind == "learned absolute embeddings":
        base = loaded.model.base_model
        embeddings = getattr(base, "embeddings", None)
        if embeddings is not None:  # BERT, RoBERTa, DistilBERT, ALBERT
            table = embeddings.position_embeddings.weight
        elif hasattr(base, "wpe"):  # GPT-2
            table = base.wpe.weight
        else:  # BART: the encoder's table (the decoder has its own)
            table = base.encoder.embed_positions.weight
        table = table.detach().numpy()
        first = family.family.position_offset  # RoBERTa: padding_idx + 1 = 2, else 0
        if family.family.model_type == "roberta":
            padding = loaded.config.pad_token_id
            assert first == padding + 1 == embeddings.padding_idx + 1
            assert (
                f"row {first} + i" in position.explanation
                and "position i adds row i" not in position.explanation
            )
            assert f"Row {padding} (padding_idx) is the padding row" in position.explanation
            assert "Row 0 is never used" in position.explanation
        elif family.family.model_type == "bart":  # positions start 2 rows into each table
            assert first == 2 and f"row {first} + i" in position.explanation
            assert "the encoder and the decoder each have their own table" in position.explanation
        else:
            assert "adds row i" in position.explanation
        P = 16
        np.testing.assert_array_equal(position.rows, np.arange(first, first + P))
        used = table[first : first + P]
        unit = used / np.linalg.norm(used, axis=1, keepdims=True)
        np.testing.assert_allclose(position.similarity, unit @ unit.T, atol=1e-5)
    elif kind == "rotary (RoPE)":
        frequencies = loaded.model.base_model.rotary_emb.inv_freq.numpy()
        np.testing.assert_allclose(position.angles, np.arange(16)[:, None] * frequencies[None, :], rtol=1e-6)
        assert position.similarity is None
    else:  # T5: a bias per relative distance, no table, no rotation
        assert position.similarity is None and position.angles is None
        assert f"{loaded.config.relative_attention_num_buckets} buckets" in position.explanation


def test_position_section_of_the_view(family, batch):
    loaded, encoding, run = batch
    view = _build(batch, sentence=0)
    position = view.position
    kind = POSITION_KIND[family.family.model_type]
    assert position.text.text.startswith(f"**{kind}.**")
    assert position.figure is not None and position.sinusoidal_figure is not None
    z = np.array(position.sinusoidal_figure.data[0].z, dtype=float)  # [P, d]
    np.testing.assert_allclose(z, _sinusoids(z.shape[0], family.family.hidden), atol=1e-4)
    if family.family.model_type == "roberta":
        first = family.family.position_offset
        assert list(position.figure.data[0].y[:2]) == [f"0 (row {first})", f"1 (row {first + 1})"]
        assert f"(rows {first} … " in position.figure.layout.title.text
    elif kind == "learned absolute embeddings":
        assert list(position.figure.data[0].y[:2]) == ["0", "1"]


# --- Computed only when opened; the page's parts ---------------------------------------------------


def test_step_by_step_and_position_are_computed_only_once_opened(family, batch, monkeypatch):
    loaded, encoding, run = batch
    calls = []
    monkeypatch.setattr(attention, "attention_steps", lambda *a, **k: calls.append(1))
    monkeypatch.setattr(attention.info, "position_info", lambda *a, **k: calls.append(2))
    closed = attention.build(loaded, encoding, run, attention.Settings(bertviz="off", steps=False))
    assert closed.steps is None and closed.steps_note is None and calls == []
    assert closed.position is None and closed.position_note is None  # the position section: closed too
    assert (
        attention.head(loaded, encoding, run, attention.Settings(steps=False)).steps is None and calls == []
    )


def test_the_pages_parts_are_the_views(family, batch):
    """overview (drawn with the page), head (its layer-and-head fragment) and bertviz_view (its
    bertviz fragment) hold what build() holds, for the same settings."""
    loaded, encoding, run = batch
    L = family.family.layers
    settings = attention.Settings(sentence=1, layer=L, head=1, bertviz="head view", steps=True)
    view = _build(batch, **{k: getattr(settings, k) for k in ("sentence", "layer", "head", "bertviz")})
    one = attention.head(loaded, encoding, run, settings)
    assert one.settings.layer == L and one.heatmap.matrix.title == view.heatmap.matrix.title
    np.testing.assert_array_equal(
        np.nan_to_num(one.heatmap.matrix.matrix, nan=-1), np.nan_to_num(view.heatmap.matrix.matrix, nan=-1)
    )
    assert (one.steps is None) == (view.steps is None)
    overview = attention.overview(loaded, encoding, run, settings)
    np.testing.assert_array_equal(overview.entropy, view.entropy)
    assert overview.numbering == view.numbering and overview.padding == view.padding
    assert (
        attention.bertviz_view(run, encoding, attention.clamp(run, encoding, settings)).html
        == view.bertviz.html
    )


def test_bertviz_draws_every_token_and_states_the_threshold(family, batch):
    loaded, encoding, run = batch
    L, H = family.family.layers, family.family.heads
    keep = encoding.attention_mask[1].astype(bool)
    T = int(keep.sum())
    weights = run.attentions[:, 1][:, :, keep][..., keep]  # [L, H, T, T]
    view = _build(batch, sentence=1, bertviz="head view")
    params = _bertviz_params(view.bertviz.html)
    assert len(params["attention"][0]["left_text"]) == T and params["include_layers"] == list(range(1, L + 1))
    visible = int((weights >= 0.02).sum())
    assert (view.bertviz.kept, view.bertviz.total) == (visible, L * H * T * T)
    assert not view.bertviz.follows_layer  # all layers: the page's layer changes need not redraw it
    caption = view.bertviz.caption.text
    assert "Lines for weights below 0.02 are left out" in caption
    assert f"{visible:,} of {L * H * T * T:,} weights drawn" in caption


def test_the_model_view_is_offered_up_to_a_token_limit(family, batch, monkeypatch):
    loaded, encoding, run = batch
    T = int(encoding.attention_mask[1].sum())
    monkeypatch.setattr(attention, "MODEL_VIEW_TOKENS", T - 1)
    view = _build(batch, cache=False, sentence=1, bertviz="model view")
    assert (
        view.bertviz.html is None and f"up to {T - 1} tokens, and this one has {T}" in view.bertviz.note.text
    )
    monkeypatch.setattr(attention, "MODEL_VIEW_TOKENS", T)
    view = _build(batch, cache=False, sentence=1, bertviz="model view")
    assert view.bertviz.html is not None and view.bertviz.note is None

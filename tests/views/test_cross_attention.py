"""The Attention page for encoder-decoders (T5, and BART when its family exists): encoder
self-attention, decoder causal self-attention and cross-attention, and bertviz's encoder-decoder
views, each checked against the attentions the model returns from a forward pass made here.

The run is built in this test from a direct forward pass (``output_attentions=True``) of the
model loaded with ``AutoModelForSeq2SeqLM`` and eager attention, so the expected weights never
come from the code under test. Layers are numbered 1 … L per stack, heads from 0.
"""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest

from explorer.drawing.bertviz_html import THRESHOLD
from explorer.explain.attention import attention_parts
from explorer.pipeline.encoding import encode_batch
from explorer.pipeline.run import run_model
from explorer.views import attention
from tests.families import NAMES, build_and_load
from tests.view_contents import note_texts
from tests.views.bertviz_expected import dense as _dense
from tests.views.bertviz_expected import visible as _visible

# The first is shorter: it is padded, so the encoder has padding keys.
SENTENCES = (
    "summarize: The cat sat.",
    "translate English to German: attention lets every token look at every other token.",
)
ENCODER_DECODERS = tuple(name for name in ("t5", "bart") if name in NAMES)
CDN = re.compile(r"cdnjs|cdn\.|jsdelivr|unpkg|require\.min\.js", re.IGNORECASE)


def _loads_from_outside(html: str) -> list[str]:
    """Markup outside the inline scripts that would fetch something (src= or href=), and any CDN
    name anywhere (the inlined libraries' comments name web addresses but load nothing)."""
    markup = re.sub(r"<script>.*?</script>", "", html, flags=re.DOTALL)
    return re.findall(r"\b(?:src|href)\s*=", markup, re.IGNORECASE) + CDN.findall(html)


def _stack(tensors) -> np.ndarray:
    import torch

    return torch.stack(tuple(tensors)).float().numpy()


def _direct_forward(folder, encoding, decoder_input_ids, decoder_attention_mask=None):
    """The model read straight from the folder (AutoModelForSeq2SeqLM, eager attention) and one
    forward pass with output_attentions=True: the weights every test compares against."""
    import torch
    from transformers import AutoModelForSeq2SeqLM

    model = AutoModelForSeq2SeqLM.from_pretrained(folder, attn_implementation="eager").eval()
    with torch.inference_mode():
        return model, model(
            input_ids=torch.from_numpy(np.array(encoding.input_ids)),
            attention_mask=torch.from_numpy(np.array(encoding.attention_mask)),
            decoder_input_ids=torch.from_numpy(np.array(decoder_input_ids)),
            decoder_attention_mask=None
            if decoder_attention_mask is None
            else torch.from_numpy(np.array(decoder_attention_mask)),
            output_attentions=True,
            use_cache=False,
            return_dict=True,
        )


@pytest.fixture(scope="module", params=ENCODER_DECODERS)
def seq2seq(request, tmp_path_factory):
    """(name, loaded, encoding, run, output): a tiny encoder-decoder loaded by the app, the app's
    run (greedy output, then encoder and decoder attentions), and the attentions returned by a
    forward pass made here with the model read directly, on the same decoder input."""
    import torch

    name = request.param
    built = build_and_load(name, tmp_path_factory.mktemp(f"seq2seq-{name}"))
    assert built.loaded is not None, built.load_error
    loaded = built.loaded
    encoding = encode_batch(loaded.batch_tokenizer, SENTENCES, max_length=loaded.max_tokens)
    assert not encoding.attention_mask[0].all()  # the first sentence is padded
    run = run_model(loaded, encoding, hidden_states=True, attentions=True)
    model, output = _direct_forward(built.folder, encoding, run.decoder_input_ids, run.decoder_attention_mask)
    # The decoder input is the start token, then the greedy output: generate() here agrees.
    with torch.inference_mode():
        generated = model.generate(
            input_ids=torch.from_numpy(np.array(encoding.input_ids)),
            attention_mask=torch.from_numpy(np.array(encoding.attention_mask)),
            do_sample=False,
            num_beams=1,
            max_new_tokens=run.decoder_input_ids.shape[1],
        )
    for b in range(len(SENTENCES)):
        real = run.decoder_attention_mask[b].astype(bool)
        assert run.decoder_input_ids[b][real].tolist() == generated[b, : int(real.sum())].tolist()
    assert int(run.decoder_input_ids[0, 0]) == model.generation_config.decoder_start_token_id
    return name, loaded, encoding, run, output


def _build(seq2seq, **values):
    _, loaded, encoding, run, _ = seq2seq
    return attention.build(
        loaded,
        encoding,
        run,
        attention.Settings(**{"bertviz": "off", "steps": True, "position": True, **values}),
    )


def _returned(output, part: str) -> np.ndarray:
    """The model's own returned weights for a part, [L, B, H, Q, K], from the forward pass here."""
    tensors = {
        "encoder self-attention": output.encoder_attentions,
        "decoder self-attention": output.decoder_attentions,
        "cross-attention": output.cross_attentions,
    }[part]
    return np.stack([t.float().numpy() for t in tensors])


def test_the_run_holds_the_three_attentions_with_the_contracts_shapes(seq2seq):
    _, loaded, encoding, run, _ = seq2seq
    B, S = encoding.shape
    T = run.decoder_input_ids.shape[1]
    config = loaded.config
    L_enc = getattr(config, "num_layers", None) or config.encoder_layers
    L_dec = getattr(config, "num_decoder_layers", None) or config.decoder_layers
    H = getattr(config, "num_heads", None) or config.encoder_attention_heads
    assert run.attentions.shape == (L_enc, B, H, S, S)
    assert run.decoder_attentions.shape == (L_dec, B, H, T, T)
    assert run.cross_attentions.shape == (L_dec, B, H, T, S)
    assert attention.is_encoder_decoder(run, encoding)
    assert attention.choices(run, encoding) == attention.Choices(
        tuple(range(1, L_enc + 1)), tuple(range(H)), attention.PARTS
    )
    assert attention.choices(run, encoding, "cross-attention").layers == tuple(range(1, L_dec + 1))


def test_an_encoder_decoder_run_has_three_attention_parts(seq2seq):
    """bertviz's record for each: the weights, the query and key tokens, what is real and causal."""
    _, loaded, encoding, run, _ = seq2seq
    specials = frozenset(loaded.tokenizer.all_special_tokens)
    parts = attention_parts(run, encoding, special_tokens=specials)
    assert tuple(p.name for p in parts) == attention.PARTS
    encoder, decoder, cross = parts
    assert encoder.weights is run.attentions and decoder.weights is run.decoder_attentions
    assert cross.weights is run.cross_attentions
    written = tuple(tuple(row) for row in run.decoder_tokens)
    assert encoder.query_tokens == encoder.key_tokens == cross.key_tokens == encoding.tokens
    assert decoder.query_tokens == decoder.key_tokens == cross.query_tokens == written
    assert (encoder.query_side, decoder.query_side, cross.query_side) == ("encoder", "decoder", "decoder")
    assert (encoder.key_side, decoder.key_side, cross.key_side) == ("encoder", "decoder", "encoder")
    assert [p.causal for p in parts] == [False, True, False]
    real = encoding.attention_mask.astype(bool)  # [B, S]
    np.testing.assert_array_equal(cross.key_real, real)
    np.testing.assert_array_equal(cross.query_real, run.decoder_attention_mask.astype(bool))
    assert cross.query_special[0, 0] == (written[0][0] in specials)  # the decoder start token
    T = run.decoder_input_ids.shape[1]
    np.testing.assert_array_equal(decoder.allowed(0), np.tril(np.ones((T, T), bool)) & cross.query_real[0])
    np.testing.assert_array_equal(cross.allowed(0), np.repeat(real[0][None], T, axis=0))


@pytest.mark.parametrize("sentence", [0, 1])
def test_cross_attention_heatmap_is_the_models_cross_attentions(seq2seq, sentence):
    _, loaded, encoding, run, output = seq2seq
    returned = _returned(output, "cross-attention")  # [L_dec, B, H, T, S]
    L, _, H, T, S = returned.shape
    real = encoding.attention_mask[sentence].astype(bool)  # [S]
    for layer in range(1, L + 1):
        for head in range(H):
            view = _build(seq2seq, part="cross-attention", sentence=sentence, layer=layer, head=head)
            expected = returned[layer - 1, sentence, head]  # [T, S]
            matrix = view.heatmap.matrix.matrix
            assert matrix.shape == (T, S)
            np.testing.assert_allclose(matrix[:, real], expected[:, real], atol=1e-6)
            assert np.isnan(matrix[:, ~real]).all()  # padding keys: masked on screen
            assert (expected[:, ~real] == 0).all()  # … because the model gives them exactly 0
            np.testing.assert_allclose(expected[:, real].sum(-1), 1.0, atol=1e-5)  # rows sum to 1
            np.testing.assert_allclose(np.nansum(matrix, axis=1), 1.0, atol=1e-5)
            z = np.array(view.heatmap.figure.data[0].z, dtype=float)
            np.testing.assert_allclose(z[:, real], expected[:, real], atol=1e-4)
            assert (
                view.heatmap.figure.layout.title.text
                == f"Decoder layer {layer}, head {head}: cross-attention"
            )
            assert view.heatmap.figure.layout.yaxis.title.text.startswith("decoder token")
            assert view.heatmap.figure.layout.xaxis.title.text.startswith("encoder token")
            assert list(view.heatmap.matrix.query_tokens) == list(run.decoder_tokens[sentence])
            assert list(view.heatmap.matrix.key_tokens) == list(encoding.tokens[sentence])
    assert "rows are the decoder's tokens" in view.part_note.text
    assert "columns the encoder's tokens" in view.part_note.text and "sums to 1" in view.part_note.text


def test_decoder_self_attention_is_causal_and_the_models(seq2seq):
    _, _, _, run, output = seq2seq
    returned = _returned(output, "decoder self-attention")  # [L_dec, B, H, T, T]
    L, B, H, T, _ = returned.shape
    above = np.triu_indices(T, 1)
    for sentence in range(B):
        for layer in range(1, L + 1):
            for head in range(H):
                view = _build(
                    seq2seq, part="decoder self-attention", sentence=sentence, layer=layer, head=head
                )
                expected = returned[layer - 1, sentence, head]  # [T, T]
                matrix = view.heatmap.matrix.matrix
                assert (expected[above] == 0).all()
                assert np.isnan(matrix[above]).all()
                below = np.tril_indices(T)
                np.testing.assert_allclose(matrix[below], expected[below], atol=1e-6)
                np.testing.assert_allclose(np.nansum(matrix, axis=1), 1.0, atol=1e-5)
    assert view.causal is not None and "causal mask" in view.causal.text
    assert view.heatmap.figure.layout.title.text == f"Decoder layer {L}, head {H - 1}: self-attention"


def test_encoder_self_attention_is_the_default_and_the_models(seq2seq):
    _, _, encoding, run, output = seq2seq
    returned = _returned(output, "encoder self-attention")  # [L_enc, B, H, S, S]
    assert attention.Settings().part == "encoder self-attention"
    real = encoding.attention_mask[0].astype(bool)
    for layer in range(1, returned.shape[0] + 1):
        view = _build(seq2seq, sentence=0, layer=layer, head=1)
        assert view.part == "encoder self-attention" and view.causal is None
        matrix = view.heatmap.matrix.matrix
        np.testing.assert_allclose(matrix[:, real], returned[layer - 1, 0, 1][:, real], atol=1e-6)
        assert np.isnan(matrix[:, ~real]).all()
        assert view.padding is not None  # sentence 0 is padded
        assert view.heatmap.figure.layout.title.text == f"Encoder layer {layer}, head 1: self-attention"


def test_averages_entropy_and_hidden_positions(seq2seq):
    _, loaded, encoding, run, output = seq2seq
    returned = _returned(output, "cross-attention")
    real = encoding.attention_mask[0].astype(bool)
    view = _build(seq2seq, part="cross-attention", sentence=0, layer=2, aggregate="head average")
    np.testing.assert_allclose(
        view.heatmap.matrix.matrix[:, real], returned[1, 0].mean(0)[:, real], atol=1e-6
    )
    view = _build(seq2seq, part="cross-attention", sentence=0, show_padding=False, hide_special=True)
    keep = [
        p
        for p in range(encoding.shape[1])
        if encoding.attention_mask[0, p] and not encoding.special_tokens_mask[0, p]
    ]
    assert list(view.heatmap.matrix.key_positions) == keep
    specials = set(loaded.tokenizer.all_special_tokens)
    rows = [t for t, token in enumerate(run.decoder_tokens[0]) if token not in specials]
    assert list(view.heatmap.matrix.query_positions) == rows
    np.testing.assert_allclose(view.heatmap.matrix.matrix, returned[0, 0, 0][np.ix_(rows, keep)], atol=1e-6)
    # entropy grid of the cross-attention: rows over the real encoder keys
    weights = returned[:, 0][..., real].astype(np.float64)  # [L, H, T, Te]
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = -np.nansum(np.where(weights > 0, weights * np.log2(weights), 0.0), axis=-1).mean(-1)
    np.testing.assert_allclose(view.entropy, expected, atol=1e-4)


def test_downloads_hold_the_rectangular_matrix(seq2seq):
    _, _, encoding, run, output = seq2seq
    view = _build(seq2seq, part="cross-attention", sentence=1, layer=1, head=0)
    csv_text, json_text = (download.data() for download in view.heatmap.downloads)
    data = json.loads(json_text)
    T, S = run.cross_attentions.shape[3:]
    assert len(data["weights"]) == T and len(data["weights"][0]) == S
    assert data["queries"]["side"] == "decoder" and data["keys"]["side"] == "encoder"
    np.testing.assert_allclose(
        np.array(data["weights"], dtype=float), _returned(output, "cross-attention")[0, 1, 0], atol=1e-6
    )
    assert len(csv_text.strip().splitlines()) == T + 1


def _bertviz_params(html: str) -> dict:
    start = html.index('{"attention"')
    params, _ = json.JSONDecoder().raw_decode(html, start)
    return params


@pytest.mark.parametrize("kind", ["head view", "model view"])
@pytest.mark.parametrize("part", list(attention.PARTS))
def test_bertviz_encoder_decoder_view_is_offline_with_three_parts(seq2seq, kind, part):
    _, _, encoding, run, output = seq2seq
    view = _build(seq2seq, part=part, sentence=0, layer=2, bertviz=kind)
    html = view.bertviz.html
    assert html and "window.d3" in html and "window.jQuery" in html
    assert html.count("</script>") == 4  # inline only: jQuery, d3, the require shim, bertviz
    assert _loads_from_outside(html) == []
    params = _bertviz_params(html)
    parts = params["attention"]
    assert [p["name"] for p in parts] == ["Encoder", "Decoder", "Cross"]
    assert params["default_filter"] == str(attention.PARTS.index(part))
    real = encoding.attention_mask[0].astype(bool)
    Te, T = int(real.sum()), run.decoder_input_ids.shape[1]
    L_enc, L_dec = run.attentions.shape[0], run.decoder_attentions.shape[0]
    assert params["include_layers"] == list(range(1, min(L_enc, L_dec) + 1))
    encoder, decoder, cross = (_dense(p) for p in parts)
    H = run.attentions.shape[2]
    assert encoder.shape == (L_enc, H, Te, Te)
    assert decoder.shape == (L_dec, H, T, T)
    assert cross.shape == (L_dec, H, T, Te)
    visible = {name: _visible(_returned(output, name)[:, 0]) for name in attention.PARTS}
    np.testing.assert_allclose(cross, visible["cross-attention"][..., real], atol=5e-4)
    np.testing.assert_allclose(decoder, visible["decoder self-attention"], atol=5e-4)
    np.testing.assert_allclose(encoder, visible["encoder self-attention"][:, :, real][..., real], atol=5e-4)
    assert len(parts[2]["left_text"]) == T and len(parts[2]["right_text"]) == Te
    assert '<select id="filter">' in html
    if kind == "head view":
        assert params["layer"] == 2
    assert "Cross" in view.bertviz.caption.text and "offline" in view.bertviz.caption.text


def test_steps_and_position_are_notes_and_numbering_names_both_stacks(seq2seq):
    _, loaded, _, run, _ = seq2seq
    for part in ("encoder self-attention", "decoder self-attention"):
        view = _build(seq2seq, part=part)
        assert view.steps is None and "not available yet" in view.steps_note.text
    view = _build(seq2seq, part="cross-attention")
    assert view.steps is not None and view.steps_note is None
    assert view.position is not None or view.position_note is not None
    L_enc, L_dec = run.attentions.shape[0], run.decoder_attentions.shape[0]
    assert f"encoder layers 1 … {L_enc}" in view.numbering.text
    assert f"decoder layers 1 … {L_dec}" in view.numbering.text
    assert view.heading == f"Cross-attention (decoder layers 1 … {L_dec})"
    assert _build(seq2seq).heading == f"Encoder self-attention (encoder layers 1 … {L_enc})"
    # an out-of-range layer falls back to layer 1, as elsewhere
    view = _build(seq2seq, part="decoder self-attention", layer=L_dec + 1)
    assert view.settings.layer == 1


def test_decoder_padding_is_masked_as_keys_and_can_be_hidden(seq2seq):
    """A batch whose first output is shorter: its decoder ends in padding (right side), which the
    decoder attention mask hides as keys. The run is the app's with the decoder input padded here,
    its weights from a forward pass made here."""
    name, loaded, encoding, run, _ = seq2seq
    T = run.decoder_input_ids.shape[1]
    assert T >= 4
    ids = np.array(run.decoder_input_ids)
    mask = np.ones_like(ids)
    mask[0, T - 2 :] = 0
    ids[0, T - 2 :] = loaded.config.pad_token_id
    _, output = _direct_forward(loaded.resolved.location, encoding, ids, mask)
    padded = dataclasses.replace(
        run,
        decoder_input_ids=ids,
        decoder_attention_mask=mask,
        decoder_tokens=tuple(tuple(loaded.tokenizer.convert_ids_to_tokens(row.tolist())) for row in ids),
        decoder_attentions=_stack(output.decoder_attentions),
        cross_attentions=_stack(output.cross_attentions),
    )
    written = mask[0].astype(bool)  # [T]
    view = attention.build(
        loaded,
        encoding,
        padded,
        attention.Settings(part="decoder self-attention", layer=1, head=0, bertviz="off"),
    )
    matrix = view.heatmap.matrix.matrix  # [T, T]
    expected = _returned(output, "decoder self-attention")[0, 0, 0]
    allowed = np.tril(np.ones((T, T), dtype=bool)) & written[None, :]
    np.testing.assert_allclose(matrix[allowed], expected[allowed], atol=1e-6)
    assert np.isnan(matrix[~allowed]).all()
    assert (expected[written][:, ~written] == 0).all()  # the model gives padding keys exactly 0
    assert "padding" in view.padding.text
    view = attention.build(
        loaded,
        encoding,
        padded,
        attention.Settings(part="cross-attention", show_padding=False, bertviz="head view"),
    )
    real = encoding.attention_mask[0].astype(bool)
    assert list(view.heatmap.matrix.query_positions) == list(np.flatnonzero(written))
    assert list(view.heatmap.matrix.key_positions) == list(np.flatnonzero(real))
    np.testing.assert_allclose(
        view.heatmap.matrix.matrix, _returned(output, "cross-attention")[0, 0, 0][written][:, real], atol=1e-6
    )
    params = _bertviz_params(view.bertviz.html)
    assert [len(p["left_text"]) for p in params["attention"]] == [int(real.sum()), T - 2, T - 2]


def test_sentences_number_layers_from_1_and_name_only_this_tokenizers_tokens(seq2seq):
    _, loaded, encoding, run, _ = seq2seq
    specials = set(loaded.tokenizer.all_special_tokens) | set(loaded.batch_tokenizer.all_special_tokens)
    names = ("[CLS]", "[SEP]", "[PAD]", "[MASK]", "<s>", "</s>", "<pad>", "<mask>", "<|endoftext|>")
    for part in attention.PARTS:
        for kind in ("head view", "model view"):
            view = _build(seq2seq, part=part, sentence=0, layer=1, bertviz=kind)
            texts = note_texts(view) + [view.heatmap.figure.layout.title.text]
            texts.append(view.entropy_figure.layout.title.text)
            for text in texts:
                assert not re.search(r"\blayer 0\b", text, re.IGNORECASE), text
                for a, b, c in re.findall(r"(\d+) × (\d+) = (\d+)", text):
                    assert int(a) * int(b) == int(c), text
                for name in names:
                    assert name not in text or name in specials, (name, text)
            grid = view.entropy_figure.data[0]
            returned = {
                "encoder self-attention": run.attentions,
                "decoder self-attention": run.decoder_attentions,
                "cross-attention": run.cross_attentions,
            }[part]  # [L, B, H, Q, K]
            L = returned.shape[0]
            assert list(grid.y) == [f"layer {layer}" for layer in range(1, L + 1)]


def test_a_long_input_shows_one_layer_or_says_why_bertviz_is_off(seq2seq, monkeypatch):
    import functools

    from explorer.drawing import bertviz_html

    _, _, encoding, run, _ = seq2seq
    real = encoding.attention_mask[0].astype(bool)
    # the visible weights (at or above the threshold) of layer 2's three attentions, sentence 0
    layer_2 = (
        run.attentions[1, 0][:, real][..., real],
        run.decoder_attentions[1, 0],
        run.cross_attentions[1, 0][..., real],
    )
    per_layer = sum(int((a >= THRESHOLD).sum()) for a in layer_2)
    one_layer = functools.partial(bertviz_html.plan_view, budget=per_layer)
    monkeypatch.setattr(attention, "plan_view", one_layer)
    view = _build(seq2seq, part="cross-attention", sentence=0, layer=2, bertviz="head view")
    assert "shows layer 2 only" in view.bertviz.note.text
    params = _bertviz_params(view.bertviz.html)
    assert params["include_layers"] == [2] and params["layer"] == 2
    np.testing.assert_allclose(
        _dense(params["attention"][2])[0], _visible(run.cross_attentions[1, 0][..., real]), atol=5e-4
    )
    view = _build(seq2seq, part="cross-attention", sentence=0, bertviz="model view")
    assert view.bertviz.html is None and "too long for bertviz" in view.bertviz.error.text
    too_small = functools.partial(bertviz_html.plan_view, budget=per_layer - 1)
    monkeypatch.setattr(attention, "plan_view", too_small)
    view = _build(seq2seq, part="cross-attention", sentence=0, layer=2, bertviz="head view")
    assert view.bertviz.html is None and "heatmaps above show every weight" in view.bertviz.error.text


def test_cross_attention_step_by_step_is_the_models(seq2seq):
    """Q from the decoder layer's input (after its own self-attention sublayer), K and V from the
    encoder's output, softmax(Q·Kᵀ × scale + mask): equal to the returned cross_attentions."""
    name, loaded, encoding, run, output = seq2seq
    returned = _returned(output, "cross-attention")  # [L_dec, B, H, T, S]
    L, B, H, T, S = returned.shape
    scale = 1.0 if name == "t5" else (loaded.config.d_model // H) ** -0.5  # T5 does not scale its scores
    for sentence in range(B):
        real = encoding.attention_mask[sentence].astype(bool)
        for layer in range(1, L + 1):
            for head in range(H):
                view = _build(seq2seq, part="cross-attention", sentence=sentence, layer=layer, head=head)
                steps = view.steps
                numbers = steps.steps
                assert numbers.q.shape == (T, numbers.head_dim) and numbers.k.shape == (S, numbers.head_dim)
                assert abs(numbers.scale - scale) < 1e-6
                np.testing.assert_allclose(
                    numbers.weights[:, real], returned[layer - 1, sentence, head][:, real], atol=1e-5
                )
                assert (numbers.weights[:, ~real] == 0).all()
                # the recomputed scores give the weights: softmax over the real encoder keys
                logits = numbers.scores[:, real] * scale
                expected = np.exp(logits - logits.max(-1, keepdims=True))
                expected /= expected.sum(-1, keepdims=True)
                np.testing.assert_allclose(numbers.weights[:, real], expected, atol=1e-5)
                assert steps.same and steps.agreement.kind == "success"
                assert f"`outputs.cross_attentions[{layer - 1}][{sentence}, {head}]`" in steps.agreement.text
    assert "encoder_last_hidden_state" in steps.intro.text
    text = steps.multi_head.text
    d = numbers.head_dim
    assert f"[{H}, {T}, {d}] queries" in text and f"[{H}, {S}, {d}] keys and values" in text
    if name == "t5":
        assert "does not scale" in steps.scale_text.text

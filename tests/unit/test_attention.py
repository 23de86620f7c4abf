import numpy as np
import pytest

from explorer.explain.attention import (
    attention_parts,
    attention_steps,
    attention_view,
    entropy,
    positions,
    real_weights,
)
from explorer.pipeline.encoding import encode_batch
from explorer.pipeline.run import run_model

BATCH = ["I've been waiting for a HuggingFace course my whole life.", "I hate this so much!"]


def _run(loaded, side="right"):
    encoding = encode_batch(loaded.batch_tokenizer, BATCH, max_length=loaded.max_tokens, padding_side=side)
    return encoding, run_model(loaded, encoding, hidden_states=True, attentions=True)


@pytest.mark.parametrize(
    "fixture", ["tiny_bert", "tiny_mlm", "tiny_classifier", "tiny_distilbert", "tiny_gpt", "tiny_llama"]
)
@pytest.mark.parametrize("sentence", [0, 1])
def test_step_by_step_matches_the_model_attention(request, fixture, sentence):
    loaded = request.getfixturevalue(fixture)
    encoding, run = _run(loaded)
    L, H = run.attentions.shape[0], run.attentions.shape[2]
    for layer in range(L):
        for head in range(H):
            steps = attention_steps(loaded, run, encoding, layer=layer, head=head, sentence=sentence)
            assert steps.max_abs_difference < 1e-5, (layer, head, steps.max_abs_difference)
            real = encoding.attention_mask[sentence].astype(bool)
            np.testing.assert_allclose(
                steps.weights[real], run.attentions[layer, sentence, head][real], atol=1e-5
            )


def test_step_by_step_shapes_and_intermediates(tiny_llama):
    encoding, run = _run(tiny_llama)
    steps = attention_steps(tiny_llama, run, encoding, layer=1, head=3, sentence=1)
    S = encoding.shape[1]
    assert steps.q.shape == steps.k.shape == steps.v.shape == (S, 8)
    assert (steps.heads, steps.key_value_heads, steps.key_value_head) == (4, 2, 1)
    assert steps.rotary
    np.testing.assert_allclose(steps.scores, steps.q @ steps.k.T, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(steps.scaled, steps.scores / np.sqrt(8), rtol=1e-5, atol=1e-6)
    assert np.isneginf(steps.masked[~steps.allowed]).all()
    assert not steps.allowed[np.triu_indices(S, 1)].any()  # causal
    np.testing.assert_allclose(steps.output, steps.weights @ steps.v, atol=1e-5)


def test_left_padded_decoder_still_matches(tiny_llama, tiny_gpt):
    for loaded in (tiny_llama, tiny_gpt):
        encoding, run = _run(loaded, side="left")
        steps = attention_steps(loaded, run, encoding, layer=0, head=0, sentence=1)
        assert steps.max_abs_difference < 1e-5


def test_head_view_masks_padding_and_future(tiny_gpt, tiny_bert):
    encoding, run = _run(tiny_gpt)
    (decoder,) = attention_parts(run, encoding, causal=True)
    view = attention_view(decoder, sentence=1, layer=0, head=0)
    S = encoding.shape[1]
    assert view.matrix.shape == (S, S)
    assert np.isnan(view.matrix[np.triu_indices(S, 1)]).all()
    pad = ~encoding.attention_mask[1].astype(bool)
    assert np.isnan(view.matrix[:, pad]).all()
    trimmed = attention_view(decoder, sentence=1, layer=0, head=0, show_padding=False)
    assert len(trimmed.query_tokens) == len(trimmed.key_tokens) == int(encoding.attention_mask[1].sum())
    encoding, run = _run(tiny_bert)
    (encoder,) = attention_parts(run, encoding)
    no_special = attention_view(encoder, sentence=0, layer=0, head=0, hide_special=True, show_padding=False)
    assert "[CLS]" not in no_special.query_tokens and "[SEP]" not in no_special.query_tokens
    assert no_special.key_tokens == no_special.query_tokens


def test_averages(tiny_bert):
    encoding, run = _run(tiny_bert)
    (part,) = attention_parts(run, encoding)
    heads = attention_view(part, sentence=0, layer=1, head=0, aggregate="head average")
    np.testing.assert_allclose(heads.matrix, run.attentions[1, 0].mean(0), atol=1e-6)
    layers = attention_view(part, sentence=0, layer=1, head=0, aggregate="layer average")
    np.testing.assert_allclose(layers.matrix, run.attentions[:, 0].mean((0, 1)), atol=1e-6)


def test_entropy_is_bounded(tiny_bert):
    encoding, run = _run(tiny_bert)
    bits = entropy(attention_parts(run, encoding)[0], sentence=1)
    T = int(encoding.attention_mask[1].sum())
    assert bits.shape == run.attentions.shape[:1] + run.attentions.shape[2:3]
    assert (bits >= 0).all() and (bits <= np.log2(T) + 1e-9).all()


def test_an_encoder_or_decoder_run_has_one_attention_part(tiny_bert, tiny_gpt):
    for loaded, causal in ((tiny_bert, False), (tiny_gpt, True)):
        encoding, run = _run(loaded)
        (part,) = attention_parts(run, encoding, causal=causal)
        assert part.name == "self-attention" and part.weights is run.attentions and part.causal == causal
        assert part.query_tokens == part.key_tokens == encoding.tokens
        assert part.query_side is None and part.key_side is None
        np.testing.assert_array_equal(part.key_real, encoding.attention_mask.astype(bool))
        np.testing.assert_array_equal(part.query_special, encoding.special_tokens_mask.astype(bool))
        S = encoding.shape[1]
        expected = encoding.attention_mask[1].astype(bool)[None, :] & (
            np.tril(np.ones((S, S), bool)) | ~causal
        )
        np.testing.assert_array_equal(part.allowed(1), expected)


@pytest.mark.parametrize("side", ["right", "left"])
def test_entropy_is_each_real_row_s_entropy_averaged(tiny_bert, side):
    encoding, run = _run(tiny_bert, side=side)
    (part,) = attention_parts(run, encoding)
    sentence = 1  # the shorter sentence: padded
    real = np.flatnonzero(encoding.attention_mask[sentence])
    bits = entropy(part, sentence)  # [L, H]
    for layer in range(run.attentions.shape[0]):
        for head in range(run.attentions.shape[2]):
            rows = run.attentions[layer, sentence, head][np.ix_(real, real)].astype(np.float64)
            expected = np.mean([-sum(p * np.log2(p) for p in row if p > 0) for row in rows])
            assert bits[layer, head] == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("side", ["right", "left"])
def test_the_real_weights_of_a_padded_sentence_are_a_view_not_a_copy(tiny_bert, side):
    """A long text's weights are hundreds of MB: selecting its real tokens must not copy them."""
    encoding, run = _run(tiny_bert, side=side)
    (part,) = attention_parts(run, encoding)
    real = np.flatnonzero(encoding.attention_mask[1])
    assert len(real) < encoding.shape[1]  # padded
    weights = real_weights(part, 1)
    assert np.shares_memory(weights, run.attentions)
    np.testing.assert_array_equal(weights, run.attentions[:, 1][:, :, real][..., real])


def test_positions_is_a_slice_for_one_run_and_indices_otherwise():
    assert positions(np.array([False, True, True, False])) == slice(1, 3)
    np.testing.assert_array_equal(positions(np.array([True, False, True])), [0, 2])
    np.testing.assert_array_equal(positions(np.zeros(3, bool)), [])

import numpy as np
import pytest
import torch

from explorer.pipeline.encoding import encode_batch
from explorer.pipeline.postprocess import postprocess, softmax
from explorer.pipeline.run import run_model

BATCH = ["I've been waiting for a HuggingFace course my whole life.", "I hate this so much!"]


def _direct(loaded, encoding, **kwargs):
    inputs = {
        k: torch.tensor(np.array(v))
        for k, v in [("input_ids", encoding.input_ids), ("attention_mask", encoding.attention_mask)]
    }
    if encoding.token_type_ids is not None:
        inputs["token_type_ids"] = torch.tensor(np.array(encoding.token_type_ids))
    with torch.no_grad():
        return loaded.model(**inputs, **kwargs)


@pytest.mark.parametrize("fixture", ["tiny_bert", "tiny_classifier", "tiny_mlm", "tiny_gpt"])
def test_hidden_states_and_attentions_have_documented_shapes(request, fixture):
    loaded = request.getfixturevalue(fixture)
    encoding = encode_batch(loaded.batch_tokenizer, BATCH, max_length=loaded.max_tokens)
    run = run_model(loaded, encoding, hidden_states=True, attentions=True)
    B, S = encoding.shape
    L, H, D = (loaded.config.num_hidden_layers, loaded.config.num_attention_heads, loaded.config.hidden_size)
    assert run.hidden_states.shape == (L + 1, B, S, D)
    assert run.attentions.shape == (L, B, H, S, S)
    direct = _direct(loaded, encoding, output_hidden_states=True)
    np.testing.assert_allclose(run.hidden_states[-1], direct.hidden_states[-1].numpy(), atol=1e-5)
    assert not run.hidden_states.flags.writeable and not run.attentions.flags.writeable


@pytest.mark.parametrize("fixture", ["tiny_bert", "tiny_gpt"])
def test_attention_rows_sum_to_one_for_real_tokens(request, fixture):
    loaded = request.getfixturevalue(fixture)
    encoding = encode_batch(loaded.batch_tokenizer, BATCH, max_length=loaded.max_tokens)
    attentions = run_model(loaded, encoding, attentions=True).attentions  # [L, B, H, S, S]
    for b in range(encoding.shape[0]):
        real = encoding.attention_mask[b].astype(bool)
        sums = attentions[:, b][:, :, real].sum(-1)  # [L, H, real queries]
        np.testing.assert_allclose(sums, 1.0, atol=1e-5)
        # padding keys get (numerically) no attention from real queries
        assert attentions[:, b][:, :, real][..., ~real].max(initial=0.0) < 1e-6


def test_decoder_attention_is_zero_above_the_diagonal(tiny_gpt):
    encoding = encode_batch(tiny_gpt.batch_tokenizer, BATCH, max_length=64)
    attentions = run_model(tiny_gpt, encoding, attentions=True).attentions
    S = encoding.shape[1]
    upper = np.triu(np.ones((S, S), dtype=bool), k=1)
    assert np.abs(attentions[..., upper]).max() == 0.0
    assert attentions[..., ~upper].max() > 0.0


def test_classification_postprocess_is_softmax_with_id2label(tiny_classifier):
    encoding = encode_batch(tiny_classifier.batch_tokenizer, BATCH)
    run = run_model(tiny_classifier, encoding)
    expected = torch.softmax(_direct(tiny_classifier, encoding).logits, dim=-1).numpy()  # [B, 2]
    predictions = postprocess(run, tiny_classifier)
    assert len(predictions) == 2
    for prediction in predictions:
        assert set(prediction.labels) == {"NEGATIVE", "POSITIVE"}
        by_label = dict(zip(prediction.labels, prediction.scores, strict=True))
        np.testing.assert_allclose(
            [by_label["NEGATIVE"], by_label["POSITIVE"]], expected[prediction.sentence], atol=1e-6
        )
        assert prediction.scores[0] >= prediction.scores[1]


@pytest.mark.parametrize("side", ["right", "left"])
def test_causal_lm_scores_the_token_after_the_last_real_token(tiny_gpt, side):
    encoding = encode_batch(tiny_gpt.batch_tokenizer, BATCH, padding_side=side)
    run = run_model(tiny_gpt, encoding)
    predictions = postprocess(run, tiny_gpt, top_k=3)
    for b, sentence in enumerate(BATCH):
        alone = tiny_gpt.tokenizer(sentence, return_tensors="pt")  # no padding at all
        with torch.no_grad():
            logits = tiny_gpt.model(**alone).logits[0, -1]
        np.testing.assert_allclose(run.logits[b], logits.numpy(), atol=1e-4)
        best = tiny_gpt.tokenizer.convert_ids_to_tokens([int(logits.argmax())])[0]
        assert predictions[b].labels[0] == best
        assert len(predictions[b].labels) == 3


def test_masked_lm_scores_only_mask_positions(tiny_mlm):
    sentence = f"attention lets every {tiny_mlm.tokenizer.mask_token} look"
    encoding = encode_batch(tiny_mlm.batch_tokenizer, [sentence, "no mask here"])
    run = run_model(tiny_mlm, encoding)
    mask_position = list(encoding.input_ids[0]).index(tiny_mlm.tokenizer.mask_token_id)
    assert run.logit_positions.tolist() == [[0, mask_position]]
    assert [p.position for p in postprocess(run, tiny_mlm)] == [mask_position]


def test_base_model_has_no_logits_and_names_its_outputs(tiny_bert):
    encoding = encode_batch(tiny_bert.batch_tokenizer, BATCH)
    run = run_model(tiny_bert, encoding)
    assert run.logits is None and postprocess(run, tiny_bert) == ()
    shapes = {o.name: o.shape for o in run.outputs}
    assert shapes["last_hidden_state"] == (*encoding.shape, tiny_bert.config.hidden_size)
    assert run.hidden_states is None and run.attentions is None  # not requested


def test_running_does_not_change_the_shared_model(tiny_bert):
    before = {k: v.clone() for k, v in tiny_bert.model.state_dict().items()}
    run_model(tiny_bert, encode_batch(tiny_bert.batch_tokenizer, BATCH), hidden_states=True, attentions=True)
    after = tiny_bert.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not tiny_bert.model.training


def test_softmax_is_stable_and_normalised():
    logits = np.array([[1000.0, 1000.0], [-1000.0, 0.0]])
    probabilities = softmax(logits)
    np.testing.assert_allclose(probabilities.sum(-1), 1.0)
    np.testing.assert_allclose(probabilities[0], [0.5, 0.5])


def test_attention_runs_that_would_not_fit_memory_are_refused(tiny_bert, monkeypatch):
    from explorer.errors import InputError
    from explorer.pipeline import run as run_module

    encoding = encode_batch(tiny_bert.batch_tokenizer, BATCH)
    B, S = encoding.shape
    needed = 2 * B * 4 * S * S  # layers x sentences x heads x tokens²
    monkeypatch.setattr(run_module, "MAX_ATTENTION_VALUES", needed - 1)
    with pytest.raises(InputError, match="Use at most 1 sentence"):
        run_model(tiny_bert, encoding, attentions=True)
    assert run_model(tiny_bert, encoding).attentions is None  # without attentions the run is fine
    monkeypatch.setattr(run_module, "MAX_ATTENTION_VALUES", needed)
    assert run_model(tiny_bert, encoding, attentions=True).attentions.shape == (2, B, 4, S, S)


@pytest.mark.parametrize("fixture", ["tiny_bert", "tiny_gpt"])
def test_the_kept_attention_weights_are_the_model_s_own(request, fixture):
    loaded = request.getfixturevalue(fixture)
    encoding = encode_batch(loaded.batch_tokenizer, BATCH, max_length=loaded.max_tokens)
    run = run_model(loaded, encoding, attentions=True)
    direct = _direct(loaded, encoding, output_attentions=True).attentions  # L x [B, H, S, S]
    assert len(direct) == run.attentions.shape[0]
    for layer, weights in enumerate(direct):
        np.testing.assert_allclose(run.attentions[layer], weights.numpy(), atol=1e-6)


def test_taking_the_attention_weights_lets_go_of_each_layer_s_tensor():
    """A long text's attention weights are held once, not twice (per-layer tensors + the stack):
    once copied, no tensor of the model's output is kept alive by the run."""
    import weakref

    from transformers.modeling_outputs import BaseModelOutput

    from explorer.pipeline.run import _taken

    layers = tuple(torch.rand(2, 3, 4, 4) for _ in range(5))  # L x [B, H, S, S]
    expected = torch.stack(layers).numpy().copy()
    watched = [weakref.ref(layer) for layer in layers]
    output = BaseModelOutput(last_hidden_state=torch.zeros(2, 4, 8), attentions=layers)
    del layers
    taken = _taken(output, "attentions")
    np.testing.assert_array_equal(taken, expected)
    assert taken.dtype == np.float32 and not taken.flags.writeable
    assert output.attentions is None
    assert all(ref() is None for ref in watched)

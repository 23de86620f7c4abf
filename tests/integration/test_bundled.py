"""The bundled checkpoints, end to end: what the explorer shows equals what transformers returns."""

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

from explorer.pipeline import checkpoints
from explorer.pipeline.bundled import prepare_smollm2
from explorer.pipeline.encoding import encode_batch
from explorer.pipeline.loading import load_checkpoint
from explorer.pipeline.postprocess import postprocess
from explorer.pipeline.run import run_model

pytestmark = pytest.mark.bundled
BATCH = ["I've been waiting for a HuggingFace course my whole life.", "I hate this so much!"]


@pytest.fixture(scope="module")
def minilm():
    return load_checkpoint(checkpoints.resolve(checkpoints.MINILM))


@pytest.fixture(scope="module")
def smollm2():
    prepare_smollm2()
    return load_checkpoint(checkpoints.resolve(checkpoints.SMOLLM2))


def test_minilm_is_the_documented_encoder(minilm):
    config = minilm.config
    assert (config.num_hidden_layers, config.num_attention_heads, config.hidden_size) == (6, 12, 384)
    assert minilm.head_class == "AutoModel" and minilm.model_class == "BertModel"
    assert minilm.max_tokens == 512
    assert 22_000_000 < minilm.num_parameters < 23_500_000


def test_smollm2_is_the_documented_decoder(smollm2):
    config = smollm2.config
    assert (config.num_hidden_layers, config.num_attention_heads, config.num_key_value_heads) == (30, 9, 3)
    assert smollm2.head_class == "AutoModelForCausalLM" and smollm2.model_class == "LlamaForCausalLM"
    assert len(smollm2.tokenizer) == 49152


@pytest.mark.parametrize(
    ("fixture", "auto_class"), [("minilm", AutoModel), ("smollm2", AutoModelForCausalLM)]
)
def test_tokens_ids_and_hidden_states_equal_transformers(request, fixture, auto_class):
    loaded = request.getfixturevalue(fixture)
    folder = loaded.resolved.location
    tokenizer = AutoTokenizer.from_pretrained(folder)  # an independent copy, loaded directly
    model = auto_class.from_pretrained(folder, attn_implementation="eager").eval()
    encoding = encode_batch(loaded.batch_tokenizer, BATCH, max_length=loaded.max_tokens)
    direct = tokenizer(
        BATCH, padding=True, truncation=True, max_length=loaded.max_tokens, return_tensors="pt"
    )
    np.testing.assert_array_equal(encoding.input_ids, direct["input_ids"].numpy())
    np.testing.assert_array_equal(encoding.attention_mask, direct["attention_mask"].numpy())
    for row, ids in zip(encoding.tokens, direct["input_ids"], strict=True):
        assert list(row) == tokenizer.convert_ids_to_tokens(ids.tolist())
    run = run_model(loaded, encoding, hidden_states=True, attentions=True)
    with torch.no_grad():
        expected = model(**direct, output_hidden_states=True, output_attentions=True)
    assert run.hidden_states.shape == (len(expected.hidden_states), *expected.hidden_states[0].shape)
    real = encoding.attention_mask.astype(bool)  # [B, S]
    np.testing.assert_allclose(
        run.hidden_states[-1][real], expected.hidden_states[-1].numpy()[real], atol=1e-4
    )
    np.testing.assert_allclose(run.attentions[-1], expected.attentions[-1].numpy(), atol=1e-5)


@pytest.mark.parametrize("fixture", ["minilm", "smollm2"])
def test_attention_rows_sum_to_one(request, fixture):
    loaded = request.getfixturevalue(fixture)
    encoding = encode_batch(loaded.batch_tokenizer, BATCH, max_length=loaded.max_tokens)
    attentions = run_model(loaded, encoding, attentions=True).attentions  # [L, B, H, S, S]
    for b in range(len(BATCH)):
        real = encoding.attention_mask[b].astype(bool)
        np.testing.assert_allclose(attentions[:, b][:, :, real].sum(-1), 1.0, atol=1e-4)


def test_decoder_attention_is_zero_above_the_diagonal(smollm2):
    encoding = encode_batch(smollm2.batch_tokenizer, BATCH, max_length=smollm2.max_tokens)
    attentions = run_model(smollm2, encoding, attentions=True).attentions
    S = encoding.shape[1]
    upper = np.triu(np.ones((S, S), dtype=bool), k=1)
    assert attentions[..., upper].max() == 0.0


def test_smollm2_continues_the_capital_of_france_with_paris(smollm2):
    encoding = encode_batch(smollm2.batch_tokenizer, ["The capital of France is"])
    prediction = postprocess(run_model(smollm2, encoding), smollm2)[0]
    assert smollm2.tokenizer.convert_tokens_to_string([prediction.labels[0]]) == " Paris"
    with torch.no_grad():
        generated = smollm2.model.generate(
            **smollm2.tokenizer("The capital of France is", return_tensors="pt"),
            max_new_tokens=1,
            do_sample=False,
        )
    assert smollm2.tokenizer.convert_ids_to_tokens(generated[0, -1:].tolist())[0] == prediction.labels[0]


def test_long_text_is_truncated_at_the_model_limit(minilm):
    encoding = encode_batch(minilm.batch_tokenizer, ["word " * 20_000], max_length=minilm.max_tokens)
    assert encoding.shape == (1, 512)
    assert encoding.truncated[0] == 20_000 + 2 - 512

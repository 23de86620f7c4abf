import numpy as np
import pytest

from explorer.explain import model_info as info
from explorer.pipeline.encoding import encode_batch
from explorer.pipeline.run import run_model

BATCH = ["I've been waiting for a HuggingFace course my whole life.", "I hate this so much!"]


def _run(loaded):
    encoding = encode_batch(loaded.batch_tokenizer, BATCH, max_length=loaded.max_tokens)
    return encoding, run_model(loaded, encoding, hidden_states=True)


def test_config_card_reads_the_config(tiny_bert, tiny_llama, tiny_gpt):
    card = info.config_card(tiny_bert)
    assert (card.layers, card.heads, card.hidden_size, card.head_dim) == (2, 4, 32, 8)
    assert card.intermediate_size == 64 and card.max_positions == 64
    assert card.vocab_size == tiny_bert.config.vocab_size
    assert card.parameters == sum(p.numel() for p in tiny_bert.model.parameters())
    assert card.position_encoding == "learned absolute embeddings" and not card.is_decoder
    llama = info.config_card(tiny_llama)
    assert llama.key_value_heads == 2 and llama.position_encoding == "rotary (RoPE)" and llama.is_decoder
    assert any("grouped-query" in label for label, _ in llama.rows())
    gpt = info.config_card(tiny_gpt)
    assert (gpt.layers, gpt.heads, gpt.hidden_size) == (2, 4, 32)  # GPT-2 names them n_layer, n_head, n_embd


def test_learned_positions_similarity(tiny_bert):
    position = info.position_info(tiny_bert, positions=10)
    table = tiny_bert.model.embeddings.position_embeddings.weight.detach().numpy()[:10]
    unit = table / np.linalg.norm(table, axis=1, keepdims=True)
    np.testing.assert_allclose(position.similarity, unit @ unit.T, atol=1e-5)
    np.testing.assert_allclose(np.diag(position.similarity), 1.0, atol=1e-5)


def test_rotary_positions_use_the_model_frequencies(tiny_llama):
    position = info.position_info(tiny_llama, positions=8)
    frequencies = tiny_llama.model.model.rotary_emb.inv_freq.numpy()
    np.testing.assert_allclose(position.frequencies, frequencies)
    np.testing.assert_allclose(position.angles[3], 3 * frequencies, rtol=1e-6)
    assert position.similarity is None


def test_hidden_state_rows_and_trajectory(tiny_bert):
    encoding, run = _run(tiny_bert)
    rows = info.hidden_state_rows(run, encoding)
    assert len(rows) == tiny_bert.config.num_hidden_layers + 1
    assert rows[0].name == "embeddings" and rows[-1].name == "layer 2"
    assert all(r.shape == (*encoding.shape, 32) for r in rows)
    path = info.trajectory(run, encoding, sentence=1)
    T = int(encoding.attention_mask[1].sum())
    assert len(path.tokens) == T and path.norms.shape == (3, T) and path.change.shape == (2, T)
    real = encoding.attention_mask[1].astype(bool)
    np.testing.assert_allclose(
        path.norms[2], np.linalg.norm(run.hidden_states[2, 1][real], axis=-1), rtol=1e-6
    )
    assert (path.change <= 1 + 1e-6).all() and (path.change >= -1 - 1e-6).all()


@pytest.mark.parametrize(
    ("fixture", "loaded_head"),
    [("tiny_bert", "AutoModel"), ("tiny_classifier", "AutoModelForSequenceClassification")],
)
def test_head_shapes_mark_the_loaded_head(request, fixture, loaded_head):
    loaded = request.getfixturevalue(fixture)
    encoding, run = _run(loaded)
    shapes = {h.head_class: h for h in info.head_shapes(loaded, encoding)}
    assert [h for h in shapes.values() if h.loaded] == [shapes[loaded_head]]
    B, S = encoding.shape
    assert shapes["AutoModel"].shape == (B, S, 32)
    assert shapes["AutoModelForSequenceClassification"].shape == (B, 2)
    assert shapes["AutoModelForCausalLM"].shape == (B, S, loaded.config.vocab_size)
    returned = {o.name: o.shape for o in run.outputs}
    if loaded_head == "AutoModel":
        assert returned["last_hidden_state"] == shapes["AutoModel"].shape
    else:
        assert returned["logits"] == shapes[loaded_head].shape

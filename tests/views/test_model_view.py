"""The model page's View, for every family of the matrix: its numbers are the config's and the
weights', its shapes are the run's, and no sentence states something false for the config."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.pipeline.encoding import encode_batch
from explorer.pipeline.run import run_model
from explorer.views import model as model_view
from explorer.views.common import Note

BATCH = ["The cat sat on the mat.", "A much longer sentence about the dog that ran in the park today."]
SPECIAL_LOOKING = ("[CLS]", "[SEP]", "[MASK]", "[PAD]", "<s>", "</s>", "<pad>", "<mask>", "<|endoftext|>")


def _view(family, sentence: int = 0):
    loaded = family.loaded
    encoding = encode_batch(loaded.batch_tokenizer, BATCH, max_length=loaded.max_tokens)
    run = run_model(loaded, encoding, hidden_states=True)
    return encoding, run, model_view.build(loaded, encoding, run, model_view.Settings(sentence=sentence))


def _texts(view) -> list[str]:
    """Every sentence and table cell the page shows."""
    notes = [view.config.sentence, view.heads.caption, view.missing]
    tables = [view.config.table, view.heads.table]
    if view.hidden is not None:
        notes.append(view.hidden.sentence)
        tables.append(view.hidden.table)
    if view.trajectory is not None:
        notes += [view.trajectory.limit_note, view.trajectory.caption]
    texts = [n.text for n in notes if isinstance(n, Note)]
    texts += [str(value) for t in tables for row in t.rows for value in (*row.keys(), *row.values())]
    return texts


def _feed_forward_width(loaded) -> int:
    """The first layer's feed-forward output width, read from the weights per architecture."""
    base = loaded.model.base_model
    kind = loaded.config.model_type
    if kind in ("bert", "roberta"):
        return base.encoder.layer[0].intermediate.dense.weight.shape[0]  # [inter, hidden]
    if kind == "distilbert":
        return base.transformer.layer[0].ffn.lin1.weight.shape[0]  # [inter, hidden]
    if kind == "albert":
        return base.encoder.albert_layer_groups[0].albert_layers[0].ffn.weight.shape[0]  # [inter, hidden]
    if kind == "gpt2":
        return base.h[0].mlp.c_fc.weight.shape[1]  # Conv1D: [hidden, inter]
    if kind in ("llama", "qwen3"):
        return base.layers[0].mlp.up_proj.weight.shape[0]  # [inter, hidden]
    if kind == "t5":
        return loaded.model.encoder.block[0].layer[1].DenseReluDense.wi.weight.shape[0]  # [inter, hidden]
    if kind == "bart":
        return base.encoder.layers[0].fc1.weight.shape[0]  # [inter, hidden]
    raise AssertionError(f"no feed-forward reader for {kind}")


def _query_width(loaded) -> int:
    base = loaded.model.base_model
    kind = loaded.config.model_type
    if kind in ("bert", "roberta"):
        return base.encoder.layer[0].attention.self.query.weight.shape[0]
    if kind == "distilbert":
        return base.transformer.layer[0].attention.q_lin.weight.shape[0]
    if kind == "albert":
        return base.encoder.albert_layer_groups[0].albert_layers[0].attention.query.weight.shape[0]
    if kind == "gpt2":
        return base.h[0].attn.c_attn.weight.shape[1] // 3  # [hidden, 3 x hidden]
    if kind in ("llama", "qwen3"):
        return base.layers[0].self_attn.q_proj.weight.shape[0]
    if kind == "t5":
        return loaded.model.encoder.block[0].layer[0].SelfAttention.q.weight.shape[0]
    if kind == "bart":
        return base.encoder.layers[0].self_attn.q_proj.weight.shape[0]
    raise AssertionError(f"no query reader for {kind}")


def test_encoder_decoders_load_and_the_page_says_it_shows_the_encoder(family):
    """Issue 13: T5 and BART load; the card says encoder-decoder with both layer counts, T5's
    relative position buckets are named, and the page says its hidden states are the encoder's."""
    assert family.loaded is not None, family.load_error
    _, _, view = _view(family)
    values = dict((row[""], row["value"]) for row in view.config.table.rows)
    config = family.loaded.config
    if family.family.kind != "encoder-decoder":
        assert view.encoder_only is None and not values["kind"].startswith("encoder-decoder")
        return
    assert values["kind"].startswith("encoder-decoder")
    decoder_layers = getattr(config, "decoder_layers", None) or config.num_decoder_layers
    assert values["encoder layers"] == str(config.num_hidden_layers)
    assert values["decoder layers"] == str(decoder_layers)
    assert "encoder's" in view.encoder_only.text and "encoder-decoder" in view.encoder_only.text
    assert "cross-attention" in view.config.sentence.text
    if config.model_type == "t5":
        assert values["relative position buckets"] == str(config.relative_attention_num_buckets)
        assert f"{config.relative_attention_num_buckets} buckets" in view.config.sentence.text
    else:
        assert "relative position buckets" not in values


def test_config_numbers_are_the_config_and_the_weights(family):
    if family.loaded is None:
        pytest.skip("the loader refuses this family (see the clear-message test)")
    loaded, facts = family.loaded, family.family
    config = loaded.config
    _, _, view = _view(family)
    card = view.config.card
    assert card.layers == config.num_hidden_layers == facts.layers
    assert card.heads == config.num_attention_heads == facts.heads
    assert card.hidden_size == config.hidden_size == facts.hidden
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    assert card.head_dim == head_dim == facts.head_dim
    assert card.attention_width == _query_width(loaded) == facts.heads * facts.head_dim
    kv = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    assert (card.key_value_heads or card.heads) == kv == facts.kv_heads
    ff = _feed_forward_width(loaded)
    assert card.intermediate_size == ff
    if config.model_type == "gpt2":
        assert config.n_inner is None and ff == 4 * config.hidden_size
    assert card.max_positions == facts.max_positions  # RoBERTa: the table minus its offset of 2
    assert card.parameters == sum(p.numel() for p in loaded.model.parameters())
    values = dict((row[""], row["value"]) for row in view.config.table.rows)
    assert values["feed-forward (intermediate) size"] == f"{ff:,}"
    assert values["size per head"] == str(head_dim)
    sentence = view.config.sentence.text
    assert f"{config.num_attention_heads} attention heads of size {head_dim}" in sentence
    assert f"to {ff} values" in sentence


def test_no_false_arithmetic_and_no_none(family):
    if family.loaded is None:
        pytest.skip("the loader refuses this family")
    loaded = family.loaded
    config = loaded.config
    _, _, view = _view(family)
    sentence = view.config.sentence.text
    heads, hidden = config.num_attention_heads, config.hidden_size
    head_dim = getattr(config, "head_dim", None) or hidden // heads
    claims_equality = "= the hidden size" in sentence
    assert claims_equality == (heads * head_dim == hidden)
    if not claims_equality:  # Qwen3: 4 x 16 = 64 projected from and back to 32
        assert (
            f"{heads} × {head_dim} = {heads * head_dim}" in sentence and f"hidden size {hidden}" in sentence
        )
    for text in _texts(view):
        assert "None" not in text, text
    tokenizer_specials = set(loaded.tokenizer.all_special_tokens)
    for text in _texts(view):
        for token in SPECIAL_LOOKING:
            if token in text:
                assert token in tokenizer_specials, (token, text)


def test_hidden_state_shapes_are_the_runs(family):
    if family.loaded is None:
        pytest.skip("the loader refuses this family")
    loaded = family.loaded
    encoding, run, view = _view(family)
    hidden = run.hidden_states  # [L + 1, B, S, D]
    assert hidden.shape[0] == loaded.config.num_hidden_layers + 1
    assert view.hidden.count == hidden.shape[0]
    assert view.hidden.shape == tuple(hidden.shape[1:]) == (*encoding.shape, loaded.config.hidden_size)
    rows = view.hidden.table.rows
    assert [row["shape"] for row in rows] == [str(list(hidden[i].shape)) for i in range(hidden.shape[0])]
    real = encoding.attention_mask.astype(bool)  # [B, S]
    for i, row in enumerate(rows):
        expected = np.linalg.norm(hidden[i][real], axis=-1).mean()
        assert row["mean vector length"] == pytest.approx(expected, abs=0.006)
    B, S, D = hidden.shape[1:]
    assert f"[{B}, {S}, {D}]" in view.hidden.sentence.text
    assert f"returns {hidden.shape[0]} tensors" in view.hidden.sentence.text
    # The decoders' last hidden state comes after their final norm, and the page says so.
    says_norm = "final normalisation" in view.hidden.sentence.text
    # T5's encoder also normalises its last hidden state (encoder.final_layer_norm); BART's does not.
    assert says_norm == (family.family.kind == "decoder" or family.family.model_type == "t5")


def test_head_shapes_follow_the_config(family):
    if family.loaded is None:
        pytest.skip("the loader refuses this family")
    loaded = family.loaded
    encoding, run, view = _view(family)
    B, S = encoding.shape
    rows = {row["head class"]: row for row in view.heads.table.rows}
    assert rows["AutoModelForSequenceClassification"]["shape"] == str([B, loaded.config.num_labels])
    assert rows["AutoModel"]["shape"] == str([B, S, loaded.config.hidden_size])
    assert rows["AutoModelForCausalLM"]["shape"] == str([B, S, loaded.config.vocab_size])
    assert [name for name, row in rows.items() if row["this checkpoint"]] == [family.family.head]
    returned = {o.name: o.shape for o in run.outputs}
    loaded_row = rows[family.family.head]
    assert loaded_row["shape"] == str(list(returned[loaded_row["output"]]))
    if family.family.is_classifier:
        assert loaded.config.num_labels == family.family.num_labels
        for label in family.family.labels:
            assert label in view.heads.caption.text


def test_trajectory_figures_and_csv(family, monkeypatch):
    if family.loaded is None:
        pytest.skip("the loader refuses this family")
    encoding, run, view = _view(family, sentence=1)
    layers = run.hidden_states.shape[0] - 1
    real = encoding.attention_mask[1].astype(bool)
    T = int(real.sum())
    path = view.trajectory
    assert (path.sentence, path.tokens, path.shown, path.limit_note) == (1, T, T, None)
    expected = np.linalg.norm(run.hidden_states[:, 1][:, real], axis=-1)  # [L + 1, T]
    if T <= model_view.LINES_AT_MOST:  # a line per token
        assert len(path.norms_figure.data) == T
        np.testing.assert_allclose(path.norms_figure.data[0].y, np.round(expected[:, 0], 4), atol=1e-4)
    else:  # a heatmap: rows embeddings, layer 1 … L; a column per token
        assert len(path.norms_figure.data) == 1 and list(path.norms_figure.data[0].y)[0] == "embeddings"
        np.testing.assert_allclose(np.asarray(path.norms_figure.data[0].z), expected, rtol=1e-3, atol=1e-3)
    monkeypatch.setattr(model_view, "LINES_AT_MOST", 2)  # the other kind of chart, same numbers
    other = _view(family, sentence=1)[2].trajectory.norms_figure
    assert len(other.data) == 1 and np.asarray(other.data[0].z).shape == (layers + 1, T)
    np.testing.assert_allclose(np.asarray(other.data[0].z), expected, rtol=1e-3, atol=1e-3)
    monkeypatch.setattr(model_view, "LINES_AT_MOST", 100)
    assert np.asarray(path.change_figure.data[0].z).shape == (layers, T)
    assert len(path.csv.strip().splitlines()) == layers + 2  # header + embeddings + each layer

    monkeypatch.setattr(model_view, "SHOWN_TOKENS", 3)
    _, _, short = _view(family, sentence=1)
    assert short.trajectory.shown == 3 and len(short.trajectory.norms_figure.data) == 3
    assert short.trajectory.limit_note.text == f"The charts show the first 3 of {T} tokens."
    assert np.asarray(short.trajectory.change_figure.data[0].z).shape == (layers, 3)
    assert len(short.trajectory.csv.strip().splitlines()[0].split(",")) >= T + 1  # the CSV keeps all


def test_a_sentence_out_of_range_falls_back_to_the_first(tiny_bert):
    encoding = encode_batch(tiny_bert.batch_tokenizer, BATCH)
    run = run_model(tiny_bert, encoding, hidden_states=True)
    view = model_view.build(tiny_bert, encoding, run, model_view.Settings(sentence=7))
    assert view.trajectory.sentence == 0


def test_a_run_without_hidden_states_says_so(tiny_bert):
    encoding = encode_batch(tiny_bert.batch_tokenizer, BATCH)
    view = model_view.build(tiny_bert, encoding, run_model(tiny_bert, encoding), model_view.Settings())
    assert view.hidden is None and view.trajectory is None and "no hidden states" in view.missing.text

"""Encoder-decoders (T5, BART) through explorer.pipeline.run: the greedy output equals generate(), and one
forward pass returns the encoder's, the decoder's and the cross-attention weights the model itself
returns for the same inputs (checked against the model called here, not against the app)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.pipeline.encoding import encode_batch
from explorer.pipeline.run import SEQ2SEQ_NEW_TOKENS, forward, main_output, run_model
from tests.families import build_and_load

SENTENCES = ("translate English to German: the cat sat on the mat.", "summarize: tokens turn into vectors")


@pytest.fixture(scope="module", params=["t5", "bart"])
def seq2seq(request, tmp_path_factory):
    built = build_and_load(request.param, tmp_path_factory.mktemp(request.param))
    assert built.load_error is None, built.load_error
    return built.loaded


def _direct(loaded, sentences):
    """(batch, generated [B, 1 + n]) from the tokenizer and model.generate, called directly."""
    batch = loaded.tokenizer(list(sentences), padding=True, return_tensors="pt")
    with torch.no_grad():
        generated = loaded.model.generate(**batch, do_sample=False, max_new_tokens=SEQ2SEQ_NEW_TOKENS)
    return batch, generated


def test_run_model_fills_the_encoder_decoder_contract(seq2seq):
    loaded = seq2seq
    encoding = encode_batch(loaded.batch_tokenizer, SENTENCES, max_length=loaded.max_tokens)
    run = run_model(loaded, encoding, hidden_states=True, attentions=True)
    config = loaded.config
    B, S = encoding.shape
    start = config.decoder_start_token_id
    batch, generated = _direct(loaded, SENTENCES)
    np.testing.assert_array_equal(batch["input_ids"].numpy(), encoding.input_ids)
    eos, pad = config.eos_token_id, config.pad_token_id
    rows = []
    for b in range(B):
        row = generated[b, 1:].tolist()
        if eos in row:
            row = row[: row.index(eos) + 1]
        rows.append(row)
        assert tuple(row) == run.generated_ids[b]
    T = max(len(r) for r in rows)  # start + all but the last generated token
    assert run.decoder_input_ids.shape == (B, T) and run.decoder_input_ids.dtype == np.int64
    for b, row in enumerate(rows):
        expected = [start, *row[:-1]]
        assert run.decoder_input_ids[b, : len(expected)].tolist() == expected
        assert (run.decoder_input_ids[b, len(expected) :] == pad).all()
        assert run.decoder_attention_mask[b].tolist() == [1] * len(expected) + [0] * (T - len(expected))
        assert run.decoder_tokens[b] == tuple(
            loaded.tokenizer.convert_ids_to_tokens(run.decoder_input_ids[b].tolist())
        )
    decoder_ids = torch.from_numpy(np.array(run.decoder_input_ids))
    decoder_mask = torch.from_numpy(np.array(run.decoder_attention_mask))
    with torch.no_grad():
        out = loaded.model(
            **batch,
            decoder_input_ids=decoder_ids,
            decoder_attention_mask=decoder_mask,
            output_hidden_states=True,
            output_attentions=True,
        )
    L_enc = getattr(config, "encoder_layers", None) or config.num_layers
    L_dec = getattr(config, "decoder_layers", None) or config.num_decoder_layers
    H, D = config.num_attention_heads, config.d_model
    assert run.hidden_states.shape == (L_enc + 1, B, S, D)
    assert run.attentions.shape == (L_enc, B, H, S, S)
    assert run.decoder_hidden_states.shape == (L_dec + 1, B, T, D)
    assert run.decoder_attentions.shape == (L_dec, B, H, T, T)
    assert run.cross_attentions.shape == (L_dec, B, H, T, S)
    np.testing.assert_allclose(run.hidden_states, torch.stack(out.encoder_hidden_states).numpy(), atol=1e-5)
    np.testing.assert_allclose(run.attentions, torch.stack(out.encoder_attentions).numpy(), atol=1e-6)
    np.testing.assert_allclose(
        run.decoder_hidden_states, torch.stack(out.decoder_hidden_states).numpy(), atol=1e-5
    )
    np.testing.assert_allclose(run.decoder_attentions, torch.stack(out.decoder_attentions).numpy(), atol=1e-6)
    np.testing.assert_allclose(run.cross_attentions, torch.stack(out.cross_attentions).numpy(), atol=1e-6)
    # Causal: no decoder query attends to a later decoder position.
    upper = np.triu(np.ones((T, T), dtype=bool), k=1)
    assert np.abs(run.decoder_attentions[..., upper]).max() == 0
    # Cross-attention rows of real decoder queries sum to 1 over the encoder's real tokens.
    real_keys = encoding.attention_mask.astype(bool)
    for b in range(B):
        real_q = run.decoder_attention_mask[b].astype(bool)
        rows_b = run.cross_attentions[:, b][:, :, real_q]  # [L, H, T_b, S]
        np.testing.assert_allclose(rows_b[..., real_keys[b]].sum(-1), 1.0, atol=1e-5)
        assert np.abs(rows_b[..., ~real_keys[b]]).sum() < 1e-6  # padding gets no attention
    # Logits: the decoder's next token after each sentence's last real decoder position; its argmax
    # is the last generated token (greedy).
    last = run.decoder_attention_mask.sum(1) - 1
    assert run.logit_positions.tolist() == [[b, int(last[b])] for b in range(B)]
    expected_logits = out.logits[torch.arange(B), torch.from_numpy(last)].numpy()
    np.testing.assert_allclose(run.logits, expected_logits, atol=1e-5)
    assert run.logits.argmax(-1).tolist() == [row[-1] for row in rows]


def test_encoder_decoder_forward_and_main_output_run(seq2seq):
    loaded = seq2seq
    encoding = encode_batch(loaded.batch_tokenizer, SENTENCES, max_length=loaded.max_tokens)
    outputs = forward(loaded, encoding)
    B, S = encoding.shape
    assert outputs.last_hidden_state.shape == (B, S, loaded.config.d_model)
    assert outputs.logits.shape == (B, loaded.config.vocab_size)
    name, array = main_output(loaded.model, encoding)
    assert name == "logits" and array.shape == (B, 1, loaded.config.vocab_size)
    np.testing.assert_allclose(array[:, 0], outputs.logits, atol=1e-5)


@pytest.mark.parametrize("ref", ["hub:google-t5/t5-small", "hub:facebook/bart-base"])
def test_the_catalog_offers_the_course_encoder_decoders_with_the_offline_message(ref):
    from explorer.errors import CheckpointError
    from explorer.pipeline.checkpoints import COURSE_HUB, resolve
    from explorer.pipeline.loading import load_checkpoint

    assert ref in {entry.ref for entry in COURSE_HUB}
    with pytest.raises(CheckpointError, match="needs the Hugging Face Hub, which this machine cannot reach"):
        load_checkpoint(resolve(ref))

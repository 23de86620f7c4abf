"""The Generation page's View, built for every checkpoint family (tests/families.py).

Expected values are computed here from the model, the config and transformers itself (softmax of
``model(input_ids).logits``, ``model.generate``, ``pipeline("fill-mask")``), never copied from the
code under test."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
import torch

from explorer.pipeline import checkpoints
from explorer.pipeline.checkpoints import resolve
from explorer.pipeline.encoding import encode_batch, split_sentences
from explorer.pipeline.loading import load_checkpoint
from explorer.pipeline.run import run_model
from explorer.views import generation
from explorer.views.common import Note
from explorer.views.generation import Settings
from tests.view_contents import notes

PROMPT = "The quick brown fox jumps over"
# Special tokens some tokenizer has; a sentence may name one only if its tokenizer has it.
SPECIAL_SPELLINGS = (
    "[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]", "<mask>", "<s>", "</s>", "<pad>", "<unk>",
    "<|endoftext|>", "<|im_start|>", "<|im_end|>",
)  # fmt: skip


@pytest.fixture(scope="module")
def minilm():
    """The encoder the causal-mask section compares with, and whose tokenizer shows the masking
    recipe for tokenizers without a mask token."""
    return load_checkpoint(resolve(checkpoints.MINILM))


def _assert_names_only_its_special_tokens(notes: list[Note], tokenizer) -> None:
    have = set(tokenizer.all_special_tokens)
    for note in notes:
        for spelling in SPECIAL_SPELLINGS:
            assert spelling not in note.text or spelling in have, (spelling, note.text)


def _direct_next_token_probabilities(model, ids: list[int]) -> np.ndarray:
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0, -1]  # [vocab]
    return torch.softmax(logits.double(), -1).numpy()


def test_generation_view_for_every_family(family, minilm):
    facts = family.family
    loaded = family.loaded
    assert loaded is not None, family.load_error
    sentences = split_sentences(PROMPT + "\nA second line")
    intro = generation.intro(loaded, sentences)
    assert intro.prompt == PROMPT
    assert "The other lines are not used here." in intro.prompt_caption.text
    view = generation.build(loaded, PROMPT, Settings(), ())
    if facts.kind == "encoder-decoder":  # step by step: tests/views/test_seq2seq_generation.py
        assert intro.causal and view.not_causal is None and view.decoder is not None
        assert "encoder-decoder" in intro.seq2seq.text
        assert not view.decoder.causal_mask
        _check_recipe(loaded, facts, minilm)
        return
    assert intro.seq2seq is None
    if facts.kind == "decoder":
        _check_decoder(loaded, intro, view, minilm)
    else:
        assert not intro.causal and view.decoder is None
        assert view.not_causal is not None and view.not_causal == intro.not_causal
        assert "is not a causal language model" in view.not_causal.text
        assert f"`{facts.head}`" in view.not_causal.text  # the head the checkpoint really has
        fill = generation.build_fill_mask(loaded, None)
        if facts.head != "AutoModelForMaskedLM":
            assert "has no masked-LM head" in fill.notes[0].text and not fill.predictions
        _assert_names_only_its_special_tokens(notes(view) + notes(fill), loaded.tokenizer)
    _check_recipe(loaded, facts, minilm)


def _check_decoder(loaded, intro, view, minilm):
    assert intro.causal and intro.not_causal is None and view.not_causal is None
    decoder = view.decoder
    tokenizer, model = loaded.tokenizer, loaded.model
    ids = tokenizer(PROMPT)["input_ids"]
    assert decoder.prompt_ids == tuple(ids) and decoder.generated_ids == ()

    # The candidates: softmax of the model's own last logits, best first.
    probabilities = _direct_next_token_probabilities(model, ids)  # [vocab]
    best = np.argsort(-probabilities)[: len(decoder.candidates.token_ids)]
    assert len(best) == 10
    assert list(decoder.candidates.token_ids) == best.tolist()
    np.testing.assert_allclose(decoder.candidates.raw, probabilities[best], atol=1e-6)
    assert decoder.candidates.vocabulary == model.config.vocab_size
    bars = decoder.candidates_figure.data
    np.testing.assert_allclose(bars[0].y, probabilities[best], atol=1e-6)
    assert decoder.candidates_csv.data.count("\n") >= 10  # header + 10 rows

    # Greedy: no claim about how many tokens "can still be chosen".
    sentence = decoder.candidates_sentence.text
    # The token as the screen shows it: its text with ␣ ↵ ⇥ for whitespace, a stray byte as <0xNN>.
    decoded = tokenizer.decode([int(best[0])])
    if "\ufffd" in decoded:  # part of a character: shown as its bytes, never as "�"
        assert re.search(r"Most likely next: \*\*`[^`]*<0x[0-9A-F]{2}>", sentence), sentence
    else:
        shown = decoded.replace(" ", "␣").replace("\n", "↵").replace("\t", "⇥")
        assert f"Most likely next: **`{shown}`**" in sentence, sentence
    assert "Greedy decoding always takes the most likely token" in sentence
    assert "can still be" not in sentence
    # Sampling with temperature 0.5 and top-k 3: the raw bars stay the model's own softmax, the
    # reshaped ones are softmax(logits / 0.5) over the 3 best, and 3 of the config's vocabulary remain.
    hot = Settings(mode="sampling", top_k=3, temperature=0.5)
    sampled = generation.build(loaded, PROMPT, hot, ()).decoder
    np.testing.assert_allclose(sampled.candidates.raw, probabilities[best], atol=1e-6)
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0, -1].double()  # [vocab]
    sharp = torch.softmax(logits / 0.5, -1).numpy()[best[:3]]
    np.testing.assert_allclose(sampled.candidates.reshaped[:3], sharp / sharp.sum(), atol=1e-6)
    assert f"**3** of the {model.config.vocab_size:,} tokens" in sampled.candidates_sentence.text
    assert sum(p > 0 for p in sampled.candidates.reshaped) == 3

    # Greedy generation of 5 tokens equals transformers' generate() (temperature does not change
    # which token is the most likely, only the reshaped probability shown next to the model's).
    steps = generation.more_steps(loaded, PROMPT, Settings(temperature=0.5), [], 5)
    with torch.no_grad():
        expected = model.generate(
            torch.tensor([ids]),
            attention_mask=torch.ones(1, len(ids), dtype=torch.long),
            do_sample=False,
            max_new_tokens=5,
            pad_token_id=tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0,
        )[0, len(ids) :].tolist()
    chosen = [s.token_id for s in steps]
    assert chosen == expected[: len(chosen)]
    assert len(chosen) == 5 or chosen[-1] == tokenizer.eos_token_id
    after = generation.build(loaded, PROMPT, Settings(), steps).decoder
    assert after.generated_ids == tuple(chosen)
    assert len(after.steps_table.rows) == len(chosen)
    # Each row: the model's probability of the chosen token (softmax over the text before it) and,
    # labelled apart, its probability after temperature 0.5.
    for n, (step, row) in enumerate(zip(steps, after.steps_table.rows, strict=True)):
        with torch.no_grad():
            logits = model(torch.tensor([ids + chosen[:n]])).logits[0, -1].double()  # [vocab]
        direct = torch.softmax(logits, -1)[step.token_id].item()
        reshaped = torch.softmax(logits / 0.5, -1)[step.token_id].item()
        assert step.model_probability == pytest.approx(direct, abs=1e-5)
        assert step.probability == pytest.approx(reshaped, abs=1e-5)
        assert float(row["model's probability"].rstrip("%")) == pytest.approx(100 * direct, abs=0.051)
        assert float(row["after temperature, top-k, top-p"].rstrip("%")) == pytest.approx(
            100 * reshaped, abs=0.051
        )
    assert after.text_so_far.endswith("⟦" + "".join(tokenizer.decode([i]) for i in chosen) + "⟧")
    np.testing.assert_allclose(
        after.candidates.raw,
        np.sort(_direct_next_token_probabilities(model, ids + chosen))[::-1][:10],
        atol=1e-6,
    )

    # The logit lens runs only when asked for (it costs one product with the whole vocabulary per
    # layer and position); then one row per layer plus the embeddings, one column per position.
    assert decoder.lens_figure is None and decoder.lens_note is None
    lensed = generation.build(loaded, PROMPT, Settings(lens=True), ()).decoder
    lens = lensed.lens_figure.data[0]
    assert np.asarray(lens.z).shape == (model.config.num_hidden_layers + 1, len(ids))
    assert lensed.lens_note is None  # every position is shown
    assert lensed.candidates.raw == decoder.candidates.raw  # the rest of the view does not change

    # The causal mask next to MiniLM's full attention, on the same text.
    text = decoder.causal_text
    encoding = encode_batch(loaded.batch_tokenizer, (text,), max_length=loaded.max_tokens)
    encoder_encoding = encode_batch(minilm.batch_tokenizer, (text,), max_length=minilm.max_tokens)
    mask = generation.build_causal_mask(
        loaded,
        encoding,
        run_model(loaded, encoding, attentions=True),
        encoder_encoding,
        run_model(minilm, encoder_encoding, attentions=True),
    )
    S = len(tokenizer(text)["input_ids"])
    assert mask.decoder_matrix.shape == (S, S)
    above = np.triu(np.ones((S, S), dtype=bool), k=1)
    assert np.isnan(mask.decoder_matrix[above]).all() and np.isfinite(mask.decoder_matrix[~above]).all()
    with torch.no_grad():
        weights = model(torch.tensor([encoding.input_ids[0].tolist()]), output_attentions=True).attentions
    assert float(weights[-1][0].mean(0)[torch.from_numpy(above)].abs().max()) < 1e-6
    assert "every weight is 0" in mask.decoder_caption.text
    assert mask.decoder_figure.layout.title.text.startswith(type(model).__name__)
    S_enc = len(minilm.tokenizer(text)["input_ids"])
    assert mask.encoder_matrix.shape == (S_enc, S_enc) and np.isfinite(mask.encoder_matrix).all()

    # Fill-mask is for masked language models: said, not attempted.
    fill = generation.build_fill_mask(loaded, None)
    assert "causal language model" in fill.notes[0].text and not fill.predictions
    assert decoder.quantized is None  # a tiny float checkpoint, not de-quantized
    _assert_names_only_its_special_tokens(notes(view) + notes(after) + notes(fill), tokenizer)


def _check_recipe(loaded, facts, minilm):
    recipe = generation.build_recipe(loaded, PROMPT, 0, minilm.tokenizer)
    tokenizer = loaded.tokenizer if facts.has_mask_token else minilm.tokenizer
    assert (loaded.tokenizer.mask_token is not None) == facts.has_mask_token
    assert recipe.mask_token == tokenizer.mask_token
    assert f"`{tokenizer.mask_token}`" in recipe.sentence.text
    own = "with this checkpoint's tokenizer" in recipe.sentence.text
    assert own == facts.has_mask_token
    assert ("shown with MiniLM's tokenizer" in recipe.sentence.text) != own
    assert [p.original for p in recipe.positions] == tokenizer.convert_ids_to_tokens(
        tokenizer(PROMPT)["input_ids"]
    )
    for p in recipe.positions:
        if p.action == "masked":
            assert p.shown == tokenizer.mask_token
    _assert_names_only_its_special_tokens(notes(recipe), tokenizer)


def test_fill_mask_equals_pipeline(family):
    if family.family.head != "AutoModelForMaskedLM":
        pytest.skip("fill-mask needs a masked-LM head")
    from transformers import pipeline

    loaded = family.loaded
    mask = loaded.tokenizer.mask_token
    texts = (f"the quick brown {mask} jumps over the lazy dog", f"attention lets every {mask} look")
    encoding = encode_batch(loaded.batch_tokenizer, texts, max_length=loaded.max_tokens)
    fill = generation.build_fill_mask(loaded, run_model(loaded, encoding), top_k=5)
    fill_mask = pipeline("fill-mask", model=loaded.model, tokenizer=loaded.tokenizer, device="cpu")
    assert len(fill.predictions) == len(texts)
    for b, (text, prediction) in enumerate(zip(texts, fill.predictions, strict=True)):
        theirs = fill_mask(text, top_k=5)
        ids = loaded.tokenizer(text)["input_ids"]
        assert (prediction.sentence, prediction.position) == (b, ids.index(loaded.tokenizer.mask_token_id))
        assert loaded.tokenizer.convert_tokens_to_ids(list(prediction.labels)) == [r["token"] for r in theirs]
        np.testing.assert_allclose(prediction.scores, [r["score"] for r in theirs], atol=1e-5)
        assert any(f"Sentence {b}, position {prediction.position}:" in n.text for n in fill.notes)
    assert f"Put **{mask}** in a line" in fill.notes[0].text
    empty = generation.build_fill_mask(
        loaded, run_model(loaded, encode_batch(loaded.batch_tokenizer, ("no blank",)))
    )
    assert any(n.kind == "info" and f"No {mask} in the text" in n.text for n in empty.notes)


def test_smollm2_probabilities_say_they_come_from_a_4_bit_gguf_file(family):
    if family.family.kind != "decoder":
        pytest.skip("only decoders show next-token probabilities")
    loaded = family.loaded
    assert generation.quantized_note(loaded) is None
    # The same checkpoint under the bundled SmolLM2's reference: the caption comes from the ref.
    bundled = dataclasses.replace(
        loaded, resolved=dataclasses.replace(loaded.resolved, ref=checkpoints.SMOLLM2)
    )
    note = generation.quantized_note(bundled)
    assert note is not None and checkpoints.SMOLLM2_GGUF in note.text and "de-quantized" in note.text
    view = generation.build(bundled, PROMPT, Settings(), ()).decoder
    assert view.quantized == note
    # Not from the label: a label naming SmolLM2 on another checkpoint gets no caption.
    renamed = dataclasses.replace(
        loaded, resolved=dataclasses.replace(loaded.resolved, label="SmolLM2 (copy)")
    )
    assert generation.quantized_note(renamed) is None


def test_a_prompt_too_long_is_a_clear_message_not_a_traceback(family):
    if family.family.kind != "decoder":
        pytest.skip("only decoders generate")
    from explorer.errors import InputError

    with pytest.raises(InputError, match="at most"):
        generation.build(family.loaded, "fox " * 600, Settings(), ())

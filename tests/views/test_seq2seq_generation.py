"""The Generation page for encoder-decoders (T5, BART): step by step, the decoder's next-token
distribution (the model's own softmax, computed here from a direct forward pass), and greedy steps
equal to ``model.generate(do_sample=False)`` called here on the same prompt."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.pipeline.encoding import split_sentences
from explorer.views import generation
from tests.families import build_and_load

PROMPT = "translate English to German: the cat sat on the mat."


@pytest.fixture(scope="module", params=["t5", "bart"])
def seq2seq(request, tmp_path_factory):
    built = build_and_load(request.param, tmp_path_factory.mktemp(request.param))
    assert built.load_error is None, built.load_error
    return built.loaded


def _softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def test_greedy_steps_equal_generate(seq2seq):
    loaded = seq2seq
    settings = generation.Settings()
    assert settings.greedy
    steps = generation.more_steps(loaded, PROMPT, settings, [], 6)
    steps += generation.more_steps(loaded, PROMPT, settings, steps, 6)  # continued: the same as in one go
    source = loaded.tokenizer(PROMPT, return_tensors="pt")
    with torch.no_grad():
        expected = loaded.model.generate(**source, do_sample=False, max_new_tokens=12)[0, 1:].tolist()
    eos = loaded.config.eos_token_id
    if eos in expected:
        expected = expected[: expected.index(eos) + 1]
    assert [s.token_id for s in steps] == expected
    # Each step's probability is the decoder's softmax at that step, from a direct forward pass.
    start = loaded.config.decoder_start_token_id
    decoder = [start] + [s.token_id for s in steps]
    with torch.no_grad():
        logits = loaded.model(**source, decoder_input_ids=torch.tensor([decoder])).logits[0].double().numpy()
    for n, step in enumerate(steps):
        probabilities = _softmax(logits[n])
        assert step.token_id == int(probabilities.argmax())
        assert step.model_probability == pytest.approx(probabilities[step.token_id], abs=1e-6)


def test_the_view_shows_the_decoders_next_token(seq2seq):
    loaded = seq2seq
    intro = generation.intro(loaded, split_sentences(PROMPT))
    assert intro.causal and intro.not_causal is None
    assert "encoder-decoder" in intro.seq2seq.text and "decoder_start_token_id" in intro.seq2seq.text
    settings = generation.Settings()
    steps = generation.more_steps(loaded, PROMPT, settings, [], 3)
    view = generation.build(loaded, PROMPT, settings, steps)
    decoder = view.decoder
    assert not decoder.causal_mask and decoder.lens_figure is None
    source = loaded.tokenizer(PROMPT, return_tensors="pt")
    ids = [loaded.config.decoder_start_token_id] + [s.token_id for s in steps]
    with torch.no_grad():
        last = loaded.model(**source, decoder_input_ids=torch.tensor([ids])).logits[0, -1].double().numpy()
    probabilities = _softmax(last)
    best = int(probabilities.argmax())
    assert decoder.candidates.token_ids[0] == best
    assert decoder.candidates.raw[0] == pytest.approx(probabilities[best], abs=1e-6)
    assert decoder.candidates.vocabulary == loaded.config.vocab_size
    assert decoder.generated_ids == tuple(s.token_id for s in steps)


def test_the_page_says_when_generate_changes_the_scores(seq2seq):
    """bart-base's generation_config forces tokens and blocks repeats: generate() then differs from
    greedy steps on the model's scores, and the page must not claim they are equal."""
    import copy
    import dataclasses

    settings = generation.Settings()
    steps = generation.more_steps(seq2seq, PROMPT, settings, [], 4)
    assert "give what `model.generate(do_sample=False)` gives" in generation.seq2seq_note(seq2seq).text
    forced = next(i for i in range(5, 50) if i != steps[0].token_id)  # a first token greedy did not pick
    model = copy.deepcopy(seq2seq.model)  # the fixture's model stays as it is
    model.generation_config.forced_bos_token_id = forced
    model.generation_config.no_repeat_ngram_size = 2
    adjusted = dataclasses.replace(seq2seq, model=model)
    source = adjusted.tokenizer(PROMPT, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**source, do_sample=False, max_new_tokens=4)[0, 1:].tolist()
    assert out[0] == forced != steps[0].token_id  # generate() really differs here
    text = generation.seq2seq_note(adjusted).text
    assert f"`forced_bos_token_id={forced}`" in text and "`no_repeat_ngram_size=2`" in text
    assert "give what `model.generate(do_sample=False)` gives" not in text

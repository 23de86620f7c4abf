import numpy as np
import pytest
import torch

from explorer.errors import InputError
from explorer.explain import generation as gen


def test_greedy_next_token_equals_generate(tiny_gpt, tiny_llama):
    for loaded in (tiny_gpt, tiny_llama):
        ids = gen.prompt_ids(loaded, "Attention lets every token", chat=False)
        step = gen.generate(loaded, ids, 1, gen.Sampling())[0]
        with torch.no_grad():
            expected = loaded.model.generate(
                torch.tensor([ids]),
                attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                max_new_tokens=1,
                do_sample=False,
                pad_token_id=0,
            )
        assert step.token_id == int(expected[0, -1])


def test_greedy_generation_of_several_tokens_equals_generate(tiny_llama):
    ids = gen.prompt_ids(tiny_llama, "Tokenizers split text", chat=False)
    steps = gen.generate(tiny_llama, ids, 6, gen.Sampling())
    with torch.no_grad():
        expected = tiny_llama.model.generate(
            torch.tensor([ids]),
            attention_mask=torch.ones(1, len(ids), dtype=torch.long),
            max_new_tokens=6,
            do_sample=False,
            pad_token_id=0,
        )
    assert [s.token_id for s in steps] == expected[0, len(ids) :].tolist()[: len(steps)]


def test_probabilities_sum_to_one_after_any_reshaping(tiny_gpt):
    ids = gen.prompt_ids(tiny_gpt, "The quick brown fox", chat=False)
    logits = gen.next_token_logits(tiny_gpt, ids)
    for sampling in (
        gen.Sampling(),
        gen.Sampling(temperature=0.3),
        gen.Sampling(temperature=2.0, top_k=7),
        gen.Sampling(top_p=0.5),
        gen.Sampling(top_k=3, top_p=0.9),
    ):
        probabilities = gen.reshape(logits, sampling)
        assert probabilities.shape == logits.shape
        np.testing.assert_allclose(probabilities.sum(), 1.0)
        assert (probabilities >= 0).all()


def test_top_k_and_top_p_keep_the_right_tokens():
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05]))
    assert (gen.reshape(logits, gen.Sampling(top_k=2)) > 0).sum() == 2
    nucleus = gen.reshape(logits, gen.Sampling(top_p=0.8))
    np.testing.assert_allclose(nucleus, [0.5 / 0.8, 0.3 / 0.8, 0, 0])
    flat = gen.reshape(logits, gen.Sampling(temperature=100.0))
    sharp = gen.reshape(logits, gen.Sampling(temperature=0.1))
    assert flat.max() < 0.3 and sharp.max() > 0.99


def test_sampling_with_a_seed_is_reproducible_in_one_go_or_step_by_step(tiny_gpt):
    ids = gen.prompt_ids(tiny_gpt, "Tokens are", chat=False)
    sampling = gen.Sampling(greedy=False, seed=7, temperature=1.5)
    once = gen.generate(tiny_gpt, ids, 6, sampling)
    again = gen.generate(tiny_gpt, ids, 6, sampling)
    assert [s.token_id for s in once] == [s.token_id for s in again]
    first = gen.generate(tiny_gpt, ids, 3, sampling)
    rest = gen.generate(tiny_gpt, ids + [s.token_id for s in first], 3, sampling, start=3)
    assert [s.token_id for s in first + rest] == [s.token_id for s in once][: len(first + rest)]
    other = gen.generate(tiny_gpt, ids, 6, gen.Sampling(greedy=False, seed=8, temperature=1.5))
    assert [s.token_id for s in other] != [s.token_id for s in once]


def test_generation_is_bounded(tiny_gpt):
    ids = gen.prompt_ids(tiny_gpt, "a", chat=False)
    with pytest.raises(InputError, match="between 1 and"):
        gen.generate(tiny_gpt, ids, gen.MAX_NEW_TOKENS + 1, gen.Sampling())
    with pytest.raises(InputError, match="would pass"):
        gen.generate(tiny_gpt, ids * gen.MAX_CONTEXT, 1, gen.Sampling())


def test_logit_lens_last_layer_is_the_model_prediction(tiny_gpt, tiny_llama):
    for loaded in (tiny_gpt, tiny_llama):
        ids = gen.prompt_ids(loaded, "Attention lets every token look", chat=False)
        lens = gen.logit_lens(loaded, ids)
        L = loaded.config.num_hidden_layers
        assert lens.probability.shape == (L + 1, len(ids))
        with torch.no_grad():
            logits = loaded.model(torch.tensor([ids])).logits[0]  # [T, vocab]
        expected = [loaded.tokenizer.decode([int(i)]) for i in logits.argmax(-1)]
        assert list(lens.predicted[-1]) == expected
        np.testing.assert_allclose(
            lens.probability[-1], torch.softmax(logits.double(), -1).max(-1).values.numpy(), atol=1e-6
        )


def test_logit_lens_is_only_for_causal_models(tiny_bert):
    with pytest.raises(InputError, match="causal language models"):
        gen.logit_lens(tiny_bert, [1, 2, 3])


def test_candidates_show_raw_and_reshaped_probabilities(tiny_gpt):
    logits = gen.next_token_logits(tiny_gpt, gen.prompt_ids(tiny_gpt, "The", chat=False))
    top = gen.candidates(tiny_gpt, logits, gen.Sampling(top_k=2), k=5)
    assert len(top.tokens) == 5 and top.kept == 2
    assert list(top.raw) == sorted(top.raw, reverse=True)
    assert sum(p > 0 for p in top.reshaped) == 2


def test_masking_recipe_follows_the_course(tiny_bert):
    text = " ".join(["attention lets every token look at every other token"] * 5)
    counts = {"masked": 0, "random": 0, "unchanged": 0, "": 0}
    for seed in range(40):
        recipe = gen.masking_recipe(tiny_bert.tokenizer, text, seed)
        for position in recipe:
            counts[position.action] += 1
            if position.action == "masked":
                assert position.shown == "[MASK]"
            if position.action in ("", "unchanged"):
                assert position.shown == position.original
        assert recipe[0].action == "" and recipe[-1].action == ""  # [CLS] and [SEP] are never selected
    selected = counts["masked"] + counts["random"] + counts["unchanged"]
    total = selected + counts[""]
    assert 0.10 < selected / total < 0.20
    assert 0.7 < counts["masked"] / selected < 0.9
    assert gen.masking_recipe(tiny_bert.tokenizer, text, 3) == gen.masking_recipe(
        tiny_bert.tokenizer, text, 3
    )


def test_masking_recipe_needs_a_mask_token(tiny_gpt):
    with pytest.raises(InputError, match="no mask token"):
        gen.masking_recipe(tiny_gpt.tokenizer, "hello", 0)


def test_chat_template_is_applied(tiny_gpt):
    from copy import deepcopy

    tokenizer = deepcopy(tiny_gpt.tokenizer)
    tokenizer.chat_template = "{% for m in messages %}<|endoftext|>{{ m['content'] }}{% endfor %}"
    loaded = type(tiny_gpt)(**{**tiny_gpt.__dict__, "tokenizer": tokenizer})
    plain = gen.prompt_ids(loaded, "hello", chat=False)
    chat = gen.prompt_ids(loaded, "hello", chat=True)
    assert chat[0] == tokenizer.eos_token_id and chat[1:] == plain


def test_the_logits_the_page_showed_are_reused_not_recomputed(tiny_gpt, tiny_llama):
    """A "Next token" click chooses from the logits already computed for the page, and generate()
    leaves the logits after its last token; both equal a fresh forward pass."""
    from explorer.pipeline.run import next_token_logits

    for loaded in (tiny_gpt, tiny_llama):
        ids = gen.prompt_ids(loaded, "Attention lets every token look", chat=False)
        shown = gen.next_logits(loaded, ids, [])  # [vocab]
        assert gen.next_logits(loaded, ids, []) is shown  # the same array: no second forward pass
        assert not shown.flags.writeable  # shared by every session: nobody may change it
        np.testing.assert_allclose(shown, next_token_logits(loaded, ids), atol=1e-5)
        one = gen.generate(loaded, ids, 1, gen.Sampling())[0]
        assert one.token_id == int(np.argmax(shown))
        steps = gen.generate(loaded, ids, 3, gen.Sampling())
        written = [s.token_id for s in steps]
        left = gen.next_logits(loaded, ids, written)  # kept by generate(): its stream's last step
        np.testing.assert_allclose(left, next_token_logits(loaded, ids + written), atol=1e-4)

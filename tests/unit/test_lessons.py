"""Each lesson step's explanation describes what its page shows, computed from the model in use."""

import re

import numpy as np
import pytest

from explorer.app import lessons
from explorer.app.lessons import LESSON, Facts
from explorer.pipeline.encoding import encode_batch
from explorer.pipeline.run import run_model


def facts(loaded, text: str, hidden_states: bool = True, attentions: bool = True) -> Facts:
    encoding = encode_batch(loaded.batch_tokenizer, text.split("\n"), max_length=loaded.max_tokens)
    run = run_model(loaded, encoding, hidden_states=hidden_states, attentions=attentions)
    return Facts(loaded=loaded, encoding=encoding, run=run)


def test_the_lesson_walks_the_whole_pipeline_on_existing_pages():
    from explorer.ui import PAGES

    pages = {spec.path for spec in PAGES}
    assert [s.title for s in LESSON] == [
        "Text becomes tokens",
        "Tokens become IDs",
        "Padding and the attention mask",
        "Why the attention mask matters",
        "The model's output",
        "Hidden states, layer by layer",
        "One layer, step by step",
        "Attention",
        "Logits",
        "Probabilities",
        "Why this prediction?",
        "Fine-tuning",
        "Sentence pairs: [SEP] and token_type_ids",
        "Encoders, decoders and encoder-decoders",
        "Feature extraction: a vector per sentence",
        "Zero-shot classification",
        "Named entities (token classification)",
    ]
    assert all(step.page in pages and step.question.endswith("?") for step in LESSON)


def test_tokens_explanation_counts_and_names_the_split_words(tiny_bert):
    f = facts(tiny_bert, "tokenization transformers")
    text = lessons.explain_tokens(f)
    assert f"**{int(f.encoding.lengths[0])} tokens**" in text
    split = [w for w in lessons.words(tiny_bert.batch_tokenizer, f.encoding, 0) if len(w) > 1]
    assert split  # the tiny vocabulary splits these words
    for word in split[:3]:
        assert " + ".join(word) in text
    assert "`##` continues the word before it" in text


def test_padding_explanation_matches_the_batch(tiny_bert):
    f = facts(tiny_bert, "attention lets every token look at every other token\nhello")
    text = lessons.explain_padding(f)
    B, S = f.encoding.shape
    short = int(f.encoding.lengths.min())
    assert (
        f"[{B}, {S}]" in text
        and f"**{S - short}** padding" in text
        and f"ID {f.encoding.pad_token_id}" in text
    )


def test_output_and_layers_explanations_match_the_hidden_states(tiny_gpt):
    f = facts(tiny_gpt, "The quick brown fox jumps")
    L1, B, S, D = f.run.hidden_states.shape
    assert f"**{L1}** hidden-state tensors" in lessons.explain_output(f)
    assert f"[{B}, {S}, {D}]" in lessons.explain_output(f)
    layer = int(re.search(r"\*\*layer (\d+)\*\*", lessons.explain_layers(f)).group(1))
    assert 1 <= layer <= L1 - 1


def test_logits_and_probabilities_explanations_use_the_head_scores(tiny_classifier, tiny_bert):
    f = facts(tiny_classifier, "what a great course")
    logits = f.run.logits[0]
    assert f"{logits[0]:.2f} for NEGATIVE" in lessons.explain_logits(f)
    probabilities = np.exp(logits) / np.exp(logits).sum()
    assert f"{probabilities.max():.1%}" in lessons.explain_probabilities(f)
    assert "no classification head" in lessons.explain_logits(facts(tiny_bert, "hello"))


@pytest.mark.parametrize("index", range(len(LESSON)))
def test_every_explanation_runs_on_a_model_of_the_right_kind(index, tiny_bert, tiny_classifier):
    step = LESSON[index]
    loaded = tiny_classifier if step.page == "pages/classification.py" else tiny_bert
    text = lessons.LESSON[index].text.lower().replace("didn't", "did not")
    # only what the step declares is run, as in the app: an explanation that needs more fails here
    assert step.explain(facts(loaded, text, step.hidden_states, step.attentions))


def test_the_mask_lesson_reports_the_pages_comparison(tiny_classifier):
    from explorer.explain.compare import mask_effect

    f = facts(
        tiny_classifier, "I've been waiting for a HuggingFace course my whole life.\nI hate this so much!"
    )
    effect = mask_effect(tiny_classifier, f.encoding.sentences)
    _, masked, unmasked = effect.cases
    # the course's point: the same with the mask; without it the hidden states change (a random tiny
    # classifier's logits are too small to show it clearly)
    assert masked.difference < 1e-5 and unmasked.hidden_difference > 1e-4
    text = lessons.explain_mask_effect(f)
    assert f"**{masked.difference:.1e}**" in text and f"**{unmasked.difference:.2g}**" in text
    assert f"**{effect.padding}** `[PAD]`" in text


@pytest.mark.parametrize("fixture", ["tiny_bert", "tiny_gpt", "tiny_llama"])
def test_the_layer_lesson_reports_the_walk_against_the_model(request, fixture):
    loaded = request.getfixturevalue(fixture)
    f = facts(loaded, "The bank of the river was muddy.", attentions=False)
    text = lessons.explain_one_layer(f)
    L = (
        loaded.config.num_hidden_layers
        if hasattr(loaded.config, "num_hidden_layers")
        else loaded.config.n_layer
    )
    assert f"Layer 1 of {L}" in text and "hidden_states[0]" in text and "`hidden_states[1]`" in text
    assert "the same numbers" in text and "not the same" not in text


def test_steps_using_names_the_classifier_steps():
    numbers = [i + 1 for i, step in enumerate(LESSON) if step.ref == lessons.CLASSIFIER]
    assert len(numbers) >= 3
    assert lessons.steps_using(lessons.CLASSIFIER).endswith(f" and {numbers[-1]}")
    assert lessons.steps_using("nothing") == "none"


def test_the_mask_lesson_opens_the_comparison_and_reads_the_pages_cached_result(tiny_classifier):
    import dataclasses

    step = next(s for s in LESSON if s.title == "Why the attention mask matters")
    assert step.settings.mask is True  # the page's section is closed unless the step opens it
    f = facts(tiny_classifier, "I hate this so much!\nA much longer second sentence to pad against.")
    from explorer.explain.compare import mask_effect

    effect = mask_effect(tiny_classifier, f.encoding.sentences)
    calls = []

    def cached():
        calls.append(1)
        return effect

    text = lessons.explain_mask_effect(dataclasses.replace(f, mask_effect=cached))
    assert calls == [1] and f"**{effect.cases[2].difference:.2g}**" in text


def _predicted(loaded, text: str) -> tuple[str, float]:
    """The tiny classifier's label and probability for ``text``, from its logits (softmax here)."""
    f = facts(loaded, text)
    logits = f.run.logits[0]
    probabilities = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    best = int(np.argmax(probabilities))
    return loaded.config.id2label[best], float(probabilities[best])


def _other(loaded, label: str) -> str:
    return next(name for name in loaded.config.id2label.values() if name != label)


def test_the_probabilities_step_says_when_the_model_is_wrong(tiny_classifier):
    import dataclasses

    first, second = "what a great course", "i hate this"
    (label_1, p_1), (label_2, p_2) = _predicted(tiny_classifier, first), _predicted(tiny_classifier, second)
    f = facts(tiny_classifier, f"{first}\n{second}")
    wrong = lessons.Labelled(first, _other(tiny_classifier, label_1))  # the model disagrees
    right = lessons.Labelled(second, label_2)
    text = lessons.explain_probabilities(dataclasses.replace(f, known=(wrong, right)))
    assert (
        f"“{first}” is {wrong.label.lower()}; the model says **{label_1}** ({p_1:.1%}): **it is wrong here**."
        in text
    )
    assert (
        f"“{second}” is {label_2.lower()}, and the model says **{label_2}** ({p_2:.1%}): it is right here."
        in text
    )
    assert text.endswith("Why does it fail?")
    # right on both: no question of failure; no known label: nothing said about right or wrong
    both_right = (lessons.Labelled(first, label_1), right)
    assert "wrong" not in lessons.explain_probabilities(dataclasses.replace(f, known=both_right))
    plain = lessons.explain_probabilities(f)
    assert "right here" not in plain and "wrong" not in plain


def test_the_why_step_frames_a_wrong_prediction_and_opens_the_models_own_label(tiny_classifier):
    import dataclasses

    step = next(s for s in LESSON if s.title == "Why this prediction?")
    assert step.settings.attr_show and step.settings.attr_target == ""  # "": the model's own prediction
    sentence = "what a great course"
    label, p = _predicted(tiny_classifier, sentence)
    f = dataclasses.replace(facts(tiny_classifier, sentence), settings=step.settings)
    wrong = lessons.Labelled(sentence, _other(tiny_classifier, label))
    text = lessons.explain_why(dataclasses.replace(f, known=(wrong,)))
    assert text.startswith(
        f"The sentence is {wrong.label.lower()}; the model says **{label}** ({p:.1%}): **it is wrong here**. "
        f"Why does it fail? Here is what pushes it towards {label}."
    )
    right = lessons.explain_why(dataclasses.replace(f, known=(lessons.Labelled(sentence, label),)))
    assert "it is right here" in right and "wrong" not in right
    # the step opens the section: no instruction to turn it on; closed, the instruction comes back
    assert "Turn on" not in text and "*Why this prediction?* below shows" in text
    closed = dataclasses.replace(f, settings=dataclasses.replace(step.settings, attr_show=False))
    assert "Turn on *Why this prediction?*" in lessons.explain_why(closed)


def test_a_lesson_sentences_label_is_declared_once_with_the_sentence():
    probabilities = next(s for s in LESSON if s.title == "Probabilities")
    why = next(s for s in LESSON if s.title == "Why this prediction?")
    assert probabilities.known == (lessons.FILM, lessons.SERVICE)
    assert probabilities.text == f"{lessons.FILM.text}\n{lessons.SERVICE.text}"
    assert why.known == (lessons.FILM,) and why.text == lessons.FILM.text
    assert (lessons.FILM.label, lessons.SERVICE.label) == ("POSITIVE", "NEGATIVE")
    # known labels are only said where the step's sentence is the one shown
    assert all(not s.known or s.page == "pages/classification.py" for s in LESSON)


def test_the_attention_step_opens_the_head_it_names():
    import dataclasses
    from types import SimpleNamespace

    step = next(s for s in LESSON if s.title == "Attention")
    tokens = ("[CLS]", "the", "animal", "was", "tired", "because", "it", "[SEP]")
    it, animal = tokens.index("it"), tokens.index("animal")
    rng = np.random.default_rng(0)
    attentions = rng.dirichlet(np.ones(len(tokens)), size=(3, 1, 4, len(tokens)))  # [L, B, H, S, S]
    attentions[2, 0, 3, it] = 0.01
    attentions[2, 0, 3, it, animal] = 0.93  # the head: layer 3 (from 1), head 3
    f = SimpleNamespace(
        encoding=SimpleNamespace(tokens=(tokens,), shown=(tokens,)),
        run=SimpleNamespace(attentions=attentions),
        settings=None,
    )
    opened = step.opens(f, step.settings)
    assert (opened.layer, opened.head) == (3, 3)
    assert dataclasses.replace(opened, layer=1, head=0) == step.settings  # nothing else changes
    text = step.explain(SimpleNamespace(**{**vars(f), "settings": opened}))
    assert "On layer 3, head 3" in text and "looks most at `animal` (93%" in text
    assert "**layer 3, head 3** (93%): the page shows it." in text
    elsewhere = step.explain(SimpleNamespace(**{**vars(f), "settings": step.settings}))
    assert "On layer 1, head 0" in elsewhere and elsewhere.endswith(": pick it above to see it.")
    assert "Open the head" not in step.question

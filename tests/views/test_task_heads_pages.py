"""Every page's View on the course's other heads (issue 19): token classification, question
answering, multiple choice and NLI on BERT, DistilBERT and RoBERTa, and a decoder classifier
(tests/families.py TASK_HEADS). Each page's builder runs without an exception, with its costly
sections turned on, and what it says about the head is checked against the checkpoint itself: the
model called here, its config, its modules, transformers' own classes, never the View's own numbers.

This is the fast "every page opens" matrix for these 13 families; the per-view test files run a
representative subset of them (tests/views/conftest.py)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from explorer.explain import attribution as at
from explorer.pipeline.encoding import encode_batch, split_sentences
from explorer.pipeline.run import run_model
from explorer.views import attention, generation, save_load
from explorer.views import attribution as attribution_view
from explorer.views import layer as layer_view
from explorer.views import model as model_view
from explorer.views import tokenizer as tokenizer_view
from tests.families import TASK_HEAD_NAMES, FamilyCheckpoint, build_and_load
from tests.view_contents import note_texts, strings

BATCH = ("The cat sat on the mat.", "A much longer sentence about the dog that ran in the park today.")


ALL = list(TASK_HEAD_NAMES)
CAUSALITY_KNOWN = list(TASK_HEAD_NAMES)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """built(name) -> FamilyCheckpoint, built and loaded once per module."""
    cache: dict[str, FamilyCheckpoint] = {}

    def get(name: str) -> FamilyCheckpoint:
        if name not in cache:
            cache[name] = build_and_load(name, tmp_path_factory.mktemp(f"heads-{name}"))
            assert cache[name].load_error is None, cache[name].load_error
        return cache[name]

    return get


def _batch(loaded, side: str | None = None):
    encoding = encode_batch(loaded.batch_tokenizer, BATCH, max_length=loaded.max_tokens, padding_side=side)
    return encoding, run_model(loaded, encoding, hidden_states=True, attentions=True)


def _direct(loaded, encoding) -> dict[str, tuple[int, ...]]:
    """The shapes of what the model returns when called here on the batch (a multiple-choice head
    with each sentence as its one choice, [B, 1, S])."""
    inputs = {"input_ids": torch.tensor(np.array(encoding.input_ids))}
    inputs["attention_mask"] = torch.tensor(np.array(encoding.attention_mask))
    if encoding.token_type_ids is not None:
        inputs["token_type_ids"] = torch.tensor(np.array(encoding.token_type_ids))
    if loaded.head_class == "AutoModelForMultipleChoice":
        inputs = {name: value[:, None] for name, value in inputs.items()}  # each [B, 1, S]
    with torch.no_grad():
        output = loaded.model(**inputs)
    return {name: tuple(value.shape) for name, value in output.items() if hasattr(value, "shape")}


# --- Model page --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_model_page_lists_the_real_heads_outputs(built, name):
    checkpoint = built(name)
    loaded, facts = checkpoint.loaded, checkpoint.family
    encoding, run = _batch(loaded)
    view = model_view.build(loaded, encoding, run, model_view.Settings(mask=True, random=True))
    returned = _direct(loaded, encoding)
    mine = [row for row in view.heads.table.rows if row["this checkpoint"]]
    assert {row["head class"] for row in mine} == {facts.head}
    assert {row["output"] for row in mine} == set(returned) - {"hidden_states", "attentions"}
    for row in mine:
        assert row["shape"] == str(list(returned[row["output"]])), row
    B, S = encoding.shape
    expected_axes = {
        "token-classifier": {"logits": (B, S, facts.num_labels)},
        "question-answering": {"start_logits": (B, S), "end_logits": (B, S)},
        "multiple-choice": {"logits": (B, 1)},
        "classifier": {"logits": (B, facts.num_labels)},
    }[facts.kind]
    assert {output: returned[output] for output in expected_axes} == expected_axes
    caption = view.heads.caption.text
    assert f"`{facts.architecture}`" in caption and loaded.task.head_description in caption
    for label in facts.labels:
        assert label in caption
    # What the head does, from the task registry: an NLI head reads sentence pairs.
    assert f"`{facts.head}` loaded a `{facts.architecture}`: {loaded.task.head_description}." in (
        view.config.sentence.text
    )
    assert ("natural-language-inference" in view.config.sentence.text) == facts.nli
    # The two costly sections ran: the mask comparison and random weights, without an exception.
    assert view.mask.effect is not None and view.mask.with_mask.kind == "success"
    assert view.random.comparison is not None
    expected_kind = "labels" if facts.kind == "classifier" else "similarity"
    assert view.random.comparison.kind == expected_kind


@pytest.mark.parametrize("name", ["bert-mc", "distilbert-mc", "roberta-mc"])
def test_a_multiple_choice_heads_mask_comparison_is_its_last_hidden_state(built, name):
    """The mask section runs a multiple-choice head with each sentence as its one choice: (a) is
    the sentence alone, whose last hidden state the model gives here with input [1, 1, S]."""
    loaded = built(name).loaded
    encoding, run = _batch(loaded)
    view = model_view.build(loaded, encoding, run, model_view.Settings(mask=True))
    effect = view.mask.effect
    inputs = loaded.tokenizer(effect.sentence, return_tensors="pt")
    with torch.no_grad():
        output = loaded.model(**{k: v[:, None] for k, v in inputs.items()}, output_hidden_states=True)
    np.testing.assert_allclose(effect.cases[0].values, output.hidden_states[-1][0].numpy(), atol=1e-5)
    assert effect.output == "last_hidden_state" and effect.cases[1].difference < 1e-4


@pytest.mark.parametrize("name", CAUSALITY_KNOWN)
def test_model_card_says_whether_attention_is_causal(built, name):
    checkpoint = built(name)
    loaded = checkpoint.loaded
    card = model_view.build(loaded, *_batch(loaded), model_view.Settings()).config.card
    expected = "decoder (causal attention)" if checkpoint.family.causal else "encoder (sees the whole text)"
    assert card.kind == expected


# --- Attention and layer pages ------------------------------------------------------------------


@pytest.mark.parametrize("name", CAUSALITY_KNOWN)
def test_attention_step_by_step_agrees_with_the_model(built, name):
    """Recomputed from the weights with the mask the model uses (padding, and the causal mask for a
    decoder body): the same attention weights the model returned."""
    loaded = built(name).loaded
    encoding, run = _batch(loaded)
    for sentence in (0, 1):
        view = attention.build(
            loaded, encoding, run, attention.Settings(sentence=sentence, layer=2, head=1, steps=True)
        )
        assert view.steps is not None and view.steps.same, view.steps.agreement.text
        assert view.heatmap.figure is not None and view.bertviz is not None


@pytest.mark.parametrize("name", CAUSALITY_KNOWN)
def test_layer_step_by_step_agrees_with_the_model(built, name):
    loaded = built(name).loaded
    encoding, run = _batch(loaded)
    view = layer_view.build(loaded, encoding, run, layer_view.Settings(layer=2))
    assert view.unsupported is None
    assert view.embeddings.same and view.layer.same, view.layer.agreement.text


# --- Tokenizer page -----------------------------------------------------------------------------


def _reads_pooler(loaded, encoding) -> bool:
    """Whether the head's logits change when the pooler's bias changes (in a copy of the model)."""
    model = copy.deepcopy(loaded.model)
    pooler = getattr(model.base_model, "pooler", None)
    if pooler is None:
        return False
    inputs = {"input_ids": torch.tensor(np.array(encoding.input_ids))[:, None]}  # [B, 1, S]
    inputs["attention_mask"] = torch.tensor(np.array(encoding.attention_mask))[:, None]
    with torch.no_grad():
        before = model(**inputs).logits
        pooler.dense.bias += 1.0
        after = model(**inputs).logits
    return not torch.allclose(before, after)


@pytest.mark.parametrize("name", ALL)
def test_tokenizer_page_says_what_the_first_token_is_for(built, name):
    checkpoint = built(name)
    loaded, facts = checkpoint.loaded, checkpoint.family
    view = tokenizer_view.build(
        loaded,
        split_sentences("\n".join(BATCH)),
        tokenizer_view.Settings(family_text=""),
        lambda *_: None,
        lambda: None,
        lambda: None,
    )
    assert len(view.sentences) == 2
    purpose = tokenizer_view.first_token_purpose(loaded)
    if loaded.tokenizer.cls_token is None:  # the Llama tokenizer has no classification token
        assert purpose is None and facts.name == "llama-cls"
        return
    first = loaded.tokenizer.convert_ids_to_tokens(loaded.tokenizer("a")["input_ids"][0])
    assert first == loaded.tokenizer.cls_token and "starts every sequence" in purpose
    if facts.kind == "token-classifier":
        assert "token-classification head labels every token" in purpose and "no task head" not in purpose
    elif facts.kind == "question-answering":
        assert "question-answering head scores every token" in purpose
    elif facts.kind == "multiple-choice":
        encoding, _ = _batch(loaded)
        reads = _reads_pooler(loaded, encoding)
        assert reads == (facts.model_type != "distilbert")
        assert ("through the pooler" in purpose) == reads
        assert ("last_hidden_state[:, 0]" in purpose) == (not reads)
    else:
        assert "classification head reads this token" in purpose


# --- Generation page ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_generation_page_says_these_heads_do_not_generate(built, name):
    loaded = built(name).loaded
    intro = generation.intro(loaded, split_sentences("\n".join(BATCH)))
    assert not intro.causal and not intro.fill_mask and intro.seq2seq is None
    assert f"`{built(name).family.head}`" in intro.not_causal.text
    fill = generation.build_fill_mask(loaded, None)
    assert fill.predictions == () and "no masked-LM head" in " ".join(note_texts(fill))
    fallback = built("bert-ner").loaded.tokenizer  # the page passes MiniLM's: any tokenizer with a mask
    recipe = generation.build_recipe(loaded, BATCH[0], 0, fallback if intro.recipe_needs_minilm else None)
    assert recipe.sentence.text


# --- Save and load page -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_save_and_load_round_trip_is_identical(built, name, tmp_path):
    import transformers

    checkpoint = built(name)
    loaded, facts = checkpoint.loaded, checkpoint.family
    encoding, _ = _batch(loaded)
    save_load.save(loaded, tmp_path / name)
    view = save_load.build(loaded, encoding, save_load.Settings(), tmp_path / name)
    saved = view.saved
    assert saved.verdict.kind == "success" and saved.identical, saved.verdict.text
    assert saved.round_trip.max_abs_difference == 0.0
    # Independently: the head class the family names reloads the very same tensors.
    again = getattr(transformers, facts.head).from_pretrained(tmp_path / name, dtype=torch.float32)
    assert type(again).__name__ == facts.architecture
    original = loaded.model.state_dict()
    for tensor_name, tensor in again.state_dict().items():
        assert torch.equal(tensor, original[tensor_name]), tensor_name
    B, S = encoding.shape
    expected = {
        "question-answering": ("start_logits and end_logits", (B, S)),
        "multiple-choice": ("logits", (B, 1)),
        "token-classifier": ("logits", (B, S, facts.num_labels)),
        "classifier": ("logits", (B, facts.num_labels)),
    }[facts.kind]
    assert (saved.round_trip.output, saved.round_trip.shape) == expected
    assert saved.config["architectures"] == [facts.architecture]


# --- Attributions -------------------------------------------------------------------------------

NO_SENTENCE_LABEL = {
    "token-classifier": "gives a label to every token",
    "question-answering": "start and the end of an answer",
    "multiple-choice": "one score per (prompt, choice) pair",
}


@pytest.mark.parametrize("name", ALL)
def test_attribution_explains_a_label_only_where_the_head_has_one(built, name):
    """A sentence label to explain: sequence classifiers that read one sentence. Token, span and
    choice heads, and an NLI head (which reads sentence pairs), get the reason instead."""
    checkpoint = built(name)
    loaded, facts = checkpoint.loaded, checkpoint.family
    note = attribution_view.not_available(loaded, "label")
    if facts.kind in NO_SENTENCE_LABEL:
        assert note.kind == "info" and NO_SENTENCE_LABEL[facts.kind] in note.text
        assert f"`{facts.architecture}`" in note.text
        return
    if facts.nli:
        assert note.kind == "info" and "sentence pairs" in note.text
        assert all(label in note.text for label in facts.labels)
        return
    assert note is None  # the decoder classifier: every method runs
    encoding, _ = _batch(loaded)
    one = at.row(encoding, 0)
    options = attribution_view.target_options(loaded, one, "label")
    assert {o.value for o in options} == set(facts.labels)
    assert one.attention_mask[0, -1] == 0  # the short sentence ends with padding (on the right)
    result = at.compute(loaded, one, at.classifier_target(loaded, one, options[0].value))
    assert result.completeness.relative_error < 0.05
    # The logit explained is the model's for the sentence alone, called here on its ids.
    ids = [int(i) for i in one.input_ids[0][one.attention_mask[0] == 1]]
    with torch.no_grad():
        direct = loaded.model(input_ids=torch.tensor([ids])).logits[0].double().numpy()  # [labels]
    assert result.logit == pytest.approx(direct[facts.labels.index(options[0].value)], abs=1e-4)
    shown = attribution_view.build(result, attribution_view.AttributionSettings())
    assert all("nan" not in text for text in strings(shown) if isinstance(text, str) and len(text) < 200)

"""Multiple choice (explorer.pipeline.tasks.multiple_choice) on tiny BERT, DistilBERT and RoBERTa
``*ForMultipleChoice`` heads built here. transformers has no multiple-choice pipeline, so the
reference is the model's own forward computed in the test, one prompt at a time ([1, C, S], as the
course builds it), with the softmax in torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.pipeline import tasks
from explorer.pipeline.encoding import encode_batch
from explorer.pipeline.tasks import multiple_choice as mc
from explorer.views import tasks as task_views
from explorer.views.tasks import multiple_choice as mc_view
from tests.conftest import load_local
from tests.families import (
    bert_builder,
    distilbert_builder,
    roberta_builder,
)
from tests.view_contents import note_texts, strings

PROMPTS = ("The quick brown fox jumps over the lazy dog.", "I hate this so much!")
CHOICES = ("It was fun.", "Tokens turn into vectors.", "I've been waiting my whole life.")
TYPED = " | ".join(CHOICES)
INIT = 0.5  # large random weights: logits that differ between choices


BUILDERS = {
    "bert": bert_builder(30, "BertForMultipleChoice", initializer_range=INIT),
    "distilbert": distilbert_builder(31, "DistilBertForMultipleChoice", initializer_range=INIT),
    "roberta": roberta_builder(32, "RobertaForMultipleChoice", initializer_range=INIT),
}


@pytest.fixture(scope="module", params=list(BUILDERS), ids=list(BUILDERS))
def mc_model(request, tmp_path_factory):
    loaded = load_local(BUILDERS[request.param](tmp_path_factory.mktemp(f"mc-{request.param}")))
    return request.param, loaded


@pytest.fixture(scope="module")
def bert_mc(tmp_path_factory):
    return load_local(BUILDERS["bert"](tmp_path_factory.mktemp("mc-bert-edge")))


def _build(loaded, prompts=PROMPTS, choices=TYPED):
    encoding = encode_batch(loaded.batch_tokenizer, list(prompts))
    return mc_view.build(loaded, encoding, None, tasks.TaskInputs(choices=choices))


def _reference(loaded, prompt: str, choices) -> tuple[np.ndarray, np.ndarray]:
    """(logits [C], probabilities [C]): the course's way, one prompt as a [1, C, S] batch."""
    batch = loaded.tokenizer([prompt] * len(choices), list(choices), padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = loaded.model(**{name: value.unsqueeze(0) for name, value in batch.items()}).logits[0]  # [C]
    return logits.double().numpy(), torch.softmax(logits.double(), dim=-1).numpy()


def _shown(prompt_scores, choices, column: str) -> np.ndarray:
    return np.array(
        [next(r[column] for r in prompt_scores.choices.rows if r["choice"] == c) for c in choices]
    )


def test_each_family_matches_its_own_forward_one_prompt_at_a_time(mc_model):
    name, loaded = mc_model
    assert loaded.task is tasks.MULTIPLE_CHOICE_TASK
    view = task_views.build_section(
        loaded,
        encode_batch(loaded.batch_tokenizer, list(PROMPTS)),
        None,
        tasks.TaskInputs(choices=" | ".join(CHOICES)),
    )
    assert isinstance(view, mc_view.View) and len(view.prompts) == len(PROMPTS)
    for b, prompt in enumerate(PROMPTS):
        logits, probabilities = _reference(loaded, prompt, CHOICES)
        shown = view.prompts[b]
        assert np.abs(_shown(shown, CHOICES, "logit") - logits).max() < 1e-4
        assert np.abs(_shown(shown, CHOICES, "probability") - probabilities).max() < 1e-4
        assert probabilities.max() - probabilities.min() > 1e-2  # choices differ: the test can fail
        assert CHOICES[int(np.argmax(probabilities))] in shown.best.text
        assert len(shown.chips) == len(CHOICES)
    texts = " ".join(note_texts(view))
    batch = mc.choice_batch(loaded, PROMPTS, CHOICES)
    assert f"**[{len(PROMPTS)}, {len(CHOICES)}, {batch['input_ids'].shape[-1]}]**" in texts
    assert f"**[{len(PROMPTS)}, {len(CHOICES)}]**" in texts
    if name == "bert":
        assert "**0**" in view.layout.text and "type 1" in view.prompts[0].chips[0].html
    else:  # DistilBERT and RoBERTa: no token_type_ids; the separator is read from the tokenizer
        assert "no `token_type_ids`" in view.layout.text
        assert "type " not in view.prompts[0].chips[0].html
        separator = "`</s>` `</s>`" if name == "roberta" else "`[SEP]`"
        assert separator in view.layout.text


def test_the_batch_is_prompts_by_choices_by_tokens(bert_mc):
    batch = mc.choice_batch(bert_mc, PROMPTS, CHOICES)
    B, C, S = batch["input_ids"].shape
    assert (B, C) == (2, 3) and batch["token_type_ids"].shape == (B, C, S)
    for b, prompt in enumerate(PROMPTS):
        for c, choice in enumerate(CHOICES):
            alone = bert_mc.tokenizer(prompt, choice)["input_ids"]
            assert batch["input_ids"][b, c, : len(alone)].tolist() == alone
            assert batch["attention_mask"][b, c].sum() == len(alone)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("", "Type the choices separated by `|`"),
        (" | |  ", "Type the choices separated by `|`"),
        ("only one", "needs at least two"),
        ("same | same", "needs at least two"),
    ],
)
def test_too_few_choices_give_a_note_with_an_example(bert_mc, typed, expected):
    view = _build(bert_mc, choices=typed)
    assert view.prompts == ()
    texts = note_texts(view)
    assert any(expected in text for text in texts)
    assert any(mc.EXAMPLE in text for text in texts)


def test_more_than_16_choices_are_capped_and_said(bert_mc):
    typed = " | ".join(f"choice {i}" for i in range(20))
    view = _build(bert_mc, prompts=PROMPTS[:1], choices=typed)
    assert len(view.prompts[0].choices.rows) == mc.MAX_CHOICES == 16
    assert any("20 choices" in text and "first 16" in text for text in note_texts(view))
    logits, _ = _reference(bert_mc, PROMPTS[0], [f"choice {i}" for i in range(16)])
    assert np.abs(_shown(view.prompts[0], [f"choice {i}" for i in range(16)], "logit") - logits).max() < 1e-4


def test_user_text_is_escaped_and_odd_scripts_run(bert_mc):
    prompts = ("<script>alert(1)</script> 😀 東京 مرحبا",)
    view = _build(bert_mc, prompts=prompts, choices="<b>bold</b> | 中文 | עברית")
    parts = [view.prompts[0].bars_html] + [c.html for c in view.prompts[0].chips]
    assert all("<script>" not in part and "<b>bold" not in part for part in parts)
    assert any("&lt;b&gt;bold&lt;/b&gt;" in part for part in parts)
    assert prompts[0] in strings(view)


def test_a_long_prompt_is_cut_and_said(bert_mc):
    long = " ".join(["the quick brown fox jumps over the lazy dog"] * 20)
    view = _build(bert_mc, prompts=(long,), choices="It was fun. | I hate this.")
    assert any("truncation cut it" in text for text in note_texts(view))
    assert len(view.prompts[0].choices.rows) == 2


def test_the_pipeline_page_draws_the_section(tmp_path):
    """The app itself (AppTest): a note until choices are typed, then the rows and probabilities."""
    from streamlit.testing.v1 import AppTest

    from explorer.pipeline.checkpoints import local_ref
    from tests.app.app_helpers import APP, TIMEOUT, html_of

    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["text"] = "\n".join(PROMPTS)
    at.query_params["ckpt"] = local_ref(str(BUILDERS["roberta"](tmp_path / "mc")))
    at.run()
    assert not at.exception
    choices = next(t for t in at.text_input if t.label == "Choices (separated by |)")
    if not choices.value:  # the default may be empty: the note shows how to type them
        assert any(mc.EXAMPLE in i.value for i in at.info)
    choices.set_value(TYPED).run()
    assert not at.exception
    assert html_of(at).count('data-testid="pair-chips"') == len(PROMPTS) * len(CHOICES)
    assert html_of(at).count('data-testid="probabilities"') >= len(PROMPTS)


def test_a_choice_without_tokens_runs_and_the_layout_uses_one_with_tokens(bert_mc):
    view = _build(bert_mc, prompts=("\u200b", PROMPTS[0]), choices="\u200b | It was fun.")
    assert len(view.prompts) == 2 and "*prompt*" in view.layout.text and "*choice*" in view.layout.text
    logits, _ = _reference(bert_mc, "\u200b", ["\u200b", "It was fun."])
    assert np.abs(_shown(view.prompts[0], ["\u200b", "It was fun."], "logit") - logits).max() < 1e-4

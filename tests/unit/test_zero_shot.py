"""Zero-shot classification (explorer.pipeline.tasks.zero_shot) on tiny NLI heads built here: BERT, DistilBERT
and RoBERTa, each with contradiction / neutral / entailment in a different order, against
transformers' own pipeline("zero-shot-classification") built in the test and against a hand
computation (one pair per forward pass, softmax in torch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from explorer.pipeline import tasks
from explorer.pipeline.encoding import encode_batch
from explorer.pipeline.tasks import zero_shot
from explorer.views import tasks as task_views
from explorer.views.tasks import zero_shot as zero_shot_view
from tests.conftest import _save, load_local
from tests.families import (
    bert_builder,
    distilbert_builder,
    roberta_builder,
)
from tests.view_contents import note_texts, strings

SENTENCES = ("I've been waiting for a HuggingFace course my whole life.", "I hate this so much!")
LABELS = "education, politics, business"


def _nli_config(order: tuple[str, ...]) -> dict:
    return {
        "num_labels": len(order),
        "id2label": dict(enumerate(order)),
        "label2id": {name: i for i, name in enumerate(order)},
        # Large random weights: logits that differ between pairs, so a wrong logit index changes the
        # scores by far more than 1e-5 (with the default 0.02 every score is 1/3 to 4 decimals).
        "initializer_range": 0.5,
    }


def _build_bert(folder: Path, order: tuple[str, ...]) -> Path:
    return bert_builder(20, "BertForSequenceClassification", **_nli_config(order))(folder)


def _build_distilbert(folder: Path, order: tuple[str, ...]) -> Path:
    return distilbert_builder(21, "DistilBertForSequenceClassification", **_nli_config(order))(folder)


def _build_roberta(folder: Path, order: tuple[str, ...]) -> Path:
    return roberta_builder(22, "RobertaForSequenceClassification", **_nli_config(order))(folder)


BERT_ORDER = ("contradiction", "neutral", "entailment")  # entailment last: "against" is 0 = contradiction
DISTIL_ORDER = ("ENTAILMENT", "NEUTRAL", "CONTRADICTION")  # entailment 0: "against" is the last
ROBERTA_ORDER = ("neutral", "entailment", "contradiction")  # "against" is 0 = neutral (by position)


@pytest.fixture(scope="module")
def bert_nli(tmp_path_factory):
    return load_local(_build_bert(tmp_path_factory.mktemp("nli-bert"), BERT_ORDER))


@pytest.fixture(scope="module")
def distil_nli(tmp_path_factory):
    return load_local(_build_distilbert(tmp_path_factory.mktemp("nli-distil"), DISTIL_ORDER))


@pytest.fixture(scope="module")
def roberta_nli(tmp_path_factory):
    return load_local(_build_roberta(tmp_path_factory.mktemp("nli-roberta"), ROBERTA_ORDER))


def _build(loaded, sentences=SENTENCES, **typed):
    encoding = encode_batch(loaded.batch_tokenizer, list(sentences))
    return zero_shot_view.build(loaded, encoding, None, tasks.TaskInputs(**typed))


def _shown_scores(view, labels: list[str]) -> np.ndarray:
    """[B, L] the score column of each sentence's pairs table, in the labels' order."""
    return np.array(
        [
            [next(r["score"] for r in s.pairs.rows if r["label"] == name) for name in labels]
            for s in view.sentences
        ]
    )


def _pipeline_scores(loaded, sentences, labels, template="This example is {}.", multi_label=False):
    """transformers' pipeline, built here on the same model and tokenizer."""
    from transformers import pipeline

    classifier = pipeline(
        "zero-shot-classification", model=loaded.model, tokenizer=loaded.tokenizer, device="cpu"
    )
    results = classifier(
        list(sentences), candidate_labels=labels, hypothesis_template=template, multi_label=multi_label
    )
    results = [results] if isinstance(results, dict) else results
    return np.array(
        [[dict(zip(r["labels"], r["scores"], strict=True))[name] for name in labels] for r in results]
    )


def _hand_scores(loaded, sentences, labels, entail: int, against: int, multi_label: bool) -> np.ndarray:
    """One pair per forward pass (no padding), softmax in torch: written apart from the module."""
    rows = []
    for sentence in sentences:
        logits = []
        for name in labels:
            batch = loaded.tokenizer(sentence, f"This example is {name}.", return_tensors="pt")
            with torch.no_grad():
                logits.append(loaded.model(**batch).logits[0])  # [K]
        logits = torch.stack(logits)  # [L, K]
        if multi_label or len(labels) == 1:
            rows.append(torch.softmax(logits[:, [against, entail]], dim=-1)[:, 1])
        else:
            rows.append(torch.softmax(logits[:, entail], dim=-1))
    return torch.stack(rows).double().numpy()


def test_an_nli_head_is_the_zero_shot_task(bert_nli, distil_nli, roberta_nli):
    for loaded in (bert_nli, distil_nli, roberta_nli):
        assert loaded.task is tasks.ZERO_SHOT
        view = task_views.build_section(
            loaded, encode_batch(loaded.batch_tokenizer, list(SENTENCES)), None, tasks.TaskInputs()
        )
        assert isinstance(view, zero_shot_view.View)


def test_bert_single_label_matches_the_pipeline_and_a_hand_computation(bert_nli):
    labels = ["education", "politics", "business"]
    view = _build(bert_nli, labels=LABELS)
    shown = _shown_scores(view, labels)
    theirs = _pipeline_scores(bert_nli, SENTENCES, labels)
    hand = _hand_scores(bert_nli, SENTENCES, labels, entail=2, against=0, multi_label=False)
    assert np.abs(shown - theirs).max() < 1e-4  # the table rounds to 4 decimals
    assert np.abs(shown - hand).max() < 1e-4
    assert np.allclose(shown.sum(axis=1), 1.0, atol=1e-3)  # single-label: the labels compete
    assert view.check.kind == "success" and "1e-05" not in view.check.text
    assert "largest difference" in view.check.text
    # The wrong entailment index would give other scores: the test can fail.
    wrong = _hand_scores(bert_nli, SENTENCES, labels, entail=0, against=2, multi_label=False)
    assert np.abs(wrong - hand).max() > 1e-2
    # BERT: token_type_ids under the chips, 0 for the sentence and 1 for the hypothesis.
    assert "**0**" in view.layout.text and "**1**" in view.layout.text
    assert "type 1" in view.sentences[0].chips[0].html
    assert view.heatmap is not None


def test_distilbert_multi_label_uses_the_last_logit_against_entailment_at_0(distil_nli):
    labels = ["education", "politics", "business"]
    view = _build(distil_nli, labels=LABELS, multi_label=True)
    shown = _shown_scores(view, labels)
    theirs = _pipeline_scores(distil_nli, SENTENCES, labels, multi_label=True)
    hand = _hand_scores(distil_nli, SENTENCES, labels, entail=0, against=2, multi_label=True)
    assert np.abs(shown - theirs).max() < 1e-4
    assert np.abs(shown - hand).max() < 1e-4
    assert view.check.kind == "success"
    texts = " ".join(note_texts(view))
    assert "logit **0**" in texts and "`CONTRADICTION`" in texts
    # No token_type_ids: the layout says what separates the texts, read from the tokenizer.
    assert "no `token_type_ids`" in view.layout.text and "`[SEP]`" in view.layout.text
    assert "type " not in view.sentences[0].chips[0].html


def test_roberta_follows_the_pipeline_rule_by_position_and_says_so(roberta_nli):
    labels = ["education", "politics", "business"]
    for multi_label in (False, True):
        view = _build(roberta_nli, labels=LABELS, multi_label=multi_label)
        shown = _shown_scores(view, labels)
        theirs = _pipeline_scores(roberta_nli, SENTENCES, labels, multi_label=multi_label)
        hand = _hand_scores(roberta_nli, SENTENCES, labels, entail=1, against=0, multi_label=multi_label)
        assert np.abs(shown - theirs).max() < 1e-4
        assert np.abs(shown - hand).max() < 1e-4
        assert view.check.kind == "success"
    warnings = [n.text for n in view.steps if n.kind == "warning"]
    assert warnings and "`neutral`" in warnings[0]
    # RoBERTa: no token_type_ids, and </s></s> between the sentence and the hypothesis.
    assert "no `token_type_ids`" in view.layout.text
    assert view.layout.text.count("`</s>`") >= 2 and "`<s>`" in view.layout.text
    assert "[SEP]" not in view.layout.text and "[CLS]" not in view.layout.text


def test_one_label_is_scored_on_its_own_as_the_pipeline_does(bert_nli):
    view = _build(bert_nli, labels="politics")
    shown = _shown_scores(view, ["politics"])
    theirs = _pipeline_scores(bert_nli, SENTENCES, ["politics"])
    assert np.abs(shown - theirs).max() < 1e-4
    assert 0 < shown.min() and shown.max() < 1  # not a softmax over one label (which gives 1)
    assert any("One label" in text for text in note_texts(view))


def test_a_custom_template_and_the_batched_logits_match_one_pair_at_a_time(bert_nli):
    labels = ["sports", "cooking", "weather", "music", "travel"]
    template = "The topic is {}!"
    view = _build(bert_nli, labels=", ".join(labels), template=template)
    shown = _shown_scores(view, labels)
    theirs = _pipeline_scores(bert_nli, SENTENCES, labels, template=template)
    assert np.abs(shown - theirs).max() < 1e-4
    assert view.sentences[0].pairs.rows[0]["hypothesis"] == "The topic is sports!"
    logits = zero_shot.pair_logits(bert_nli, [SENTENCES[1]] * 2, ["The topic is sports!", "x"])  # padded
    alone = bert_nli.model(**bert_nli.tokenizer(SENTENCES[1], "The topic is sports!", return_tensors="pt"))
    assert np.abs(logits[0] - alone.logits[0].detach().numpy()).max() < 1e-5


@pytest.mark.parametrize(
    ("labels", "template", "expected"),
    [
        ("", "This example is {}.", "Type candidate labels"),
        (" , ,, ", "This example is {}.", "Type candidate labels"),
        ("a, b", "This example is sports.", "has no `{}`"),
        ("a, b", "", "has no `{}`"),
        ("a, b", "{0} or {1}", "cannot be filled in"),
        ("a, b", "About {topic}.", "cannot be filled in"),
        ("a, b", "Unbalanced { brace {}", "cannot be filled in"),
        ("a, b", "{0.real}", "cannot be filled in"),
        ("abcd, b", "{0[2]}", "cannot be filled in"),  # fine for the first label, not the second
    ],
)
def test_bad_labels_or_templates_give_a_note_not_an_exception(bert_nli, labels, template, expected):
    view = _build(bert_nli, labels=labels, template=template)
    assert view.sentences == () and view.check is None
    assert any(expected in text for text in note_texts(view))


def test_more_than_100_labels_are_capped_and_repeats_counted_once(bert_nli):
    typed = ", ".join(f"label{i}" for i in range(130)) + ", label0, label1"
    view = _build(bert_nli, sentences=SENTENCES[:1], labels=typed)
    assert len(view.sentences[0].pairs.rows) == zero_shot.MAX_LABELS == 100
    texts = " ".join(note_texts(view))
    assert "130 labels" in texts and "first 100" in texts and "2 repeated label(s)" in texts
    assert view.check.kind == "success"  # 100 pairs: within the pipeline check's budget


def test_user_text_is_escaped_and_odd_scripts_run(bert_nli):
    sentences = ("<script>alert(1)</script> 😀 東京 مرحبا", "Plain words.")
    view = _build(bert_nli, sentences=sentences, labels="<b>bold</b>, 中文, עברית")
    html_parts = [s.bars_html for s in view.sentences] + [c.html for s in view.sentences for c in s.chips]
    assert all("<script>" not in part and "<b>bold" not in part for part in html_parts)
    assert any("&lt;b&gt;bold&lt;/b&gt;" in part for part in html_parts)
    assert view.check.kind == "success"
    assert "<script>alert(1)</script> 😀 東京 مرحبا" in strings(view)


def test_a_long_sentence_is_cut_and_said(bert_nli):
    long = " ".join(["the quick brown fox jumps over the lazy dog"] * 20)
    view = _build(bert_nli, sentences=(long,), labels="animals, cars")
    assert any("at most its first" in text for text in note_texts(view))
    theirs = _pipeline_scores(bert_nli, (long,), ["animals", "cars"])
    assert np.abs(_shown_scores(view, ["animals", "cars"]) - theirs).max() < 1e-4


def test_a_hypothesis_too_long_for_the_model_is_refused_with_a_note(bert_nli):
    view = _build(bert_nli, labels="fox " * 80 + ", dog")
    assert view.sentences == ()
    assert any("too long" in text for text in note_texts(view))


def test_sentences_past_the_token_budget_are_left_out_and_said(bert_nli, monkeypatch):
    monkeypatch.setattr(zero_shot, "MAX_PAIR_TOKENS", 100)  # about one sentence's 3 pairs of ~20 tokens
    sentences = (*SENTENCES, "The quick brown fox jumps over the lazy dog.")
    view = _build(bert_nli, sentences=sentences, labels=LABELS)
    assert len(view.sentences) == 1
    assert any("first 1 of 3 sentences" in text for text in note_texts(view))
    theirs = _pipeline_scores(bert_nli, sentences[:1], ["education", "politics", "business"])
    assert np.abs(_shown_scores(view, ["education", "politics", "business"]) - theirs).max() < 1e-4


def test_the_pipeline_page_draws_the_section(tmp_path):
    """The app itself (AppTest): the NLI checkpoint's step ③ with its inputs, chips and check."""
    from streamlit.testing.v1 import AppTest

    from explorer.pipeline.checkpoints import local_ref
    from tests.app.app_helpers import APP, TIMEOUT, html_of

    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["text"] = "I love this course.\nThe <b>market</b> fell."
    at.query_params["ckpt"] = local_ref(str(_build_roberta(tmp_path / "nli", ROBERTA_ORDER)))
    at.run()
    assert not at.exception
    assert [t.label for t in at.text_input][:2] == [
        "Candidate labels (comma-separated)",
        "Hypothesis template",
    ]
    assert html_of(at).count('data-testid="pair-chips"') == 6  # 3 pairs per sentence
    assert any("zero-shot-classification" in s.value for s in at.success)
    at.text_input[1].set_value("No braces here.").run()
    assert not at.exception and any("has no `{}`" in w.value for w in at.warning)


def test_a_decoder_nli_head_without_a_pad_token_runs_one_pair_at_a_time(tmp_path):
    """GPT-2's classifier finds each row's last token by the pad id and refuses padded batches when
    its config has none; the shared tokenizer must not get a pad token from the pipeline check."""
    import copy

    from transformers import GPT2Config, GPT2ForSequenceClassification

    from tests.conftest import _bpe_tokenizer

    torch.manual_seed(23)
    tokenizer = _bpe_tokenizer()
    order = ("entailment", "contradiction")
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=64,
        n_embd=32,
        n_layer=2,
        n_head=4,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **_nli_config(order),
    )
    loaded = load_local(_save(GPT2ForSequenceClassification(config), tokenizer, tmp_path / "gpt-nli"))
    assert loaded.task is tasks.ZERO_SHOT and loaded.tokenizer.pad_token is None
    view = _build(loaded, labels=LABELS, multi_label=True)
    assert loaded.tokenizer.pad_token is None  # the shared tokenizer is left as it was
    assert view.check.kind == "success"
    assert any("names no pad token" in text for text in note_texts(view))
    labels = ["education", "politics", "business"]
    from transformers import pipeline

    own = pipeline(
        "zero-shot-classification",
        model=loaded.model,
        tokenizer=copy.deepcopy(loaded.tokenizer),
        device="cpu",
    )
    results = own(list(SENTENCES), candidate_labels=labels, multi_label=True)
    theirs = np.array(
        [[dict(zip(r["labels"], r["scores"], strict=True))[n] for n in labels] for r in results]
    )
    assert np.abs(_shown_scores(view, labels) - theirs).max() < 1e-4


def test_a_sentence_without_tokens_runs_and_says_so(bert_nli):
    view = _build(bert_nli, sentences=("\u200b",), labels=LABELS)
    assert "no tokens at all" in view.layout.text and view.check.kind == "success"
    view = _build(bert_nli, sentences=("\u200b", "I hate this so much!"), labels=LABELS)
    assert "*sentence*" in view.layout.text and "no tokens" not in view.layout.text

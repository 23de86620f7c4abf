"""Question answering (explorer.pipeline.tasks.question_answering) against transformers 4's
pipeline("question-answering"), which version 5 removed.

The references (tests/reference/qa_reference.json) were made by tests/reference/make_qa_reference.py
with transformers 4.57 on the committed tiny checkpoints in tests/reference/qa_checkpoints; here the
same checkpoints load through the app's loader, and the section the Pipeline page draws must give
the same answers (same text and characters, score within 1e-5). The other tests compute by hand
(the model called directly, softmax and spans in NumPy) or check the messages for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from explorer.errors import InputError
from explorer.pipeline import tasks
from explorer.pipeline.encoding import encode_batch
from explorer.pipeline.run import run_model
from explorer.pipeline.tasks import TaskInputs
from explorer.pipeline.tasks import question_answering as qa
from explorer.views import tasks as task_views
from explorer.views.tasks import question_answering as qa_view
from tests.conftest import load_local

REFERENCE_DIR = Path(__file__).resolve().parents[1] / "reference"
REFERENCE = json.loads((REFERENCE_DIR / "qa_reference.json").read_text(encoding="utf-8"))
NAMES = ("bert", "distilbert", "roberta")
LONG = [
    "Transformers turn tokens into vectors, layer by layer.",
    "Attention lets every token look at every other token.",
    "Tokenizers split text into words, subwords or characters.",
    "The quick brown fox jumps over the lazy dog.",
]


@pytest.fixture(scope="module", params=NAMES)
def checkpoint(request):
    return request.param, load_local(REFERENCE_DIR / "qa_checkpoints" / request.param)


@pytest.fixture(scope="module")
def bert():
    return load_local(REFERENCE_DIR / "qa_checkpoints" / "bert")


def section(loaded, sentences, question):
    """Step ③ as the Pipeline page builds it: the sidebar's sentences, their run, the question."""
    encoding = encode_batch(loaded.batch_tokenizer, sentences)
    run = run_model(loaded, encoding)
    return task_views.build_section(loaded, encoding, run, TaskInputs(question=question))


def test_reference_was_made_by_transformers_4():
    assert REFERENCE["transformers"].startswith("4.")
    assert any(row["windows"] > 1 for rows in REFERENCE["answers"].values() for row in rows)


def test_answers_match_transformers_4_pipeline(checkpoint):
    name, loaded = checkpoint
    assert loaded.task is tasks.QUESTION_ANSWERING_TASK
    for pair, expected in zip(REFERENCE["pairs"], REFERENCE["answers"][name], strict=True):
        view = section(loaded, pair["sentences"], pair["question"])
        assert isinstance(view, qa_view.View) and view.problem is None
        answer = view.result.answer
        got = (answer.text, answer.start, answer.end)
        assert got == (expected["answer"], expected["start"], expected["end"]), (name, pair["question"])
        assert abs(answer.score - expected["score"]) <= 1e-5, (name, pair["question"])
        assert view.result.windows.total == expected["windows"]


def _by_hand(loaded, question: str, context: str):
    """One window by hand: the model called directly, softmax over context tokens and CLS, the
    first token set to 0, the best span by looping over every (start, end)."""
    import torch

    tokenizer = loaded.tokenizer
    encoded = tokenizer(question, context, return_tensors="pt")
    names = set(tokenizer.model_input_names)
    with torch.inference_mode():
        output = loaded.model(**{k: v for k, v in encoded.items() if k in names})
    sequence = np.array([-1 if s is None else s for s in encoded.sequence_ids(0)])
    ids = encoded["input_ids"][0].numpy()
    allowed = (sequence == 1) | (ids == tokenizer.cls_token_id)

    def probs(logits):
        values = np.where(allowed, logits[0].double().numpy(), -np.inf)
        exp = np.exp(values - values.max())
        result = exp / exp.sum()
        result[0] = 0.0
        return result

    start, end = probs(output.start_logits), probs(output.end_logits)
    best = max(
        ((s, e, start[s] * end[e]) for s in range(len(ids)) for e in range(s, min(s + 15, len(ids)))),
        key=lambda item: item[2],
    )
    return start, end, best


def test_probabilities_and_best_span_by_hand(checkpoint):
    _, loaded = checkpoint
    question, context = "Where do I work?", "My name is Sylvain and I work at Hugging Face in Brooklyn."
    start, end, (s, e, score) = _by_hand(loaded, question, context)
    result = qa.answer_question(loaded, question, context)
    window = result.results[0]
    np.testing.assert_allclose(window.start_probabilities, start, atol=1e-6)
    np.testing.assert_allclose(window.end_probabilities, end, atol=1e-6)
    assert all(
        p == 0.0
        for p, segment in zip(window.start_probabilities, window.segments, strict=True)
        if segment != qa.CONTEXT
    )
    top = window.spans[0]
    assert (top.start_token, top.end_token) == (s, e)
    assert top.score == pytest.approx(score, abs=1e-6)
    assert top.end_token - top.start_token < qa.MAX_ANSWER_TOKENS


def test_windows_overlap_by_the_stride(checkpoint):
    _, loaded = checkpoint
    result = qa.answer_question(loaded, "What turns tokens into vectors?", " ".join(LONG * 2))
    windows = result.windows
    max_length, stride = qa.window_settings(loaded)
    assert (windows.max_length, windows.stride) == (max_length, stride) == (64, 32)
    assert windows.total == len(result.results) >= 2
    question = [
        t
        for t, s in zip(result.results[0].tokens, result.results[0].segments, strict=True)
        if s == qa.QUESTION
    ]
    for before, after in zip(result.results, result.results[1:], strict=False):
        assert len(before.tokens) <= max_length
        # every window repeats the question
        assert [t for t, s in zip(after.tokens, after.segments, strict=True) if s == qa.QUESTION] == question
        context_before = [i for i, s in enumerate(before.segments) if s == qa.CONTEXT]
        context_after = [i for i, s in enumerate(after.segments) if s == qa.CONTEXT]
        shared = [before.tokens[i] for i in context_before[-stride:]]
        assert [after.tokens[i] for i in context_after[:stride]] == shared
        assert after.context_span[0] < before.context_span[1]


def test_the_pair_is_described_for_each_family(checkpoint):
    name, loaded = checkpoint
    view = section(loaded, ["My name is Sylvain and I work at Hugging Face in Brooklyn."], "Where do I work?")
    pair = view.steps[0].text
    if name == "bert":
        assert "`[CLS]` *question* `[SEP]` *context* `[SEP]`" in pair
        assert "`token_type_ids` are 0 on the question and 1 on the context" in pair
    else:
        assert "no `token_type_ids`" in pair and "token_type_ids` are" not in pair
    if name == "roberta":
        assert "`<s>` *question* `</s>` `</s>` *context* `</s>`" in pair and "[CLS]" not in pair
    masking = next(note.text for note in view.steps if note.text.startswith("Only context tokens"))
    cls = "`<s>`" if name == "roberta" else "`[CLS]`"
    assert f"The {cls} token stays in the softmax" in masking
    assert "one window" in view.steps[1].text


def test_empty_question_and_context_give_a_message(bert):
    for question in ("", "   "):
        view = section(bert, ["The quick brown fox jumps over the lazy dog."], question)
        assert view.problem is not None and "Type a question" in view.problem.text
        assert view.figures == () and view.result is None
    with pytest.raises(InputError, match="context is empty"):
        qa.answer_question(bert, "Who?", "   ")


def test_a_question_too_long_for_a_window_gives_a_message(bert):
    view = section(bert, LONG * 3, "Which token " * 25 + "?")
    assert view.problem is not None and "Shorten the question" in view.problem.text


def test_a_huge_context_is_cut_to_the_window_cap(bert):
    view = section(bert, ["The quick brown fox jumps over the lazy dog. " * 80], "What jumps?")
    result = view.result
    assert result.windows.total > qa.MAX_WINDOWS == len(result.results) == len(view.figures)
    warnings = [n.text for n in view.steps if n.kind == "warning"]
    assert len(warnings) == 1 and f"only the first {qa.MAX_WINDOWS} were searched" in warnings[0]
    assert result.answer is not None and result.answer.end <= result.results[-1].context_span[1]


def test_user_text_is_escaped(bert):
    sentences = ["<script>alert(1)</script> <b>bold</b> & café 東京 🙂 שלום"]
    view = section(bert, sentences, "<img src=x onerror=alert(1)>?")
    for raw in ("<script>", "<img", "<b>bold"):
        assert raw not in view.answer_html
    assert "&lt;script&gt;" in view.answer_html and "&lt;img" in view.answer_html
    figure = view.figures[0]
    assert all("<" not in str(label) for trace in figure.data for label in trace.x)


def test_the_chart_has_both_logits_and_greys_the_masked_tokens(bert):
    view = section(bert, ["My name is Sylvain and I work at Hugging Face in Brooklyn."], "Where do I work?")
    window = view.result.results[0]
    start, end = view.figures[0].data
    assert len(start.x) == len(end.x) == len(window.tokens)
    np.testing.assert_allclose(start.y, np.round(window.start_logits, 4), atol=1e-4)
    np.testing.assert_allclose(end.y, np.round(window.end_logits, 4), atol=1e-4)
    for colour, segment, token in zip(start.marker.color, window.segments, window.tokens, strict=True):
        if segment == qa.QUESTION or token == "[SEP]":
            assert colour == qa_view._MASKED_COLOUR
    part = view.result.answer.parts[0]
    assert start.marker.color[part.start_token] == end.marker.color[part.end_token] == qa_view._ANSWER_COLOUR


def test_pipeline_page_draws_the_section(tmp_path):
    """The Pipeline page with the BERT QA folder opened as a local folder (AppTest)."""
    import shutil

    from streamlit.testing.v1 import AppTest

    from explorer import ui
    from explorer.pipeline import checkpoints

    folder = tmp_path / "bert-qa"
    shutil.copytree(REFERENCE_DIR / "qa_checkpoints" / "bert", folder)
    app = str(Path(__file__).resolve().parents[2] / "streamlit_app.py")
    at = AppTest.from_file(app, default_timeout=120)
    at.session_state[ui.TEXT_KEY] = "My name is Sylvain and I work at Hugging Face in Brooklyn."
    at.session_state[ui.PICK_KEY] = checkpoints.LOCAL_FOLDER.ref
    at.run()
    at.text_input(key=ui.FOLDER_KEY).input(str(folder))
    at._finished_page_script_hash = ""  # rerun the default page, as the browser does
    at.run()
    assert not at.exception
    html = "\n".join(element.proto.body for element in at.get("html"))
    assert 'data-testid="qa-answer"' in html
    assert any('removed `pipeline("question-answering")`' in m.value for m in at.info)
    assert len(at.get("plotly_chart")) >= 1
    from explorer.views.pipeline import Settings
    from explorer.views.settings import state_key

    at.text_input(key=state_key(Settings, "question")).input("   ")
    at._finished_page_script_hash = ""
    at.run()
    assert not at.exception
    assert any("Type a question" in w.value for w in at.warning)
    html = "\n".join(element.proto.body for element in at.get("html"))
    assert 'data-testid="qa-answer"' not in html


def test_a_decoder_with_a_qa_head_and_no_pad_token(tmp_path):
    """GPT2ForQuestionAnswering: no pad token (windows padded with the app's stand-in), no special
    tokens, no CLS: nothing said about tokens it does not have; probabilities by hand still match."""
    import torch
    from transformers import GPT2Config, GPT2ForQuestionAnswering

    from tests.conftest import _bpe_tokenizer, _save

    torch.manual_seed(7)
    tokenizer = _bpe_tokenizer()
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=64, n_embd=32, n_layer=2, n_head=4)
    loaded = load_local(_save(GPT2ForQuestionAnswering(config), tokenizer, tmp_path / "gpt2-qa"))
    assert loaded.task is tasks.QUESTION_ANSWERING_TASK and loaded.tokenizer.pad_token is None
    view = section(loaded, LONG * 2, "What jumps?")
    assert view.problem is None and view.result.windows.total >= 2
    text = " ".join(note.text for note in view.steps)
    assert "*question* *context*" in text and "nothing marks where one text ends" in text
    assert "special tokens" not in text.replace("As one pair", "") and "CLS" not in text
    question, context = "What jumps?", "The quick brown fox jumps over the lazy dog."
    window = qa.answer_question(loaded, question, context).results[0]
    encoded = loaded.tokenizer(question, context, return_tensors="pt")
    with torch.inference_mode():
        output = loaded.model(**encoded)
    context_tokens = np.array([s == 1 for s in encoded.sequence_ids(0)])
    logits = np.where(context_tokens, output.start_logits[0].double().numpy(), -np.inf)
    expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    np.testing.assert_allclose(window.start_probabilities, expected, atol=1e-6)


def test_a_pasted_book_is_cut_before_tokenizing(bert):
    context = "The quick brown fox jumps over the lazy dog. " * 3000  # 135,000 characters
    view = section(bert, [context], "What jumps?")
    warning = next(n.text for n in view.steps if n.kind == "warning")
    assert f"The first {qa.MAX_CONTEXT_CHARACTERS:,} characters" in warning and "135,000" in warning
    assert len(view.result.results) == qa.MAX_WINDOWS

"""Token classification (NER): our labels and entities against transformers' own
pipeline("token-classification"), run in the test on the saved folder (its own loading, its own
tokenization, one sentence at a time), for every aggregation strategy and three families."""

from __future__ import annotations

import html
import re
from pathlib import Path

import numpy as np
import pytest

from explorer.pipeline.encoding import encode_batch
from explorer.pipeline.run import run_model
from explorer.pipeline.tasks import TaskInputs, token_classification
from explorer.views.tasks import build_section
from explorer.views.tasks import token_classification as token_classification_view
from tests.conftest import _save, load_local
from tests.families import bert_builder, distilbert_builder, roberta_builder

# transformers' pipeline warns on tokenizers without a continuing-subword prefix (RoBERTa, GPT-2);
# the page says how it finds words instead.
pytestmark = pytest.mark.filterwarnings("ignore:Tokenizer does not support real words:UserWarning")

NER = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
PLAIN = ("O", "PER", "ORG", "LOC")
SENTENCES = [
    "My name is Sylvain and I work at Hugging Face in Brooklyn.",
    "Tokenizers split text, layer by layer!",
    "😀 Paris <b>Berlin</b>",
]
STRATEGIES = token_classification.STRATEGIES


def _labelled(labels: tuple[str, ...]) -> dict:
    return dict(
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={x: i for i, x in enumerate(labels)},
    )


def _sharpen(model) -> None:
    """Random weights give every token nearly the same near-uniform scores; a larger classifier
    spreads the labels, so B-/I- runs, word splits and "O" gaps all occur."""
    import torch

    with torch.no_grad():
        model.classifier.weight.mul_(30.0)


def _builder(body, model_class: str):
    """(folder, labels, seed) -> the saved checkpoint: ``body``'s token classifier, sharpened."""
    return lambda folder, labels, seed: body(seed, model_class, after=_sharpen, **_labelled(labels))(folder)


BUILDERS = {
    "bert": _builder(bert_builder, "BertForTokenClassification"),
    "distilbert": _builder(distilbert_builder, "DistilBertForTokenClassification"),
    "roberta": _builder(roberta_builder, "RobertaForTokenClassification"),
}


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    built = {
        name: build(tmp_path_factory.mktemp(f"ner-{name}"), NER, 40 + i)
        for i, (name, build) in enumerate(BUILDERS.items())
    }
    built["plain"] = BUILDERS["bert"](tmp_path_factory.mktemp("ner-plain"), PLAIN, 50)
    return built


@pytest.fixture(scope="module")
def checkpoints(folders) -> dict:
    return {name: load_local(folder) for name, folder in folders.items()}


_PIPELINES: dict[Path, object] = {}


def _reference(folder: Path, sentences: list[str], strategy: str) -> list[list[dict]]:
    """transformers' pipeline on the folder, loaded by transformers itself."""
    import warnings

    from transformers import pipeline

    if folder not in _PIPELINES:
        _PIPELINES[folder] = pipeline(
            "token-classification", model=str(folder), tokenizer=str(folder), device="cpu"
        )
    runner = _PIPELINES[folder]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # RoBERTa's "fallback heuristic" warning
        return [runner(sentence, aggregation_strategy=strategy) for sentence in sentences]


def _view(loaded, sentences: list[str], strategy: str, padding_side: str | None = None):
    encoding = encode_batch(
        loaded.batch_tokenizer, sentences, max_length=loaded.max_tokens, padding_side=padding_side
    )
    return build_section(loaded, encoding, run_model(loaded, encoding), TaskInputs(aggregation=strategy))


def _assert_same(view, reference: list[list[dict]], strategy: str) -> int:
    assert len(view.sentences) == len(reference)
    count = 0
    for section, theirs in zip(view.sentences, reference, strict=True):
        ours = section.entities
        key = "entity" if strategy == "none" else "entity_group"
        assert [(e.word, e.start, e.end, e.label) for e in ours] == [
            (t["word"], t["start"], t["end"], t[key]) for t in theirs
        ]
        for entity, their in zip(ours, theirs, strict=True):
            assert abs(entity.score - float(their["score"])) <= 1e-5
            if strategy == "none":
                assert entity.index == their["index"]
        count += len(ours)
    return count


@pytest.mark.parametrize("family", list(BUILDERS))
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_entities_equal_the_pipeline(checkpoints, folders, family, strategy):
    loaded = checkpoints[family]
    assert loaded.task.name == "token-classification"
    view = _view(loaded, SENTENCES, strategy)
    count = _assert_same(view, _reference(folders[family], SENTENCES, strategy), strategy)
    assert count > 0
    assert view.strategy == strategy
    assert view.largest_difference is not None and view.largest_difference <= 1e-5
    assert view.check.kind == "success" and "the same" in view.check.text


@pytest.mark.parametrize("family", list(BUILDERS))
def test_the_strategies_do_different_things(checkpoints, family):
    """The test sentences exercise merging: simple joins B-/I- runs into multi-token entities,
    and the word strategies give fewer entries than tokens."""
    loaded = checkpoints[family]
    views = {strategy: _view(loaded, SENTENCES, strategy) for strategy in STRATEGIES}
    counts = {s: sum(len(x.entities) for x in v.sentences) for s, v in views.items()}
    assert counts["simple"] < counts["none"]
    assert any(len(e.positions) > 1 for x in views["simple"].sentences for e in x.entities)
    assert len({tuple(e.label for x in v.sentences for e in x.entities) for v in views.values()}) > 2


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_plain_labels_group_as_the_pipeline_does(checkpoints, folders, strategy):
    view = _view(checkpoints["plain"], SENTENCES, strategy)
    _assert_same(view, _reference(folders["plain"], SENTENCES, strategy), strategy)
    assert "no `B-`/`I-` prefixes" in view.intro.text


@pytest.mark.parametrize("strategy", ["none", "simple", "first"])
def test_left_padding_keeps_the_pipeline_indices(checkpoints, folders, strategy):
    view = _view(checkpoints["bert"], SENTENCES, strategy, padding_side="left")
    _assert_same(view, _reference(folders["bert"], SENTENCES, strategy), strategy)


def test_token_labels_are_the_softmax_of_the_logits(checkpoints):
    """The chips: label = argmax of id2label, probability = softmax computed here by hand."""
    loaded = checkpoints["distilbert"]
    encoding = encode_batch(loaded.batch_tokenizer, SENTENCES[:2], max_length=loaded.max_tokens)
    run = run_model(loaded, encoding)
    view = build_section(loaded, encoding, run, TaskInputs(aggregation="none"))
    logits = run.token_logits.astype(np.float64)  # [B, S, K]
    for b, section in enumerate(view.sentences):
        assert [t.position for t in section.tokens] == list(np.flatnonzero(encoding.attention_mask[b]))
        for token in section.tokens:
            row = logits[b, token.position]
            probabilities = np.exp(row - row.max()) / np.exp(row - row.max()).sum()
            assert token.label == NER[int(row.argmax())]
            assert token.probability == pytest.approx(probabilities.max(), abs=1e-9)
        assert section.tokens[0].special and section.tokens[-1].special  # [CLS] ... [SEP]
    assert "`[CLS]`, `[SEP]`" in view.intro.text and "[2, " in view.intro.text


def test_roberta_intro_names_its_own_special_tokens(checkpoints):
    view = _view(checkpoints["roberta"], SENTENCES[:1], "simple")
    assert "`</s>`, `<s>`" in view.intro.text and "[CLS]" not in view.intro.text


def test_html_in_the_text_is_escaped(checkpoints):
    sentence = '<script>alert("x")</script> Paris <img src=x onerror=alert(1)>'
    for family in BUILDERS:
        view = _view(checkpoints[family], [sentence], "simple")
        section = view.sentences[0]
        for fragment in (section.chips_html, section.highlight_html):
            assert "<script>" not in fragment and "<img" not in fragment
        # Every character of the sentence is text: our own tags and entity labels removed, what is
        # left unescapes to the sentence (a raw <script> tag would have been removed with them).
        shown = re.sub(
            r'<span class="tx-ner-tag">[^<]*</span>', "", section.highlight_html.split("</style>\n", 1)[1]
        )
        assert html.unescape(re.sub(r"<[^>]+>", "", shown)) == sentence
        assert section.entities, "the random head labels some of these tokens"


def test_emoji_and_typed_special_tokens_still_match(checkpoints, folders):
    sentences = ["😀😀 🎉", "[CLS] [SEP]", "東京 مرحبا"]
    for family in ("bert", "roberta"):
        for strategy in ("none", "simple", "max"):
            view = _view(checkpoints[family], sentences, strategy)
            _assert_same(view, _reference(folders[family], sentences, strategy), strategy)


def test_a_sentence_with_no_token_to_label(checkpoints):
    """A zero-width space tokenizes to nothing: only [CLS] [SEP], which the pipeline skips."""
    view = _view(checkpoints["bert"], ["\u200b", SENTENCES[0]], "simple")
    empty = view.sentences[0]
    assert empty.entities == () and empty.entities_table is None
    assert any("only special tokens" in note.text for note in empty.notes)
    assert view.check.kind == "success"


def test_bad_strategy_names_fall_back_to_simple():
    assert token_classification_view.parse_strategy("MAX ", fast=True) == ("max", ())
    strategy, notes = token_classification_view.parse_strategy("<b>bogus</b>", fast=True)
    assert strategy == "simple" and notes[0].kind == "warning"
    strategy, notes = token_classification_view.parse_strategy("first", fast=False)
    assert strategy == "simple" and "fast tokenizer" in notes[0].text


def test_grouping_by_hand():
    """group(): B- starts a new entity even after the same type; I- continues; O breaks; a plain
    label continues its own type; the score is the mean."""
    Entity = token_classification.Entity

    def e(label: str, score: float, word: str) -> Entity:
        return Entity(label=label, score=score, word=word, start=0, end=0)

    entries = [e("B-PER", 0.9, "a"), e("I-PER", 0.5, "b"), e("B-PER", 0.7, "c"), e("O", 0.8, "d")]
    entries += [e("I-LOC", 0.6, "f"), e("LOC", 0.2, "g"), e("PER", 0.4, "h")]
    grouped = token_classification.group(entries, " ".join)
    assert [(g.label, g.word) for g in grouped] == [
        ("PER", "a b"),
        ("PER", "c"),
        ("O", "d"),
        ("LOC", "f g"),
        ("PER", "h"),
    ]
    assert grouped[0].score == pytest.approx(0.7) and grouped[3].score == pytest.approx(0.4)


def test_mismatch_is_reported():
    Entity = token_classification.Entity
    ours = [[Entity(label="PER", score=0.5, word="paris", start=0, end=5)]]
    largest, rows = token_classification.compare(
        ours, [[{"entity_group": "LOC", "score": 0.5, "word": "paris", "start": 0, "end": 5}]]
    )
    assert largest is None and rows[0]["ours"].startswith("PER") and rows[0]["pipeline"].startswith("LOC")
    largest, rows = token_classification.compare(
        ours, [[{"entity_group": "PER", "score": 0.25, "word": "paris", "start": 0, "end": 5}]]
    )
    assert largest == pytest.approx(0.25) and rows == []


def test_typed_special_tokens_are_said(checkpoints):
    view = _view(checkpoints["bert"], ["[CLS] [SEP] Paris"], "simple")
    assert any("`[CLS]`, `[SEP]` became that special token" in note.text for note in view.sentences[0].notes)


def test_a_sentence_longer_than_the_model(checkpoints, folders):
    """Truncated at the model's 64 tokens, as the pipeline truncates: the same entities, and the
    highlight says how much of the sentence was cut."""
    long = " ".join(["Sylvain works at Hugging Face in Brooklyn."] * 20)
    view = _view(checkpoints["bert"], [long], "simple")
    _assert_same(view, _reference(folders["bert"], [long], "simple"), "simple")
    section = view.sentences[0]
    assert len(section.tokens) == 64
    assert "more characters cut by truncation" in section.highlight_html
    assert any(note.kind == "warning" and "Truncation cut" in note.text for note in section.notes)


def _gpt2(folder: Path, labels: tuple[str, ...], seed: int) -> Path:
    """A decoder under a token-classification head: byte-level BPE, no pad token (the app batches
    with its own pad), causal attention."""
    import torch
    from transformers import GPT2Config, GPT2ForTokenClassification

    from tests.conftest import _bpe_tokenizer

    torch.manual_seed(seed)
    tokenizer = _bpe_tokenizer()
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=64,
        n_embd=32,
        n_layer=2,
        n_head=4,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **_labelled(labels),
    )
    model = GPT2ForTokenClassification(config)
    _sharpen(model)
    return _save(model, tokenizer, folder)


@pytest.mark.parametrize("strategy", ["none", "simple", "average"])
def test_a_decoder_token_classifier(tmp_path_factory, strategy):
    folder = _gpt2(tmp_path_factory.mktemp(f"ner-gpt2-{strategy}"), NER, 60)
    loaded = load_local(folder)
    view = _view(loaded, SENTENCES, strategy)
    _assert_same(view, _reference(folder, SENTENCES, strategy), strategy)
    assert loaded.tokenizer.pad_token is None  # the check ran the pipeline without changing the shared one
    assert "is a decoder" in view.intro.text and "none in this batch" in view.intro.text


def test_an_encoder_is_not_called_a_decoder(checkpoints):
    for family in BUILDERS:
        assert "decoder" not in _view(checkpoints[family], SENTENCES[:1], "simple").intro.text

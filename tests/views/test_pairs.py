"""Sentence pairs on the Classification page: BERT's next-sentence prediction only from weights
that carry it (checked against a direct BertForNextSentencePrediction forward + softmax), never a
random head; a pair classifier fine-tuned here classifies the pair box; every family says plainly
whether it has an NSP head."""

from __future__ import annotations

import json

import pytest
import torch

from explorer.errors import InputError
from explorer.explain import pairs as pair_io
from explorer.pipeline.checkpoints import TRAINING_METADATA, local_ref, resolve
from explorer.pipeline.loading import load_checkpoint
from explorer.views import classification as cls
from tests.conftest import _bert_config, _save, _wordpiece_tokenizer

PAIRS = (
    "The quick brown fox jumps. ||| The lazy dog sleeps.\n"
    "Attention lets every token look. ||| Tokenizers split text into words."
)
FIRSTS = ("The quick brown fox jumps.", "Attention lets every token look.")
SECONDS = ("The lazy dog sleeps.", "Tokenizers split text into words.")


@pytest.fixture(scope="module")
def pretraining_dir(tmp_path_factory):
    """A tiny BertForPreTraining (MLM + NSP heads) saved with save_pretrained."""
    from transformers import BertForPreTraining

    torch.manual_seed(3)
    tokenizer = _wordpiece_tokenizer()
    model = BertForPreTraining(_bert_config(len(tokenizer)))
    with torch.no_grad():  # a head far from its initialisation, so a random one could not match it
        model.cls.seq_relationship.weight.normal_(0, 1.0)
        model.cls.seq_relationship.bias.copy_(torch.tensor([0.7, -0.4]))
    return _save(model, tokenizer, tmp_path_factory.mktemp("tiny-bert-pretraining"))


@pytest.fixture(scope="module")
def bare_bert_dir(tmp_path_factory):
    """A tiny BertModel: no pre-training heads at all (like MiniLM)."""
    from transformers import BertModel

    torch.manual_seed(4)
    tokenizer = _wordpiece_tokenizer()
    return _save(
        BertModel(_bert_config(len(tokenizer))), tokenizer, tmp_path_factory.mktemp("tiny-bert-bare")
    )


def _loaded(folder):
    return load_checkpoint(resolve(local_ref(str(folder))))


def test_nsp_weights_are_read_from_the_safetensors_header(pretraining_dir, bare_bert_dir):
    from safetensors import safe_open

    with safe_open(str(pretraining_dir / "model.safetensors"), "pt") as handle:
        expected = {k for k in handle.keys() if k.startswith("cls.seq_relationship.")}  # noqa: SIM118
    assert expected  # BertForPreTraining saved the head
    with_head = cls.nsp_weights(_loaded(pretraining_dir))
    assert with_head.present is True and set(with_head.tensors) == expected
    without = cls.nsp_weights(_loaded(bare_bert_dir))
    assert without.present is False and without.tensors == ()
    assert (
        "no `cls.seq_relationship.*` tensor" in without.reason and "no prediction is shown" in without.reason
    )


def test_nsp_probabilities_equal_a_direct_forward_and_softmax(pretraining_dir):
    from transformers import AutoTokenizer, BertForNextSentencePrediction, BertForPreTraining

    loaded = _loaded(pretraining_dir)
    weights = cls.nsp_weights(loaded)
    model = pair_io.load_nsp_model(loaded.resolved, loaded.config)
    view = cls.build_nsp(loaded, weights, model, PAIRS)
    assert view.title == cls.NSP_TITLE and view.weights.kind == "success" and view.problem is None
    assert [(r.first, r.second) for r in view.rows] == list(zip(FIRSTS, SECONDS, strict=True))

    # Independently: the saved head's own weights, a fresh model, the tokenizer called directly.
    saved = BertForPreTraining.from_pretrained(pretraining_dir)
    direct = BertForNextSentencePrediction.from_pretrained(
        pretraining_dir, attn_implementation="eager"
    ).eval()
    assert torch.equal(direct.cls.seq_relationship.weight, saved.cls.seq_relationship.weight)
    tokenizer = AutoTokenizer.from_pretrained(pretraining_dir)
    batch = tokenizer(list(FIRSTS), list(SECONDS), padding=True, return_tensors="pt")
    assert (batch["token_type_ids"] == 1).any()  # the second segment is marked
    with torch.no_grad():
        expected = torch.softmax(direct(**batch).logits.double(), dim=-1)  # [2, (IsNext, NotNext)]
    for row, probabilities in zip(view.rows, expected.tolist(), strict=True):
        assert row.probabilities == pytest.approx(probabilities, abs=1e-6)
        assert row.predicted == f"→ **{('IsNext', 'NotNext')[int(probabilities[1] > probabilities[0])]}**"
        assert "token_type_ids: 0 for" in row.segments and ", then 1 for" in row.segments
    # The explanation names this tokenizer's template and segment ids, read from its encoding.
    assert "`[CLS] A [SEP] B [SEP]`" in view.explanation and "`token_type_ids` 0" in view.explanation


def test_no_nsp_is_shown_without_the_weights(bare_bert_dir):
    loaded = _loaded(bare_bert_dir)
    assert pair_io.load_nsp_model(loaded.resolved, loaded.config) is None  # never a random head
    view = cls.build_nsp(loaded, cls.nsp_weights(loaded), None, PAIRS)
    assert view.rows == () and view.weights.kind == "info"
    assert "saved without BERT's next-sentence head" in view.weights.text


def test_every_family_says_whether_it_has_an_nsp_head(family):
    if family.loaded is None:
        pytest.skip(f"{family.family.name} does not load: {family.load_error}")
    weights = cls.nsp_weights(family.loaded)
    names = set()
    for path in sorted(family.folder.glob("*.safetensors")):
        names |= pair_io.tensor_names(path)
    has_head = any(n.startswith("cls.seq_relationship.") for n in names)
    assert weights.present is (has_head if family.family.model_type == "bert" else False)
    view = cls.build_nsp(family.loaded, weights, None, PAIRS)
    assert view.rows == () and view.weights.text  # none of the tiny families carries the head
    if family.family.model_type != "bert":
        assert "BERT's pre-training head" in view.weights.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "Type a sentence pair"),
        ("one sentence only", "Line 1 is not a pair"),
        ("a ||| b ||| c", "Line 1"),
    ],
)
def test_the_pair_box_says_what_to_fix(text, expected):
    with pytest.raises(InputError, match=expected):
        pair_io.split_pairs(text)


def test_the_pair_box_reads_tabs_and_separators():
    assert pair_io.split_pairs("a ||| b\nc\td\n\n") == (("a", "c"), ("b", "d"))


def test_a_pair_classifier_classifies_the_pair_box(family, tmp_path):
    """A classifier folder whose training metadata says pairs: the page classifies pairs with it,
    probabilities equal to a direct forward on tokenizer(first, second) + softmax."""
    if family.loaded is None or family.loaded.head_class != "AutoModelForSequenceClassification":
        pytest.skip("pair classification needs a sequence-classification head")
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    assert not cls.is_pair_classifier(family.loaded)  # no training metadata: a single-sentence head
    folder = tmp_path / "pairs"
    model = AutoModelForSequenceClassification.from_pretrained(family.folder)
    tokenizer = AutoTokenizer.from_pretrained(family.folder)
    _save(model, tokenizer, folder)
    (folder / TRAINING_METADATA).write_text(
        json.dumps({"pairs": True, "train_examples": 8, "seconds": 1.0, "test": None, "validation": None})
    )
    loaded = _loaded(folder)
    assert cls.is_pair_classifier(loaded)
    view = cls.build_pair_classifier(loaded, PAIRS)
    batch = tokenizer(list(FIRSTS), list(SECONDS), padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model.eval()(**batch).logits.double()
    labels = [model.config.id2label[i] for i in range(logits.shape[1])]
    function = cls.postprocess.classification_function(model.config)
    expected = {
        "softmax": lambda x: torch.softmax(x, -1),
        "sigmoid": torch.sigmoid,
        "none": lambda x: x,
    }[function](logits)
    for row, values in zip(view.rows, expected.tolist(), strict=True):
        assert row.probabilities == pytest.approx(values, abs=1e-6)
        assert set(row.logits.rows[i]["label"] for i in range(len(labels))) == set(labels)
    assert view.training.text.endswith("trained on 8 pairs in 1 s.")


def test_fine_tuning_data_offers_the_bundled_pairs():
    data = cls.training_data(cls.SOURCES[2], None)
    assert data.is_pairs and data.test is not None and len(data.test.texts) >= 60
    view = cls.build_training(data, cls.Settings(epochs=1))
    assert set(view.data.rows[0]) == {"sentence1", "sentence2", "label"}
    assert f"**{len(data.test.texts)}** more are held out" in view.counts
    upload = cls.training_data(cls.SOURCES[1], b"sentence1,sentence2,label\n" + b"a,b,1\nc,d,0\n" * 6)
    assert upload.is_pairs and upload.test is None


def test_the_pairs_lesson_reads_the_tokenizers_own_pair_encoding(family):
    """The lesson step's numbers come from tokenizer(first, second) as called here: its length, its
    template's separator and the token_type_ids of each sentence (sequence_ids tell them apart)."""
    if family.loaded is None:
        pytest.skip(f"{family.family.name} does not load: {family.load_error}")
    from explorer.app import lessons
    from explorer.pipeline.encoding import encode_batch
    from explorer.views import tokenizer as tokenizer_view

    step = next(s for s in lessons.LESSON if s.explain is lessons.explain_pairs)
    assert step.explain is lessons.explain_pairs and step.page == "pages/tokenizer.py"
    tokenizer = family.loaded.tokenizer
    first, second = step.text, step.settings.pairs
    encoding = encode_batch(family.loaded.batch_tokenizer, [first], max_length=family.loaded.max_tokens)
    text = lessons.explain_pairs(
        lessons.Facts(loaded=family.loaded, encoding=encoding, run=None, settings=step.settings)
    )
    encoded = tokenizer(first, second)
    sequence = encoded.sequence_ids()
    assert f"makes **one** input of **{len(encoded['input_ids'])}** tokens" in text
    assert f"first sentence's **{sequence.count(0)}** tokens and the second's **{sequence.count(1)}**" in text
    types = encoded.get("token_type_ids")
    if types is None:
        assert "returns no `token_type_ids`" in text
    else:
        of = {i: sorted({t for t, s in zip(types, sequence, strict=True) if s == i}) for i in (0, 1)}
        assert f"`token_type_ids` are {', '.join(map(str, of[0]))} for the first sentence" in text
        assert f"and {', '.join(map(str, of[1]))} for the second" in text
    if family.family.has_separator:
        sep = tokenizer.sep_token
        assert f"`{sep}`" in text
    # Without a pair on the page, the step says how to make one instead of inventing it.
    alone = lessons.explain_pairs(
        lessons.Facts(loaded=family.loaded, encoding=encoding, run=None, settings=tokenizer_view.Settings())
    )
    assert "Type a second sentence" in alone

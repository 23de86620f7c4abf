"""AppTest for sentence pairs on the Classification page: next-sentence prediction from a checkpoint
that carries the head, a plain sentence where it does not, a pair classifier on the pair box, and
the bundled pairs offered for fine-tuning."""

import json
import shutil

import pytest
from app_helpers import html_of, messages_of, rerun

from explorer import ui
from explorer.pipeline import checkpoints
from explorer.pipeline.checkpoints import TRAINING_METADATA
from explorer.views import classification as cls
from tests.conftest import _bert_config, _save, _wordpiece_tokenizer

CLASSIFICATION = "pages/classification.py"


def open_folder(folder):
    from app_helpers import start

    at = start(ref=checkpoints.LOCAL_FOLDER.ref)
    at.text_input(key=ui.FOLDER_KEY).input(str(folder))
    rerun(at)
    at.switch_page(CLASSIFICATION).run()
    assert not at.exception
    return at


@pytest.fixture(scope="module")
def pretraining_dir(tmp_path_factory):
    import torch
    from transformers import BertForPreTraining

    torch.manual_seed(5)
    tokenizer = _wordpiece_tokenizer()
    return _save(
        BertForPreTraining(_bert_config(len(tokenizer))),
        tokenizer,
        tmp_path_factory.mktemp("tiny-pretraining"),
    )


def test_nsp_probabilities_for_a_checkpoint_with_the_head(pretraining_dir):
    at = open_folder(pretraining_dir)
    assert cls.NSP_TITLE in [h.value for h in at.subheader]
    assert any("carry the next-sentence head: cls.seq_relationship.bias" in s.value for s in at.success)
    pairs = len(cls.DEFAULT_PAIRS.splitlines())
    assert html_of(at).count('data-testid="probabilities"') == pairs
    assert "IsNext" in html_of(at) and "NotNext" in html_of(at)
    assert any("[CLS] A [SEP] B [SEP]" in m.value for m in at.markdown)


def test_no_nsp_without_the_weights():
    from app_helpers import start

    at = start(ref=checkpoints.MINILM)
    at.switch_page(CLASSIFICATION).run()
    assert not at.exception
    assert "saved without BERT's next-sentence head" in messages_of(at)
    assert "IsNext" not in html_of(at)


def test_a_pair_classifier_classifies_the_pair_box(tiny_classifier_dir, tmp_path):
    folder = tmp_path / "pair-classifier"
    shutil.copytree(tiny_classifier_dir, folder)
    (folder / TRAINING_METADATA).write_text(json.dumps({"pairs": True, "train_examples": 8, "seconds": 2.0}))
    at = open_folder(folder)
    assert any(cls.PAIR_CLASSIFIER_INTRO in m.value for m in at.markdown)
    assert [h.value for h in at.subheader][:1] != ["① Preprocessing"]  # no single-sentence steps
    assert html_of(at).count('data-testid="probabilities"') == len(cls.DEFAULT_PAIRS.splitlines())
    at.text_area(key="cls.pairs").input("only one sentence").run()
    assert not at.exception and "Line 1 is not a pair" in messages_of(at)


def test_the_bundled_pairs_are_offered_for_fine_tuning():
    from app_helpers import start

    at = start(ref=checkpoints.MINILM)
    at.switch_page(CLASSIFICATION).run()
    at.radio(key="cls.source").set_value(cls.SOURCES[2]).run()
    assert not at.exception
    assert any("more are held out" in m.value for m in at.markdown)
    assert any("tokenizer(sentence1, sentence2, truncation=True)" in m.value for m in at.markdown)

"""The first screen and the special-token table on the real bundled checkpoints: MiniLM's
[CLS] described by its sentence-transformers pooling (read from its package folder), the default
classifier's [CLS] read through the pooler, SmolLM2's next-token probabilities captioned as
de-quantized from its GGUF file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from explorer.pipeline import checkpoints
from explorer.pipeline.bundled import prepare_smollm2
from explorer.pipeline.encoding import encode_batch
from explorer.pipeline.loading import load_checkpoint
from explorer.pipeline.run import run_model
from explorer.views import pipeline as home
from explorer.views import tokenizer as tok_view

pytestmark = pytest.mark.bundled


def test_minilm_cls_row_names_its_mean_pooling():
    loaded = load_checkpoint(checkpoints.resolve(checkpoints.MINILM))
    pooling = json.loads((checkpoints.minilm_folder() / "1_Pooling" / "config.json").read_text())
    assert pooling["pooling_mode_mean_tokens"] is True and pooling["pooling_mode_cls_token"] is False
    meaning = tok_view.first_token_purpose(loaded)
    assert "the mean of all token vectors" in meaning and "pooling_mode_mean_tokens" in meaning
    assert "not what summarises the sentence" in meaning


def test_default_classifier_is_the_default_and_reads_cls_through_the_pooler():
    if not checkpoints.classifier_built():
        pytest.fail("the default classifier is missing: run `make models` (make test does)")
    assert checkpoints.default_ref() == checkpoints.CLASSIFIER
    loaded = load_checkpoint(checkpoints.resolve(checkpoints.CLASSIFIER))
    assert loaded.model_class == "BertForSequenceClassification"
    assert "through the pooler" in tok_view.first_token_purpose(loaded)


def test_smollm2_probabilities_on_the_pipeline_page_say_gguf():
    prepare_smollm2()
    loaded = load_checkpoint(checkpoints.resolve(checkpoints.SMOLLM2))
    encoding = encode_batch(loaded.batch_tokenizer, home.COURSE_SENTENCES, max_length=loaded.max_tokens)
    view = home.build(loaded, encoding, run_model(loaded, encoding))
    assert view.predictions and checkpoints.SMOLLM2_GGUF in view.quantized.text
    assert Path(checkpoints.smollm2_gguf()).is_file()
    assert tok_view.first_token_purpose(loaded) is None  # a decoder's tokenizer: no cls_token

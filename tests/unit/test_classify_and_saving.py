import numpy as np
import pytest

from explorer.errors import CheckpointError
from explorer.pipeline import checkpoints
from explorer.pipeline.encoding import encode_batch
from explorer.pipeline.postprocess import classify, compare_with_pipeline
from explorer.pipeline.run import pipeline_scores, run_model
from explorer.pipeline.saving import config_json, reload_and_compare, save_checkpoint

BATCH = ["I've been waiting for a HuggingFace course my whole life.", "I hate this so much!"]


def test_classification_matches_transformers_pipeline(tiny_classifier):
    encoding = encode_batch(tiny_classifier.batch_tokenizer, BATCH)
    results = classify(run_model(tiny_classifier, encoding).logits, tiny_classifier.config)
    assert [r.labels for r in results] == [("NEGATIVE", "POSITIVE")] * 2
    for r in results:
        np.testing.assert_allclose(r.scores.sum(), 1.0)
        assert r.predicted == r.labels[int(np.argmax(r.logits))]
    checks = compare_with_pipeline(results, pipeline_scores(tiny_classifier, BATCH))
    assert all(c.same_label and c.max_abs_difference < 1e-6 for c in checks)
    assert all(abs(sum(c.pipeline.values()) - 1) < 1e-5 for c in checks)


def test_models_without_a_classification_head_return_no_label_logits(tiny_bert, tiny_gpt):
    encoding = encode_batch(tiny_bert.batch_tokenizer, BATCH)
    assert run_model(tiny_bert, encoding).logits is None
    encoding = encode_batch(tiny_gpt.batch_tokenizer, BATCH)
    assert run_model(tiny_gpt, encoding).logit_positions is not None  # token-level, not per label


@pytest.mark.parametrize("fixture", ["tiny_bert", "tiny_classifier", "tiny_gpt", "tiny_llama"])
def test_save_and_reload_gives_identical_outputs(request, fixture, tmp_path):
    loaded = request.getfixturevalue(fixture)
    folder = tmp_path / "saved"
    files = {f.name: f.bytes for f in save_checkpoint(loaded, folder)}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= set(files)
    assert all(size > 0 for size in files.values())
    encoding = encode_batch(loaded.batch_tokenizer, BATCH)
    trip = reload_and_compare(loaded, folder, encoding)
    assert trip.max_abs_difference == 0.0
    assert trip.shape[0] == 2
    assert config_json(folder)["model_type"] == loaded.config.model_type


def test_saved_names_are_checked():
    assert checkpoints.saved_name(" my-classifier ") == "my-classifier"
    for bad in ("", "../x", "My Classifier", "-x", "a" * 41, ".hidden"):
        with pytest.raises(CheckpointError, match="Name the checkpoint"):
            checkpoints.saved_name(bad)


def test_saved_checkpoints_are_listed_with_their_training_summary(tmp_path, monkeypatch, tiny_classifier):
    from explorer.pipeline.saving import save_atomically

    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path))
    root = tmp_path / "checkpoints"
    save_atomically(
        tiny_classifier.model,
        tiny_classifier.tokenizer,
        root / "tuned",
        {"train_examples": 12, "validation": {"accuracy": 0.875}},
    )
    (root / ".tuned-being-written").mkdir()
    entries = checkpoints.saved_entries()
    assert [e.ref for e in entries] == ["saved:tuned"]
    assert "12 labelled sentences" in entries[0].description and "87.5%" in entries[0].description
    assert checkpoints.resolve("saved:tuned").location == str(root / "tuned")

import time
from pathlib import Path

import pytest

from explorer.errors import CheckpointError
from explorer.pipeline import checkpoints
from explorer.pipeline.checkpoints import hub_ref, local_ref, resolve
from explorer.pipeline.loading import load_checkpoint


def test_catalog_offers_bundled_course_and_free_form_choices():
    refs = [entry.ref for entry in checkpoints.catalog()]
    assert refs[:2] == [checkpoints.MINILM, checkpoints.SMOLLM2]
    assert checkpoints.DEFAULT_REF == checkpoints.MINILM
    for course_id in (
        "distilbert/distilbert-base-uncased-finetuned-sst-2-english",
        "google-bert/bert-base-cased",
        "openai-community/gpt2",
    ):
        assert f"hub:{course_id}" in refs
    assert refs[-2:] == [checkpoints.OTHER_HUB.ref, checkpoints.LOCAL_FOLDER.ref]
    assert all(entry.description for entry in checkpoints.catalog())


@pytest.mark.parametrize(
    "model_id", ["gpt2", "google-bert/bert-base-cased", "  openai-community/gpt2 ", "a.b_c-d/e"]
)
def test_valid_hub_ids_are_accepted(model_id):
    assert hub_ref(model_id) == f"hub:{model_id.strip()}"


@pytest.mark.parametrize(
    ("model_id", "says"),
    [
        ("", "Type a Hub model id"),
        ("   ", "Type a Hub model id"),
        ("../../etc", "folder path"),
        ("/etc/passwd", "folder path"),
        ("https://huggingface.co/gpt2", "web address"),
        ("huggingface.co/gpt2", "web address"),
        ("x" * 500, "500 characters"),
        ("a/b/c", "not a valid Hub model id"),
        ("bert..base", "not a valid Hub model id"),
        ("<script>alert(1)</script>", "not a valid Hub model id"),
        ("name with spaces", "not a valid Hub model id"),
    ],
)
def test_malformed_hub_ids_get_a_clear_message(model_id, says):
    with pytest.raises(CheckpointError, match=says):
        hub_ref(model_id)


def test_local_folder_checks(tmp_path, tiny_bert_dir):
    with pytest.raises(CheckpointError, match="no folder"):
        local_ref(str(tmp_path / "missing"))
    a_file = tmp_path / "weights.bin"
    a_file.write_bytes(b"x")
    with pytest.raises(CheckpointError, match="is a file"):
        local_ref(str(a_file))
    with pytest.raises(CheckpointError, match="no config.json"):
        local_ref(str(tmp_path))
    ref = local_ref(str(tiny_bert_dir))
    assert resolve(ref).location == str(Path(tiny_bert_dir).resolve())


def test_unknown_reference_is_refused():
    with pytest.raises(CheckpointError, match="Unknown checkpoint"):
        resolve("ftp:whatever")
    with pytest.raises(CheckpointError, match="not a saved checkpoint"):
        resolve("saved:../../etc")


def test_uncached_hub_checkpoint_fails_fast_and_clearly_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    started = time.monotonic()
    with pytest.raises(CheckpointError, match="cannot reach.*Pick a bundled model or a local folder"):
        load_checkpoint(resolve("hub:this-org/does-not-exist-anywhere"))
    assert time.monotonic() - started < 15  # no 45 s of retries (a generous bound, not a benchmark)


def test_unreachable_hub_is_detected_without_the_offline_flag(monkeypatch):
    from explorer.pipeline import loading

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    monkeypatch.setattr("huggingface_hub.constants.ENDPOINT", "https://hub.invalid")
    loading._reachability.clear()
    assert loading.hub_reachable(timeout_s=2) is False
    with pytest.raises(CheckpointError, match="cannot reach"):
        load_checkpoint(resolve("hub:openai-community/gpt2-not-cached"))

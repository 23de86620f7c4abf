"""Save and load: the sentence on model.safetensors against pytorch_model.bin names the weight
files the folder really holds, for every family and for folders in the older format."""

from __future__ import annotations

import dataclasses

import pytest

from explorer.pipeline.encoding import encode_batch
from explorer.views import save_load


def test_the_saved_folder_holds_safetensors_and_says_so(family, tmp_path):
    if family.loaded is None:
        pytest.skip("the loader refuses this family")
    loaded = family.loaded
    folder = tmp_path / "copy"
    save_load.save(loaded, folder)
    on_disk = sorted(p.name for p in folder.iterdir())
    weights = [name for name in on_disk if name.endswith(".safetensors")]
    assert weights and not any(name.endswith(".bin") for name in on_disk)
    encoding = encode_batch(loaded.batch_tokenizer, ["The cat sat on the mat."], max_length=loaded.max_tokens)
    view = save_load.build(loaded, encoding, save_load.Settings(), folder)
    text = view.saved.weights.text
    for name in weights:
        assert f"`{name}`" in text
    assert "where the course's older pages show `pytorch_model.bin`" in text
    assert "cannot run code" in text and "memory-mapped" in text and "pickled" in text
    # The checkpoint the app loaded from (a folder written here) is described the same way.
    own = view.weights.text
    source = sorted(p.name for p in family.folder.iterdir() if p.name.endswith(".safetensors"))
    assert own.startswith("The loaded checkpoint's folder holds") and all(f"`{n}`" in own for n in source)


def test_older_and_mixed_folders(tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    (old / "pytorch_model.bin").write_bytes(b"\x00")
    text = save_load.weights_note(old).text
    assert "holds `pytorch_model.bin`, the format the course's older pages show" in text
    assert "`model.safetensors` instead" in text and "model.safetensors`," not in text
    both = tmp_path / "both"
    both.mkdir()
    (both / "pytorch_model.bin").write_bytes(b"\x00")
    (both / "model.safetensors").write_bytes(b"\x00")
    text = save_load.weights_note(both).text
    assert "both `model.safetensors` and `pytorch_model.bin`" in text
    sharded = tmp_path / "sharded"
    sharded.mkdir()
    for i in range(1, 5):
        (sharded / f"model-0000{i}-of-00004.safetensors").write_bytes(b"\x00")
    text = save_load.weights_note(sharded).text
    assert "`model-00001-of-00004.safetensors`" in text and "and 1 more" in text
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "config.json").write_text("{}")
    assert save_load.weights_note(empty) is None


def test_only_a_local_checkpoint_has_a_folder_to_describe(tiny_bert, tmp_path, monkeypatch):
    view = save_load.build(tiny_bert, None)
    assert view.weights is not None and "`model.safetensors`" in view.weights.text
    # A Hub id is no folder, even when a folder of that name happens to be in the working directory.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "gpt2").mkdir()
    (tmp_path / "gpt2" / "model.safetensors").write_bytes(b"\x00")
    hub = dataclasses.replace(
        tiny_bert, resolved=dataclasses.replace(tiny_bert.resolved, source="hub", location="gpt2")
    )
    assert save_load.build(hub, None).weights is None

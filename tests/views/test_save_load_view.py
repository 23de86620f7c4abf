"""The save/load page's View, for every family of the matrix: the files save_pretrained wrote are
described from what is in them, and from_pretrained gives exactly the same outputs."""

from __future__ import annotations

import json

import pytest

from explorer.errors import CheckpointError
from explorer.pipeline import checkpoints
from explorer.pipeline.encoding import encode_batch
from explorer.pipeline.saving import RoundTrip, describe_file
from explorer.views import save_load
from explorer.views.common import Note

BATCH = ["The cat sat on the mat.", "A dog ran in the park."]
SPECIAL_LOOKING = ("[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]", "<s>", "</s>", "<pad>", "<mask>", "<unk>")


@pytest.fixture(scope="module")
def saved_root(tmp_path_factory):
    return tmp_path_factory.mktemp("saved")


def _saved_view(family, root):
    loaded = family.loaded
    encoding = encode_batch(loaded.batch_tokenizer, BATCH, max_length=loaded.max_tokens)
    folder = root / family.family.name
    save_load.save(loaded, folder)
    return encoding, folder, save_load.build(loaded, encoding, save_load.Settings(), folder)


def test_round_trip_is_identical(family, saved_root):
    if family.loaded is None:  # T5: the loader's clear message, on this page as on every other
        assert isinstance(family.load_error, CheckpointError)
        assert "encoder-decoder" in str(family.load_error)
        return
    import torch
    import transformers

    loaded = family.loaded
    encoding, folder, view = _saved_view(family, saved_root)
    saved = view.saved
    assert saved.round_trip.max_abs_difference == 0.0 and saved.identical
    assert saved.verdict.kind == "success" and "identical" in saved.verdict.text
    B, S = encoding.shape
    assert saved.round_trip.shape[0] == B
    # Independently: the saved weights reload to the very same tensors.
    again = getattr(transformers, family.family.head).from_pretrained(folder, dtype=torch.float32)
    original = loaded.model.state_dict()
    for name, tensor in again.state_dict().items():
        assert torch.equal(tensor, original[name]), name
    assert saved.config["model_type"] == loaded.config.model_type
    assert saved.config["architectures"] == [family.family.architecture]


def test_saved_files_are_described_from_their_content(family, saved_root):
    if family.loaded is None:
        pytest.skip("the loader refuses this family (see the round-trip test)")
    from safetensors import safe_open

    loaded = family.loaded
    _, folder, view = _saved_view(family, saved_root)
    rows = {row["file"]: row for row in view.saved.table.rows}
    on_disk = sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    assert sorted(rows) == on_disk
    assert view.saved.total_bytes == sum((folder / name).stat().st_size for name in on_disk)
    with safe_open(str(folder / "model.safetensors"), "pt") as weights:
        tensors = len(list(weights.keys()))
    assert f"{tensors:,} tensors" in rows["model.safetensors"]["what it holds"]
    tokenizer_json = rows["tokenizer.json"]["what it holds"]
    assert f"a {family.family.tokenizer_family} model" in tokenizer_json
    config_row = rows["tokenizer_config.json"]["what it holds"]
    specials = set(loaded.tokenizer.all_special_tokens)
    for token in specials:
        assert token in config_row, (token, config_row)
    everything = " ".join(str(v) for row in rows.values() for v in row.values())
    for token in SPECIAL_LOOKING:
        if token in everything:
            assert token in specials, (token, everything)
    assert "None" not in everything
    texts = [n.text for n in (view.loaded, view.saved.total, view.saved.verdict) if isinstance(n, Note)]
    assert all("None" not in t for t in texts)


def test_default_name_is_a_valid_name(family):
    if family.loaded is None:
        pytest.skip("the loader refuses this family")
    view = save_load.build(family.loaded, None)
    assert view.saved is None and view.name == view.default_name
    assert checkpoints.saved_name(view.default_name) == view.default_name
    assert view.default_name.startswith("copy-of-")


@pytest.mark.parametrize(
    ("label", "name"),
    [
        ("all-MiniLM-L6-v2 (bundled)", "copy-of-all-minilm-l6-v2"),
        ("Éclair ünïcode model", "copy-of-clair-n-code-model"),
        ("?? (local folder)", "copy"),
        ("x" * 80, "copy-of-" + "x" * 30),
    ],
)
def test_default_names(label, name):
    assert save_load.default_name(label) == name
    checkpoints.saved_name(name)


def test_a_chosen_name_wins_and_bad_names_are_refused(tiny_bert, tmp_path, monkeypatch):
    view = save_load.build(tiny_bert, None, save_load.Settings(name="mine"))
    assert view.name == "mine"
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path))
    assert save_load.target("mine") == checkpoints.saved_checkpoints_dir() / "mine"
    with pytest.raises(CheckpointError, match="Name the checkpoint"):
        save_load.target("Bad Name!")


def test_a_folder_that_is_gone_says_so(tiny_bert, tmp_path):
    encoding = encode_batch(tiny_bert.batch_tokenizer, BATCH)
    view = save_load.build(tiny_bert, encoding, save_load.Settings(), tmp_path / "gone")
    assert view.saved is None and "gone" in view.gone.text


def test_a_difference_is_not_called_identical(tiny_bert, tmp_path):
    encoding = encode_batch(tiny_bert.batch_tokenizer, BATCH)
    identical, note = save_load._verdict(tiny_bert, tmp_path, encoding, RoundTrip("logits", (2, 3), 1e-7))
    assert (
        not identical and note.kind == "warning" and "identical" not in note.text and "1.0e-07" in note.text
    )


def test_a_save_that_fails_is_a_clear_error(tiny_bert, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(CheckpointError, match="save_pretrained could not write"):
        save_load.save(tiny_bert, blocker / "inside")


def test_older_tokenizer_files_are_described(tmp_path):
    (tmp_path / "vocab.txt").write_text("[PAD]\n[UNK]\nthe\ncat\n##s\n")
    (tmp_path / "vocab.json").write_text(json.dumps({"a": 0, "b": 1, "ab": 2}))
    (tmp_path / "merges.txt").write_text("#version: 0.2\na b\nab c\n")
    (tmp_path / "special_tokens_map.json").write_text(
        json.dumps({"pad_token": "<pad>", "eos_token": {"content": "</s>", "lstrip": False}})
    )
    (tmp_path / "spiece.model").write_bytes(b"\x00")
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x00")
    assert "WordPiece" in describe_file(tmp_path / "vocab.txt") and "5 tokens" in describe_file(
        tmp_path / "vocab.txt"
    )
    assert "BPE" in describe_file(tmp_path / "vocab.json") and "3 tokens" in describe_file(
        tmp_path / "vocab.json"
    )
    assert "2 merges" in describe_file(tmp_path / "merges.txt")
    special = describe_file(tmp_path / "special_tokens_map.json")
    assert "pad_token <pad>" in special and "eos_token </s>" in special and "[CLS]" not in special
    assert "SentencePiece" in describe_file(tmp_path / "spiece.model")
    assert "pickle" in describe_file(tmp_path / "pytorch_model.bin")
    assert describe_file(tmp_path / "notes.xyz") == ""

"""Caches key on the checkpoint's files: saving a checkpoint again under the same name changes
its fingerprint, so the app loads it again instead of serving the old model from memory."""

from __future__ import annotations

import os

from explorer.pipeline.checkpoints import fingerprint, local_ref, resolve


def test_saving_again_changes_the_fingerprint(tiny_bert, tmp_path):
    folder = tmp_path / "again"
    tiny_bert.model.save_pretrained(folder)
    tiny_bert.tokenizer.save_pretrained(folder)
    resolved = resolve(local_ref(str(folder)))
    first = fingerprint(resolved)
    assert first and first == fingerprint(resolved)  # stable while nothing changes
    weights = folder / "model.safetensors"
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # written again
    assert fingerprint(resolved) != first


def test_a_hub_checkpoint_is_its_own_fingerprint():
    assert fingerprint(resolve("hub:google-bert/bert-base-cased")) == ""

"""Preparing the bundled SmolLM2 into a cache folder the app cannot write: a message that names
the folder and EXPLORER_CACHE_DIR, never a raw OSError (nothing is converted: it fails first)."""

import errno
import os
from pathlib import Path

import pytest

from explorer.errors import CheckpointError
from explorer.pipeline import bundled, checkpoints


@pytest.fixture
def unprepared_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    if not checkpoints.resolve(checkpoints.SMOLLM2).needs_preparation:
        pytest.fail("a fresh cache folder must have no prepared SmolLM2")
    monkeypatch.setattr(bundled, "_convert", lambda *args: pytest.fail("nothing may be converted"))
    return tmp_path / "cache"


@pytest.mark.parametrize(
    "code, says",
    [
        (errno.EROFS, "the app cannot write there"),
        (errno.EACCES, "the app cannot write there"),
        (errno.ENOSPC, "the disk is full (it needs about 550 MB free)"),
    ],
)
def test_a_cache_folder_that_cannot_be_written_is_named_with_what_to_do(
    unprepared_cache, monkeypatch, code, says
):
    def refuse(self, *args, **kwargs):  # a read-only file system (root ignores chmod)
        raise OSError(code, os.strerror(code), str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(CheckpointError) as refused:
        bundled.prepare_smollm2()
    message = str(refused.value)
    assert str(checkpoints.smollm2_folder()) in message and str(unprepared_cache) in message
    assert (
        says in message
        and "EXPLORER_CACHE_DIR" in message
        and "python -m explorer.pipeline.bundled" in message
    )
    assert isinstance(refused.value.__cause__, OSError)


def test_the_command_line_says_it_without_a_traceback(unprepared_cache, monkeypatch, capsys):
    def refuse(self, *args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(SystemExit) as stopped:
        bundled.main()
    assert "EXPLORER_CACHE_DIR" in str(stopped.value.code) and stopped.value.code != 0

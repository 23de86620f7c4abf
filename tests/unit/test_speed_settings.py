"""What keeps the decoder as fast as the model: torch's threads sleep while they wait, the estimate
of a fine-tune comes from a measured run, and the attribution caption states a measured time."""

import json
import os
import subprocess
import sys
from types import SimpleNamespace

from explorer.pipeline.checkpoints import TRAINING_METADATA
from explorer.training import finetune as ft


def _policy(environment: dict[str, str]) -> str:
    """OMP_WAIT_POLICY in a fresh interpreter after `import explorer`."""
    code = "import explorer, os; print(os.environ['OMP_WAIT_POLICY'])"
    done = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_importing_explorer_makes_waiting_torch_threads_sleep_unless_told_otherwise():
    environment = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    assert _policy(environment) == "PASSIVE"
    assert _policy({**environment, "OMP_WAIT_POLICY": "ACTIVE"}) == "ACTIVE"  # the user's choice is kept


def _built(folder, **metadata):
    folder.mkdir()
    (folder / TRAINING_METADATA).write_text(json.dumps(metadata))
    return folder


def test_a_fine_tune_estimate_is_the_rate_measured_when_the_checkpoint_was_built(tmp_path):
    folder = _built(
        tmp_path / "minilm-sentiment",
        train_examples=530,
        config={"epochs": 3, "batch_size": 16},
        seconds=23.2,
        date="2026-12-04T03:58:07",
    )
    rate = ft.measured_rate(folder)
    assert rate is not None and rate.examples == 1590 and rate.seconds == 23.2
    text = rate.estimate(530)  # one epoch: not a third of the time (loading and evaluating are fixed)
    assert (
        "fine-tuned minilm-sentiment on this machine in 23 s for 1,590 training examples (2026-12-04;" in text
    )
    assert "this run trains on 530;" in text


def test_no_measurement_no_estimate(tmp_path):
    assert ft.measured_rate(tmp_path / "never-built") is None
    assert ft.measured_rate(_built(tmp_path / "old", train_examples=10, config={"epochs": 1})) is None
    assert (
        ft.measured_rate(_built(tmp_path / "zero", train_examples=0, config={"epochs": 1}, seconds=3)) is None
    )


def test_the_attribution_caption_states_the_last_measured_time_not_a_guess():
    from explorer.ui import attribution

    loaded = SimpleNamespace(model=object())
    before = attribution.off_caption(loaded)
    assert "second" not in before and "a progress bar shows each method" in before
    attribution._TOOK[id(loaded.model)] = (12.34, 17)
    try:
        assert attribution.off_caption(loaded).endswith("took 12.3 s (17 tokens).")
    finally:
        del attribution._TOOK[id(loaded.model)]

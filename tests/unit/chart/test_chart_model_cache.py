"""runtime.modelCache: the operator is told which shared Hugging Face cache training pods mount (HF_HOME)."""

from __future__ import annotations

from typing import Any

import pytest
from chart_helpers import Render, one

from kubetune.operator.settings import Settings

pytestmark = pytest.mark.unit


def _env(objects: list[dict[str, Any]]) -> dict[str, Any]:
    container = one(objects, "Deployment", "kt-kubetune-operator")["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value") for e in container["env"]}


def _settings(env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name, value in env.items():
        if name.startswith("KUBETUNE_OPERATOR_MODEL_CACHE") and value is not None:
            monkeypatch.setenv(name, value)
    return Settings()


def test_no_cache_by_default(render: Render, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(_env(render()), monkeypatch)
    assert (settings.model_cache_pvc, settings.model_cache_host_path) == (None, None)


def test_a_claim_or_a_host_path_reaches_the_operator(render: Render, monkeypatch: pytest.MonkeyPatch) -> None:
    env = _env(render({"runtime.modelCache.claimName": "hf-cache", "runtime.modelCache.mountPath": "/cache"}))
    settings = _settings(env, monkeypatch)
    assert (settings.model_cache_pvc, settings.model_cache_mount_path) == ("hf-cache", "/cache")
    env = _env(render({"runtime.modelCache.hostPath": "/srv/hf"}))
    assert env["KUBETUNE_OPERATOR_MODEL_CACHE_HOST_PATH"] == "/srv/hf"
    assert "KUBETUNE_OPERATOR_MODEL_CACHE_PVC" not in env

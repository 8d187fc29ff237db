"""Settings from the environment and the command line."""

from __future__ import annotations

import pytest

from kubetune.crd.limits import CacheSettings, InferenceLimits
from kubetune.serve.cli import parse_args
from kubetune.serve.settings import ServeSettings

pytestmark = pytest.mark.unit


def test_defaults_match_the_inference_service_resource() -> None:
    settings = ServeSettings()
    limits, cache = InferenceLimits(), CacheSettings()
    assert settings.max_concurrent == limits.max_concurrent == 2
    assert settings.queue_size == limits.queue_size == 10
    assert settings.timeout_seconds == limits.timeout_seconds == 30
    assert settings.cache_ttl_seconds == cache.ttl_seconds == 3600


def test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBETUNE_SERVE_MODEL_URI", "pvc://models/llama")
    monkeypatch.setenv("KUBETUNE_SERVE_ADAPTERS", '{"support": "file:///a", "sales": "file:///b"}')
    monkeypatch.setenv("KUBETUNE_SERVE_MAX_CONCURRENT", "4")
    monkeypatch.setenv("KUBETUNE_SERVE_TASK", "sequence-classification")
    settings = ServeSettings()
    assert settings.model_uri == "pvc://models/llama"
    assert list(settings.adapters) == ["support", "sales"]
    assert settings.max_concurrent == 4
    assert settings.served_model_name == "llama"


def test_pvc_root_is_shared_with_the_trainer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBETUNE_PVC_ROOT", "/volumes")
    assert str(ServeSettings().pvc_mount_root) == "/volumes"
    monkeypatch.setenv("KUBETUNE_SERVE_PVC_MOUNT_ROOT", "/mine")
    assert str(ServeSettings().pvc_mount_root) == "/mine"
    assert str(ServeSettings(pvc_mount_root="/given").pvc_mount_root) == "/given"


def test_flags_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBETUNE_SERVE_QUEUE_SIZE", "3")
    overrides = parse_args(
        ["--model-uri", "/m", "--adapter", "a=file:///x", "--queue-size", "7", "--no-cache", "--task", "causal-lm"]
    )
    settings = ServeSettings(**overrides)
    assert settings.queue_size == 7
    assert settings.adapters == {"a": "file:///x"}
    assert settings.cache_enabled is False


def test_bad_values_are_refused() -> None:
    with pytest.raises(ValueError, match="max_concurrent"):
        ServeSettings(max_concurrent=0)
    with pytest.raises(ValueError, match="adapter name"):
        ServeSettings(adapters={"../x": "file:///x"})
    with pytest.raises(SystemExit):
        parse_args(["--adapter", "no-equals-sign"])

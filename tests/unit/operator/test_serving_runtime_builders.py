"""Runtime vllm and adapters at run time in the serving pod: the builders' output."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from kubetune.crd.inferenceservice import InferenceServiceSpec
from kubetune.operator.builders.deployment import build_deployment
from kubetune.operator.builders.serving import ServedModel
from kubetune.operator.builders.serving_runtime import build_adapters_config_map, serving_runtime
from kubetune.operator.owner import Owner
from kubetune.operator.settings import Settings

ISVC = Owner(api_version="kubetune.io/v1alpha1", kind="InferenceService", name="chat", uid="u-9", namespace="team-a")


def _spec(**extra: Any) -> InferenceServiceSpec:
    return InferenceServiceSpec.model_validate(
        {"model": {"baseModel": "file:///models/base", "adapters": [{"name": "a1", "uri": "file:///ad/1"}]}, **extra}
    )


def _container(spec: InferenceServiceSpec, settings: Settings) -> tuple[dict[str, Any], dict[str, Any]]:
    model = ServedModel.from_source(spec.model)  # type: ignore[arg-type]
    pod = build_deployment(ISVC, spec, model, "v1", settings)["spec"]["template"]["spec"]
    return pod, pod["containers"][0]


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in container["env"]}


def test_vllm_runs_behind_kubetune_in_one_container(settings: Settings) -> None:
    spec = _spec(runtime="vllm", resources={"gpus": 2},
                 vllm={"maxLoras": 8, "maxLoraRank": 64, "gpuMemoryUtilization": 0.85, "maxModelLen": 4096})
    pod, container = _container(spec, settings)
    assert len(pod["containers"]) == 1 and container["image"] == settings.vllm_image
    env = _env(container)
    assert env["KUBETUNE_SERVE_ENGINE"] == "vllm"
    assert env["KUBETUNE_SERVE_VLLM_URL"] == "http://127.0.0.1:8000"  # vLLM on loopback only
    assert json.loads(env["KUBETUNE_SERVE_VLLM_COMMAND"]) == settings.vllm_command
    assert json.loads(env["KUBETUNE_SERVE_VLLM_ARGS"]) == [
        "--max-loras", "8", "--max-lora-rank", "64", "--gpu-memory-utilization", "0.85",
        "--tensor-parallel-size", "2", "--max-model-len", "4096"]
    # the probes stay on kubetune's server, whose /readyz waits for vLLM
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {"name": "shm", "mountPath": "/dev/shm"} in container["volumeMounts"]
    assert {"name": "shm", "emptyDir": {"medium": "Memory"}} in pod["volumes"]


def test_kubetune_runtime_has_no_vllm_settings(settings: Settings) -> None:
    pod, container = _container(_spec(runtime="kubetune"), settings)
    env = _env(container)
    assert "KUBETUNE_SERVE_ENGINE" not in env and container["image"] == "rt:1"
    assert all(v["name"] != "shm" for v in pod["volumes"])


def test_the_default_runtime_of_causal_lms_is_a_platform_setting(settings: Settings) -> None:
    vllm_platform = settings.model_copy(update={"llm_runtime": "vllm"})
    assert serving_runtime(_spec(), settings) == "kubetune"
    assert serving_runtime(_spec(), vllm_platform) == "vllm"
    assert serving_runtime(_spec(task="sequence-classification"), vllm_platform) == "kubetune"
    assert serving_runtime(_spec(runtime="kubetune"), vllm_platform) == "kubetune"


def test_vllm_serves_causal_lms_only() -> None:
    with pytest.raises(ValidationError, match="causal-lm"):
        _spec(runtime="vllm", task="sequence-classification")


def test_an_adapter_change_leaves_the_pod_template_alone(settings: Settings) -> None:
    """Adapters reach the running server through the ConfigMap; the template (so no rollout) stays the same."""
    one = ServedModel("file:///models/base", {"a1": "file:///ad/1"})
    two = ServedModel("file:///models/base", {"a1": "file:///ad/1", "a2": "file:///ad/2"})
    spec = _spec()
    first = build_deployment(ISVC, spec, one, "v1", settings)["spec"]["template"]
    second = build_deployment(ISVC, spec, two, "v1", settings)["spec"]["template"]
    assert first == second
    config_map = build_adapters_config_map(ISVC, two)
    assert config_map["metadata"]["name"] == "chat-adapters"
    assert config_map["metadata"]["ownerReferences"][0]["uid"] == "u-9"
    assert json.loads(config_map["data"]["adapters.json"]) == {"a1": "file:///ad/1", "a2": "file:///ad/2"}
    volume = next(v for v in first["spec"]["volumes"] if v["name"] == "adapters")
    assert volume == {"name": "adapters", "configMap": {"name": "chat-adapters"}}
    mount = next(m for m in first["spec"]["containers"][0]["volumeMounts"] if m["name"] == "adapters")
    assert "subPath" not in mount  # a subPath mount is never refreshed by the kubelet

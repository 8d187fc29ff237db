"""What the serving pod gains for its runtime (vLLM) and for adapters given to it while it runs.

Runtime vllm: one container, two processes. kubetune's server (the vLLM image holds it too) resolves the
model uri with the project's storage access as for the kubetune runtime, starts vLLM's OpenAI server on
loopback with the local directory, and serves seed 002's routes, admission, cache and keys by calling it;
vLLM is never reachable from outside the pod (docs/inference.md, "The vLLM runtime").

Adapters: the server reads them from a ConfigMap mounted as a directory, which the kubelet refreshes in
running pods; the server loads added adapters and unloads removed ones without a restart. The pod template
does not carry the adapter set, so changing it rolls nothing out.
"""

from __future__ import annotations

import json
from typing import Any

from kubetune.crd import labels as lbl
from kubetune.crd.inferenceservice import InferenceServiceSpec, ServingRuntime
from kubetune.crd.quantity import quantity_bytes
from kubetune.operator.builders.podspec import merged_resources
from kubetune.operator.builders.serving import ServedModel
from kubetune.operator.owner import Owner, child_metadata
from kubetune.operator.settings import Settings

VLLM_PORT = 8000  # loopback only, inside the pod
ADAPTERS_VOLUME = "adapters"
ADAPTERS_DIR = "/etc/kubetune/adapters"
ADAPTERS_KEY = "adapters.json"
SHM_VOLUME = "shm"
CPU_KV_CACHE_SHARE = 4  # on a CPU node, 1/4 of the memory limit for the KV cache; weights and activations get the rest


class VLLMSettingsError(ValueError):
    """The spec cannot give vLLM settings that fit the pod (a user's mistake, said in the status)."""


def serving_runtime(spec: InferenceServiceSpec, settings: Settings) -> ServingRuntime:
    """spec.runtime, else the platform's default for causal LMs; the other tasks run on kubetune."""
    if spec.runtime is not None:
        return spec.runtime
    return settings.llm_runtime if spec.task == "causal-lm" else "kubetune"


def vllm_args(spec: InferenceServiceSpec, gpus: int, memory: str | None) -> list[str]:
    """vLLM's engine flags from spec.vllm; tensor parallelism over the GPUs the pod gets.

    The KV cache: spec.vllm.kvCacheMemory when set; on a CPU node otherwise a share of the pod's memory
    limit, because vLLM's CPU backend reads gpuMemoryUtilization as a share of the node's whole memory
    (vllm 0.32: CpuPlatform.get_device_total_memory), which would take more than the pod may use."""
    options = spec.vllm
    args = [
        "--max-loras", str(options.max_loras),
        "--max-lora-rank", str(options.max_lora_rank),
        "--gpu-memory-utilization", str(options.gpu_memory_utilization),
        "--tensor-parallel-size", str(max(gpus, 1)),
    ]
    if options.kv_cache_memory is not None:
        args += ["--kv-cache-memory-bytes", str(quantity_bytes(options.kv_cache_memory))]
    elif gpus == 0:
        if memory is None:
            raise VLLMSettingsError(
                "runtime vllm on a CPU node needs resources.memory or vllm.kvCacheMemory: without them vLLM "
                "sizes its KV cache from the whole node's memory")
        args += ["--kv-cache-memory-bytes", str(quantity_bytes(memory) // CPU_KV_CACHE_SHARE)]
    if options.max_model_len is not None:
        args += ["--max-model-len", str(options.max_model_len)]
    return args


def vllm_settings_problem(spec: InferenceServiceSpec, settings: Settings) -> str | None:
    """Why vLLM's settings cannot be built for this spec's pod, checked before any child is written."""
    if serving_runtime(spec, settings) != "vllm":
        return None
    gpus, _, _, memory = merged_resources(spec.resources, 0, None, None, None)
    try:
        vllm_args(spec, gpus, memory)
    except VLLMSettingsError as exc:
        return str(exc)
    return None


def vllm_env(spec: InferenceServiceSpec, settings: Settings, gpus: int, memory: str | None) -> list[dict[str, Any]]:
    values = {
        "ENGINE": "vllm",
        "VLLM_URL": f"http://127.0.0.1:{VLLM_PORT}",
        "VLLM_COMMAND": json.dumps(settings.vllm_command),
        "VLLM_ARGS": json.dumps(vllm_args(spec, gpus, memory)),
    }
    return [{"name": f"KUBETUNE_SERVE_{k}", "value": v} for k, v in values.items()]


def vllm_volumes() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Shared memory for vLLM's worker processes (the container runtime's 64 MiB default is too small)."""
    return ([{"name": SHM_VOLUME, "emptyDir": {"medium": "Memory"}}],
            [{"name": SHM_VOLUME, "mountPath": "/dev/shm"}])  # noqa: S108 - the shm mount, not a temp file


def adapters_config_map_name(isvc: str) -> str:
    return f"{isvc}-adapters"


def build_adapters_config_map(owner: Owner, model: ServedModel) -> dict[str, Any]:
    """The adapter set of a running server: {name: uri}, read again while it serves."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": child_metadata(owner, adapters_config_map_name(owner.name),
                                   {lbl.INFERENCE_SERVICE: owner.name, lbl.COMPONENT: "server"}),
        "data": {ADAPTERS_KEY: json.dumps(model.adapters, sort_keys=True)},
    }


def adapters_volume(owner: Owner) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(volumes, mounts, env): the ConfigMap as a directory (not a subPath, which the kubelet never refreshes)."""
    volume = {"name": ADAPTERS_VOLUME, "configMap": {"name": adapters_config_map_name(owner.name)}}
    mount = {"name": ADAPTERS_VOLUME, "mountPath": ADAPTERS_DIR, "readOnly": True}
    env = {"name": "KUBETUNE_SERVE_ADAPTERS_FILE", "value": f"{ADAPTERS_DIR}/{ADAPTERS_KEY}"}
    return [volume], [mount], [env]

"""A multi-node Training's GPU readings are shown on the machine of the pod that read them: each reading
carries its node index (the trainer gathers every node's devices), and each pod its completion index."""

from __future__ import annotations

from typing import Any

import pytest

from kubetune.api.mapping import gpu
from kubetune.crd import labels as lbl

pytestmark = pytest.mark.unit


def pod(name: str, node: str, index: int | None) -> dict[str, Any]:
    labels = {lbl.TRAINING: "big", lbl.COMPONENT: "trainer"}
    if index is not None:
        labels[gpu.COMPLETION_INDEX] = str(index)
    return gpu.gpu_pod_summary({
        "metadata": {"name": name, "namespace": "team", "labels": labels},
        "spec": {"nodeName": node, "containers": [{"name": "t", "resources": {"limits": {gpu.GPU: "2"}}}]},
        "status": {"phase": "Running"},
    }) or {}


def reading(node: int | None, index: int) -> dict[str, Any]:
    out: dict[str, Any] = {"index": index, "name": "H100", "memoryTotalMb": 80.0, "utilizationPercent": 5.0}
    if node is not None:
        out["node"] = node
    return out


def test_each_reading_is_placed_on_its_own_pods_machine() -> None:
    training = {"metadata": {"name": "big", "namespace": "team"},
                "status": {"gpu": [reading(0, 0), reading(0, 1), reading(1, 0), reading(1, 1)]}}
    pods = [pod("big-train-0", "gpu-a", 0), pod("big-train-1", "gpu-b", 1)]
    status = gpu.gpu_status([], pods, [training])
    assert [m.node for m in status.metrics] == ["gpu-a", "gpu-a", "gpu-b", "gpu-b"]
    assert [m.gpu_id for m in status.metrics] == [0, 1, 2, 3]


def test_one_pod_and_readings_without_a_node_keep_the_old_shape() -> None:
    training = {"metadata": {"name": "big", "namespace": "team"}, "status": {"gpu": [reading(None, 0)]}}
    status = gpu.gpu_status([], [pod("big-train-x", "gpu-a", None)], [training])
    assert [m.node for m in status.metrics] == ["gpu-a"]

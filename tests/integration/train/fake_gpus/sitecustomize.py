"""Fake GPUs for trainer processes a test starts (this folder on their PYTHONPATH; Python imports
``sitecustomize`` at start-up, so torchrun's workers get it too). Each process that reads devices
names them after its node (JOB_COMPLETION_INDEX) and local rank, so a test sees who read what."""

from __future__ import annotations

import os
from typing import Any

if os.environ.get("KUBETUNE_FAKE_GPUS"):
    from kubetune.train import gpu

    def _readings(self: Any) -> list[dict[str, Any]]:
        node = int(os.environ.get("JOB_COMPLETION_INDEX", "0"))
        local = os.environ.get("LOCAL_RANK", "-")
        return [
            {
                "index": index,
                "name": f"fake node {node} local rank {local}",
                "utilizationPercent": 10.0 * (node + 1),
                "memoryUsedMb": 100.0 * (index + 1),
                "memoryTotalMb": 1000.0,
            }
            for index in range(int(os.environ["KUBETUNE_FAKE_GPUS"]))
        ]

    gpu.GpuProbe.readings = _readings  # type: ignore[method-assign]

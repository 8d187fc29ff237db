"""An InferenceService whose vLLM settings cannot fit its pod fails at once, with the reason, before any child."""

from __future__ import annotations

import contextlib
from types import SimpleNamespace
from typing import Any

import kopf
import pytest
from test_project_namespace_check import NoKube, RecordingStatus

from kubetune.crd.kinds import INFERENCE_SERVICE
from kubetune.operator.handlers.inferenceservice import reconcile_isvc
from kubetune.operator.settings import Settings


class Locks:
    def hold(self, key: Any) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()


def _view(spec: dict[str, Any]) -> dict[str, Any]:
    return {"name": "chat", "namespace": "team-a", "uid": "u-1", "generation": 3, "resourceVersion": "5",
            "labels": {}, "spec": spec, "status": {}}


def test_vllm_on_a_cpu_node_without_memory_fails_before_any_child(settings: Settings) -> None:
    rt = SimpleNamespace(kube=NoKube(), status=RecordingStatus(), settings=settings, locks=Locks())
    spec = {"model": {"baseModel": "file:///mnt/artifacts/team-a/models/tiny"}, "runtime": "vllm",
            "resources": {"gpus": 0}}
    with pytest.raises(kopf.PermanentError, match=r"resources\.memory or vllm\.kvCacheMemory"):
        reconcile_isvc(rt, _view(spec), {}, {}, {}, {})  # type: ignore[arg-type]
    [(kind, fields)] = rt.status.writes
    assert kind == INFERENCE_SERVICE and fields["phase"] == "Failed"
    assert "whole node's memory" in fields["message"] and fields["observedGeneration"] == 3

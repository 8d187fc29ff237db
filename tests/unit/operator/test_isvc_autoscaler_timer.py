"""The autoscaled-service timer: a running service's autoscaler follows KEDA being installed or removed."""

from __future__ import annotations

import contextlib
from types import SimpleNamespace
from typing import Any

from test_autoscaling import RecordingKube

from kubetune.operator.handlers.isvc_autoscaler import follow_keda
from kubetune.operator.settings import Settings


class Locks:
    def __init__(self) -> None:
        self.held: list[Any] = []

    def hold(self, key: Any) -> contextlib.AbstractContextManager[None]:
        self.held.append(key)
        return contextlib.nullcontext()


def _body(**metadata: Any) -> dict[str, Any]:
    return {"apiVersion": "kubetune.io/v1alpha1", "kind": "InferenceService",
            "metadata": {"name": "chat", "namespace": "team-a", "uid": "u-1", "generation": 1, **metadata},
            "spec": {"model": {"baseModel": "file:///m"}, "autoscaling": {"maxReplicas": 2, "targetConcurrency": 2}},
            "status": {}}


def _rt(keda: bool, settings: Settings) -> SimpleNamespace:
    kube = RecordingKube(keda=keda)
    return SimpleNamespace(kube=kube, settings=settings, locks=Locks())


def test_a_running_service_moves_to_keda_once_it_is_installed_and_back_once_it_is_gone(settings: Settings) -> None:
    deployments = {("team-a", "chat"): [{"replicas": 1}]}
    before = _rt(keda=False, settings=settings)
    assert follow_keda(before, _body(), deployments) == "HorizontalPodAutoscaler"
    after = _rt(keda=True, settings=settings)
    assert follow_keda(after, _body(), deployments) == "ScaledObject"
    assert ("delete", "HorizontalPodAutoscaler", None) in after.kube.calls  # never both
    assert after.locks.held == [("isvc", "team-a", "chat")]
    removed = _rt(keda=False, settings=settings)
    assert follow_keda(removed, _body(), deployments) == "HorizontalPodAutoscaler"


def test_nothing_before_the_first_rollout_nor_while_deleting(settings: Settings) -> None:
    rt = _rt(keda=True, settings=settings)
    assert follow_keda(rt, _body(), {}) is None
    served = {("team-a", "chat"): [{"replicas": 1}]}
    assert follow_keda(rt, _body(deletionTimestamp="2026-01-01T00:00:00Z"), served) is None
    assert rt.kube.calls == []


"""spec.autoscaling: the HPA and KEDA ScaledObject builders, the idleness clock, replicas the operator
writes, the ScaledToZero phase, and the spec's own rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from kubetune.crd.autoscaling import LAST_REQUEST_ANNOTATION, Autoscaling
from kubetune.crd.crd_yaml import crd_for
from kubetune.crd.inferenceservice import InferenceServiceSpec
from kubetune.crd.kinds import INFERENCE_SERVICE
from kubetune.operator import scale_to_zero as stz
from kubetune.operator.autoscaler import apply_autoscaler
from kubetune.operator.builders.autoscaling import (
    KEDA_PAUSED_REPLICAS,
    build_hpa,
    build_scaled_object,
    build_trigger_authentication,
)
from kubetune.operator.kube import path_of
from kubetune.operator.owner import Owner
from kubetune.operator.serving_phases import serving_state
from kubetune.operator.settings import Settings

ISVC = Owner(api_version="kubetune.io/v1alpha1", kind="InferenceService", name="chat", uid="u-1", namespace="team-a")
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SETTINGS = Settings(artifact_pvc="artifacts", artifact_mount_path="/mnt/artifacts", runtime_image="rt:1")


def _spec(**autoscaling: Any) -> InferenceServiceSpec:
    body: dict[str, Any] = {"model": {"baseModel": "file:///m"}}
    if autoscaling:
        body["autoscaling"] = autoscaling
    return InferenceServiceSpec.model_validate(body)


def _ago(seconds: float) -> str:
    return (NOW - timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def test_hpa_targets_the_server_deployment_between_the_bounds() -> None:
    hpa = build_hpa(ISVC, Autoscaling(min_replicas=2, max_replicas=5, target_cpu_utilization=70))
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["metadata"]["name"] == "chat-server"
    assert hpa["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "chat-server"}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 5)
    assert hpa["spec"]["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}


def test_scaled_object_scales_on_the_servers_own_metric_and_pauses_at_zero(settings: Settings) -> None:
    awake = build_scaled_object(ISVC, Autoscaling(max_replicas=4, target_concurrency=3), asleep=False,
                                settings=settings, authenticated=True)
    trigger = awake["spec"]["triggers"][0]
    assert awake["apiVersion"] == "keda.sh/v1alpha1"
    # No Prometheus needed: KEDA sums the gauge over every ready server's own /metrics, with the service's key.
    assert (trigger["type"], trigger["metricType"]) == ("metrics-api", "AverageValue")
    assert trigger["metadata"] == {
        "url": "http://chat.team-a.svc.cluster.local:8080/metrics", "format": "prometheus",
        "valueLocation": "kubetune_serve_active_requests", "targetValue": "3",
        "aggregateFromKubeServiceEndpoints": "true", "aggregationType": "sum", "authModes": "bearer"}
    assert trigger["authenticationRef"] == {"name": "chat-server"}
    assert awake["metadata"]["annotations"] == {KEDA_PAUSED_REPLICAS: None}  # a patch removes the pause
    queue = build_scaled_object(ISVC, Autoscaling(target_queue_depth=5), asleep=True, settings=settings,
                                authenticated=False)
    assert queue["spec"]["triggers"][0]["metadata"]["valueLocation"] == "kubetune_serve_queue_depth"
    assert "authenticationRef" not in queue["spec"]["triggers"][0]
    assert queue["metadata"]["annotations"] == {KEDA_PAUSED_REPLICAS: "0"}
    cpu = build_scaled_object(ISVC, Autoscaling(), asleep=False, settings=settings, authenticated=True)
    assert cpu["spec"]["triggers"][0]["type"] == "cpu"
    promql = build_scaled_object(ISVC, Autoscaling(target_concurrency=3, prometheus_address="http://prom:9090"),
                                 asleep=False, settings=settings, authenticated=True)["spec"]["triggers"][0]
    assert promql["type"] == "prometheus" and promql["metadata"]["serverAddress"] == "http://prom:9090"
    assert promql["metadata"]["query"] == (
        'sum(kubetune_serve_active_requests{namespace="team-a",pod=~"chat-server-.*"})')


def test_keda_reads_the_servers_with_the_services_own_key() -> None:
    auth = build_trigger_authentication(ISVC)
    assert (auth["kind"], auth["metadata"]["name"]) == ("TriggerAuthentication", "chat-server")
    assert auth["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert auth["spec"]["secretTargetRef"] == [{"parameter": "bearerToken", "name": "chat-serving-key",
                                                "key": "api-key"}]


def test_spec_rules() -> None:
    with pytest.raises(ValidationError, match="minReplicas"):
        _spec(minReplicas=3, maxReplicas=2)
    with pytest.raises(ValidationError, match="at most one"):
        _spec(targetConcurrency=1, targetQueueDepth=1)
    with pytest.raises(ValidationError):
        _spec(scaleToZero=True, idleSeconds=1)
    schema = crd_for(INFERENCE_SERVICE)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    rules = schema["properties"]["spec"]["properties"]["autoscaling"]["x-kubernetes-validations"]
    assert {r["rule"] for r in rules} == {"self.minReplicas <= self.maxReplicas",
                                         "!has(self.targetConcurrency) || !has(self.targetQueueDepth)"}


def test_idleness_counts_from_the_last_request_or_readiness_and_never_while_loading() -> None:
    spec = _spec(scaleToZero=True, idleSeconds=60)
    long_ago = _ago(6000)
    assert stz.is_idle(spec, {}, long_ago, NOW, ready=_ago(61))
    assert not stz.is_idle(spec, {}, long_ago, NOW, ready=_ago(59))  # just became Ready (or was woken)
    assert not stz.is_idle(spec, {}, long_ago, NOW, ready=None)  # still loading: never put to sleep
    assert not stz.is_idle(spec, {LAST_REQUEST_ANNOTATION: _ago(10)}, long_ago, NOW, ready=_ago(600))
    assert stz.is_idle(spec, {LAST_REQUEST_ANNOTATION: "garbage"}, long_ago, NOW, ready=_ago(600))
    # Asleep: it stays at zero until a request newer than idleSeconds, which wakes it.
    assert stz.is_idle(spec, {LAST_REQUEST_ANNOTATION: _ago(600)}, long_ago, NOW, asleep=True)
    assert not stz.is_idle(spec, {LAST_REQUEST_ANNOTATION: _ago(1)}, long_ago, NOW, asleep=True)
    assert not stz.is_idle(_spec(minReplicas=1), {}, long_ago, NOW, ready=long_ago)  # no scaleToZero
    assert stz.seconds_until_idle(spec, {LAST_REQUEST_ANNOTATION: _ago(10)}, long_ago, NOW) == 50
    status = {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T11:00:00Z"}]}
    assert stz.ready_since(status) == "2026-01-01T11:00:00Z"
    assert stz.ready_since({"conditions": [{"type": "Ready", "status": "False"}]}) is None


def test_desired_replicas_and_what_the_operator_writes() -> None:
    plain = InferenceServiceSpec.model_validate({"model": {"baseModel": "file:///m"}, "replicas": 3})
    assert stz.desired_replicas(plain, 1, idle=False) == 3
    assert stz.replicas_to_write(plain, 1, 3) == 3  # without autoscaling the operator owns replicas
    scaled = _spec(minReplicas=2, maxReplicas=4, scaleToZero=True)
    assert stz.desired_replicas(scaled, None, idle=False) == 2  # created at the minimum
    assert stz.desired_replicas(scaled, 0, idle=False) == 2  # woken to the minimum
    assert stz.desired_replicas(scaled, 3, idle=False) == 3  # the autoscaler's choice stands
    assert stz.desired_replicas(scaled, 9, idle=False) == 4
    assert stz.desired_replicas(scaled, 3, idle=True) == 0
    assert stz.replicas_to_write(scaled, 3, 3) is None  # between its own moves: left to the autoscaler
    assert stz.replicas_to_write(scaled, 3, 0) == 0
    assert stz.replicas_to_write(scaled, 0, 2) == 2
    assert stz.replicas_to_write(scaled, None, 2) == 2


def test_phase_is_scaled_to_zero_only_for_a_service_that_scales_to_zero() -> None:
    at_zero = {"replicas": 0, "readyReplicas": 0, "conditions": []}
    state = serving_state(at_zero, [], suspended=False, scales_to_zero=True)
    assert (state.phase, state.reason) == ("ScaledToZero", "Idle")
    assert serving_state(at_zero, [], suspended=False).phase == "Stopped"
    assert serving_state(at_zero, [], suspended=True, scales_to_zero=True).phase == "Stopped"


class RecordingKube:
    def __init__(self, keda: bool, existing: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.keda = keda
        self.existing = set(existing)
        self.calls: list[tuple[str, str, Any]] = []

    def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> Any:
        return {"kind": kind} if self.keda and kind == "CustomResourceDefinition" else None

    def create(self, manifest: dict[str, Any]) -> Any:
        self.calls.append(("create", manifest["kind"], manifest["metadata"].get("annotations")))
        return None if manifest["kind"] in self.existing else manifest

    def patch(self, api_version: str, kind: str, namespace: str | None, name: str, patch: Any) -> Any:
        self.calls.append(("patch", kind, patch))
        return patch

    def delete(self, api_version: str, kind: str, namespace: str | None, name: str) -> bool:
        self.calls.append(("delete", kind, None))
        return True


def test_hpa_without_keda_scaled_object_with_it_never_both() -> None:
    spec = _spec(maxReplicas=3, targetConcurrency=2)
    kube = RecordingKube(keda=False)
    assert apply_autoscaler(kube, ISVC, spec, asleep=False, settings=SETTINGS) == "HorizontalPodAutoscaler"  # type: ignore[arg-type]
    assert kube.calls == [("create", "HorizontalPodAutoscaler", None)]
    keda = RecordingKube(keda=True, existing={"ScaledObject"})
    assert apply_autoscaler(keda, ISVC, spec, asleep=True, settings=SETTINGS) == "ScaledObject"  # type: ignore[arg-type]
    assert keda.calls[0] == ("delete", "HorizontalPodAutoscaler", None)
    assert keda.calls[1][0:2] == ("create", "TriggerAuthentication")  # the servers ask for a key (auth apiKey)
    assert keda.calls[2] == ("create", "ScaledObject", {KEDA_PAUSED_REPLICAS: "0"})
    assert keda.calls[3][0:2] == ("patch", "ScaledObject")  # it existed: patched to the spec
    keyless = RecordingKube(keda=True)
    apply_autoscaler(keyless, ISVC, _spec(maxReplicas=3, targetConcurrency=2).model_copy(update={"auth": "none"}),
                     asleep=False, settings=SETTINGS)  # type: ignore[arg-type]
    assert ("delete", "TriggerAuthentication", None) in keyless.calls
    assert not any(c[:2] == ("create", "TriggerAuthentication") for c in keyless.calls)
    gone = RecordingKube(keda=False)
    assert apply_autoscaler(gone, ISVC, _spec(), asleep=False, settings=SETTINGS) is None  # type: ignore[arg-type]
    assert gone.calls == [("delete", "HorizontalPodAutoscaler", None)]


class BodyKube(RecordingKube):
    """Keeps the bodies: what a create sends and what a patch sends."""

    def __init__(self, keda: bool, existing: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        super().__init__(keda, existing)
        self.bodies: list[tuple[str, Any]] = []

    def create(self, manifest: dict[str, Any]) -> Any:
        self.bodies.append(("create", manifest))
        return super().create(manifest)

    def patch(self, api_version: str, kind: str, namespace: str | None, name: str, patch: Any) -> Any:
        self.bodies.append(("patch", patch))
        return super().patch(api_version, kind, namespace, name, patch)


def test_the_scale_down_window_reaches_the_hpa_and_keda_and_unset_leaves_the_default() -> None:
    window = Autoscaling(scale_down_stabilization_seconds=30)
    assert build_hpa(ISVC, window)["spec"]["behavior"] == {"scaleDown": {"stabilizationWindowSeconds": 30}}
    scaled = build_scaled_object(ISVC, window, asleep=False, settings=SETTINGS, authenticated=False)
    assert scaled["spec"]["advanced"] == {"horizontalPodAutoscalerConfig": {"behavior": {
        "scaleDown": {"stabilizationWindowSeconds": 30}}}}
    # Unset: no field on create (a CRD refuses null for an object) and null in the patch, which removes a
    # window an earlier spec set.
    for keda, kind in ((False, "HorizontalPodAutoscaler"), (True, "ScaledObject")):
        fresh = BodyKube(keda=keda)
        apply_autoscaler(fresh, ISVC, _spec(maxReplicas=2), asleep=False, settings=SETTINGS)  # type: ignore[arg-type]
        created = next(body for op, body in fresh.bodies if op == "create")
        assert not {"behavior", "advanced"} & set(created["spec"]), created["spec"]
        existing = BodyKube(keda=keda, existing={kind})
        apply_autoscaler(existing, ISVC, _spec(maxReplicas=2), asleep=False, settings=SETTINGS)  # type: ignore[arg-type]
        patched = next(body for op, body in existing.bodies if op == "patch")
        assert patched["spec"][("advanced" if keda else "behavior")] is None
    with pytest.raises(ValidationError):
        Autoscaling(scale_down_stabilization_seconds=3601)


def test_every_autoscaling_object_has_a_rest_path() -> None:
    """The operator's client finds each kind's resource in a table: a kind missing there fails at run time."""
    objects = [build_hpa(ISVC, Autoscaling()), build_trigger_authentication(ISVC),
               build_scaled_object(ISVC, Autoscaling(target_concurrency=1), asleep=False, settings=SETTINGS,
                                   authenticated=True)]
    paths = [path_of(o["apiVersion"], o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]) for o in objects]
    assert paths == [
        "/apis/autoscaling/v2/namespaces/team-a/horizontalpodautoscalers/chat-server",
        "/apis/keda.sh/v1alpha1/namespaces/team-a/triggerauthentications/chat-server",
        "/apis/keda.sh/v1alpha1/namespaces/team-a/scaledobjects/chat-server"]

"""Create, update or remove an InferenceService's autoscaler (HPA or KEDA ScaledObject)."""

from __future__ import annotations

import time
from typing import Any

from kubetune.crd.inferenceservice import InferenceServiceSpec
from kubetune.operator.builders.autoscaling import (
    HPA_API_VERSION,
    KEDA_API_VERSION,
    KEDA_CRD,
    autoscaler_name,
    build_hpa,
    build_scaled_object,
    build_trigger_authentication,
    trigger_authentication_name,
)
from kubetune.operator.kube import Kube
from kubetune.operator.owner import Owner
from kubetune.operator.settings import Settings

# KEDA is installed or removed rarely; one GET of its CRD a minute is enough to notice either.
KEDA_CHECK_SECONDS = 60.0
_SEEN = "_kubetune_keda_seen"  # (monotonic time, found), kept on the client it was asked through


def keda_installed(kube: Kube) -> bool:
    """Whether the cluster serves KEDA's ScaledObject (its CRD exists), asked again after a minute."""
    now = time.monotonic()
    cached: tuple[float, bool] | None = getattr(kube, _SEEN, None)
    if cached is not None and now - cached[0] < KEDA_CHECK_SECONDS:
        return cached[1]
    crd = kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", None, KEDA_CRD)
    found = crd is not None and not crd.get("metadata", {}).get("deletionTimestamp")  # KEDA being removed: gone
    setattr(kube, _SEEN, (now, found))
    return found


def _create_or_patch(kube: Kube, manifest: dict[str, Any]) -> None:
    meta = manifest["metadata"]
    annotations = meta.get("annotations")
    # None values remove a field or annotation in the merge patch; a create must not carry them (a CRD's
    # schema refuses null where it wants an object).
    create = {**manifest, "spec": {k: v for k, v in manifest["spec"].items() if v is not None}}
    if annotations:
        create["metadata"] = {**meta, "annotations": {k: v for k, v in annotations.items() if v is not None}}
    if kube.create(create) is None:
        patch: dict[str, Any] = {"spec": manifest["spec"]}
        if annotations:
            patch["metadata"] = {"annotations": annotations}
        kube.patch(manifest["apiVersion"], manifest["kind"], meta.get("namespace"), meta["name"], patch)


def apply_autoscaler(kube: Kube, owner: Owner, spec: InferenceServiceSpec, asleep: bool,
                     settings: Settings) -> str | None:
    """The autoscaler kind now in place ("ScaledObject", "HorizontalPodAutoscaler"), None without one.

    ``asleep``: the service is at zero (idle or suspended); a ScaledObject is then paused at 0 replicas,
    while the HPA controller leaves a Deployment at 0 alone by itself.
    """
    name, namespace = autoscaler_name(owner.name), owner.namespace
    keda = keda_installed(kube)
    scaling = spec.autoscaling
    if scaling is None:
        kube.delete(HPA_API_VERSION, "HorizontalPodAutoscaler", namespace, name)
        if keda:
            kube.delete(KEDA_API_VERSION, "ScaledObject", namespace, name)
            kube.delete(KEDA_API_VERSION, "TriggerAuthentication", namespace, trigger_authentication_name(owner.name))
        return None
    if keda:
        kube.delete(HPA_API_VERSION, "HorizontalPodAutoscaler", namespace, name)
        authenticated = spec.auth == "apiKey"
        if authenticated:
            _create_or_patch(kube, build_trigger_authentication(owner))
        else:  # auth none now: KEDA reads without a key, and the old credentials go
            kube.delete(KEDA_API_VERSION, "TriggerAuthentication", namespace, trigger_authentication_name(owner.name))
        _create_or_patch(kube, build_scaled_object(owner, scaling, asleep, settings, authenticated))
        return "ScaledObject"
    _create_or_patch(kube, build_hpa(owner, scaling))
    return "HorizontalPodAutoscaler"

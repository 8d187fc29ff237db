"""Pieces shared by training and serving pods: resources, scheduling, security, volumes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import PurePosixPath
from typing import Any

from kubetune.crd.base import Resources, Toleration
from kubetune.operator.settings import Settings

GPU_RESOURCE = "nvidia.com/gpu"
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
ARTIFACTS_VOLUME = "artifacts"
PVC_ROOT = "/mnt/pvc"  # where kubetune.train.uris looks for pvc://NAME (its DEFAULT_PVC_ROOT)


def container_resources(gpus: int, cpu: str | None, memory: str | None) -> dict[str, Any]:
    """Requests and limits: GPUs as nvidia.com/gpu limits, memory limited to its request."""
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    if cpu:
        requests["cpu"] = cpu
    if memory:
        requests["memory"] = memory
        limits["memory"] = memory  # a limit makes OOMKilled a clear, reportable failure
    if gpus > 0:
        limits[GPU_RESOURCE] = str(gpus)
    out: dict[str, Any] = {}
    if requests:
        out["requests"] = requests
    if limits:
        out["limits"] = limits
    return out


def scheduling(
    gpus: int, gpu_product: str | None, tolerations: list[Toleration], priority_class: str | None
) -> dict[str, Any]:
    """nodeSelector, tolerations and priority class of a pod spec."""
    spec: dict[str, Any] = {}
    if gpus > 0 and gpu_product:
        spec["nodeSelector"] = {GPU_PRODUCT_LABEL: gpu_product}
    tols = [t.to_wire() for t in tolerations]
    if gpus > 0 and not any(t.get("key") == GPU_RESOURCE for t in tols):
        # GPU nodes are commonly tainted nvidia.com/gpu:NoSchedule.
        tols.append({"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"})
    if tols:
        spec["tolerations"] = tols
    if priority_class:
        spec["priorityClassName"] = priority_class
    return spec


def pod_security(settings: Settings) -> dict[str, Any]:
    uid = settings.run_as_user
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security() -> dict[str, Any]:
    return {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def artifact_volume(settings: Settings, namespace: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The artifact store's volume and the project's own prefix of it (subPath), or nothing without a PVC.

    The pod sees ``<mount path>/<namespace>`` and nothing else of the store: another project's files are
    not in its filesystem at all, whatever a spec or a compromised runtime asks for.
    """
    if not settings.artifact_pvc:
        return [], []
    volume = {"name": ARTIFACTS_VOLUME, "persistentVolumeClaim": {"claimName": settings.artifact_pvc}}
    mount = {"name": ARTIFACTS_VOLUME, "mountPath": f"{settings.artifact_mount_path.rstrip('/')}/{namespace}",
             "subPath": namespace}
    return [volume], [mount]


def catalog_mounts(trusted: Iterable[str], settings: Settings, namespace: str) -> list[dict[str, Any]]:
    """Read-only mounts of the admin's catalog models kept in the store outside every project's prefix.

    The resolver trusts a Trainer catalog's uris for reading (docs/security.md), but the pod sees only
    its project's prefix of the store: without these it would not find a model at, say,
    ``<store>/models/<id>``. Only that one directory is mounted, read-only, at its own path.
    """
    if not settings.artifact_pvc:
        return []
    root = PurePosixPath(settings.artifact_mount_path)
    mounts = []
    for uri in sorted(trusted):
        if not uri.startswith("file://"):
            continue
        path = PurePosixPath(uri.removeprefix("file://"))
        if not path.is_relative_to(root) or ".." in path.parts:
            continue
        relative = path.relative_to(root)
        if not relative.parts or relative.parts[0] == namespace:  # the project's prefix is mounted already
            continue
        mounts.append({"name": ARTIFACTS_VOLUME, "mountPath": str(path), "subPath": str(relative),
                       "readOnly": True})
    return mounts


def input_volumes(uris: Iterable[str], settings: Settings, namespace: str,
                  writable: Iterable[str] = ()) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Mounts for the pvc:// references a pod reads (read-only) or writes (``writable``).

    The runtime finds pvc://NAME/path at ``<PVC_ROOT>/NAME/path``. A claim of the namespace is mounted
    whole; the artifact claim only with the project's prefix (subPath), as in `artifact_volume`.
    """
    volumes: list[dict[str, Any]] = []
    mounts: dict[str, dict[str, Any]] = {}
    writable = list(writable)
    writes = {scheme_claim(u) for u in writable}
    for uri in [*uris, *writable]:
        claim = scheme_claim(uri)
        if claim is None or claim in mounts:
            continue
        read_only = claim not in writes
        if claim == settings.artifact_pvc:  # its volume comes with artifact_volume
            mounts[claim] = {"name": ARTIFACTS_VOLUME, "mountPath": f"{PVC_ROOT}/{claim}/{namespace}",
                             "subPath": namespace, "readOnly": read_only}
            continue
        name = "input-" + hashlib.sha256(claim.encode()).hexdigest()[:12]
        volumes.append({"name": name, "persistentVolumeClaim": {"claimName": claim, "readOnly": read_only}})
        mounts[claim] = {"name": name, "mountPath": f"{PVC_ROOT}/{claim}", "readOnly": read_only}
    return volumes, list(mounts.values())


def scheme_claim(uri: str) -> str | None:
    """The claim of a pvc:// uri, else None."""
    if not uri.startswith("pvc://"):
        return None
    return uri.removeprefix("pvc://").split("/", 1)[0] or None


def merged_resources(
    override: Resources | None, gpus: int, gpu_product: str | None, cpu: str | None, memory: str | None
) -> tuple[int, str | None, str | None, str | None]:
    """A spec's resources laid over defaults: (gpus, gpu product, cpu, memory)."""
    if override is None:
        return gpus, gpu_product, cpu, memory
    return (
        override.gpus if override.gpus is not None else gpus,
        override.gpu_type or gpu_product,
        override.cpu or cpu,
        override.memory or memory,
    )


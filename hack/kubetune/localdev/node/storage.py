"""A tiny dynamic provisioner: PersistentVolumeClaims become directories on this machine.

The scheduler will not place a pod whose claim is unbound, so something must
provision volumes. The agent installs a StorageClass (default: `kubetune-local`,
marked as the cluster's default class) and, for every pending claim of that
class, creates a hostPath PersistentVolume pre-bound to the claim; the
controller-manager's PV controller then binds them. When the claim is deleted,
the volume and its directory are deleted too (reclaim policy Delete).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from kubernetes.client.rest import ApiException

from kubetune.localdev.node.kube import Kube, as_dict
from kubetune.localdev.node.podwatch import Watcher

log = logging.getLogger(__name__)

PROVISIONER = "kubetune.io/local-node"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"


def storage_class(name: str, default: bool) -> dict[str, Any]:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": name, "annotations": {DEFAULT_CLASS: "true" if default else "false"}},
        "provisioner": PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "Immediate",
    }


def volume_name(claim: dict[str, Any]) -> str:
    return f"pvc-{claim['metadata']['uid']}"


def claim_dir(data_root: Path, claim: dict[str, Any]) -> Path:
    meta = claim["metadata"]
    return data_root / str(meta["namespace"]) / str(meta["name"])


def wants_volume(claim: dict[str, Any], class_name: str) -> bool:
    spec = claim.get("spec") or {}
    return (
        spec.get("storageClassName") == class_name
        and not spec.get("volumeName")
        and (claim.get("status") or {}).get("phase", "Pending") == "Pending"
        and not claim["metadata"].get("deletionTimestamp")
    )


def persistent_volume(claim: dict[str, Any], class_name: str, directory: Path) -> dict[str, Any]:
    """A hostPath volume pre-bound (claimRef) to the claim, as large as it asks."""
    meta, spec = claim["metadata"], claim.get("spec") or {}
    size = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": volume_name(claim), "annotations": {PROVISIONED_BY: PROVISIONER}},
        "spec": {
            "capacity": {"storage": size},
            "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": class_name,
            "volumeMode": spec.get("volumeMode", "Filesystem"),
            "hostPath": {"path": str(directory), "type": "DirectoryOrCreate"},
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": meta["namespace"],
                "name": meta["name"],
                "uid": meta["uid"],
            },
        },
    }


class Provisioner:
    def __init__(self, kube: Kube, class_name: str, data_root: Path, default: bool) -> None:
        self.kube = kube
        self.class_name = class_name
        self.data_root = data_root
        self.default = default
        self.watcher = Watcher(kube.core.list_persistent_volume_claim_for_all_namespaces, self._on_claim, "claims")

    def start(self) -> None:
        try:
            self.kube.storage.create_storage_class(storage_class(self.class_name, self.default), _preload_content=False)
        except ApiException as error:
            if error.status != 409:
                raise
        self._delete_released()
        self.watcher.start()

    def stop(self) -> None:
        self.watcher.stop()

    def _on_claim(self, kind: str, claim: dict[str, Any]) -> None:
        if kind == "DELETED":
            self._delete_volume(volume_name(claim))
        elif wants_volume(claim, self.class_name):
            directory = claim_dir(self.data_root, claim)
            directory.mkdir(parents=True, exist_ok=True)
            try:
                body = persistent_volume(claim, self.class_name, directory)
                self.kube.core.create_persistent_volume(body, _preload_content=False)
                log.info("provisioned %s for %s/%s", volume_name(claim), *_key(claim))
            except ApiException as error:
                if error.status != 409:  # another agent got there first
                    raise

    def _delete_released(self) -> None:
        """Volumes whose claims went away while no agent was watching."""
        listed = as_dict(self.kube.core.list_persistent_volume(_preload_content=False))
        for volume in listed.get("items") or []:
            ours = (volume["metadata"].get("annotations") or {}).get(PROVISIONED_BY) == PROVISIONER
            if ours and (volume.get("status") or {}).get("phase") == "Released":
                self._delete_volume(volume["metadata"]["name"])

    def _delete_volume(self, name: str) -> None:
        try:
            volume = as_dict(self.kube.core.read_persistent_volume(name, _preload_content=False))
        except ApiException as error:
            if error.status == 404:
                return
            raise
        if (volume["metadata"].get("annotations") or {}).get(PROVISIONED_BY) != PROVISIONER:
            return
        path = ((volume.get("spec") or {}).get("hostPath") or {}).get("path")
        if path and Path(path).is_relative_to(self.data_root):
            shutil.rmtree(path, ignore_errors=True)
        try:
            self.kube.core.delete_persistent_volume(name, _preload_content=False)
        except ApiException as error:
            if error.status != 404:
                raise


def _key(claim: dict[str, Any]) -> tuple[str, str]:
    return claim["metadata"]["namespace"], claim["metadata"]["name"]

"""Install kubetune's CRDs into a cluster and wait until they are served."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException


def repo_crd_dir() -> Path:
    # hack/kubetune/localdev/crds.py -> manifests/crds
    return Path(__file__).resolve().parents[3] / "manifests" / "crds"


def load_crds(directory: Path | None = None) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted((directory or repo_crd_dir()).glob("*.yaml")):
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def install_crds(api: client.ApiClient, directory: Path | None = None, timeout: float = 60) -> list[str]:
    """Create or replace every CRD, then wait for Established; returns their names."""
    ext = client.ApiextensionsV1Api(api)
    names = []
    for crd in load_crds(directory):
        name = crd["metadata"]["name"]
        names.append(name)
        try:
            ext.create_custom_resource_definition(crd)
        except ApiException as err:
            if err.status != 409:
                raise
            current = ext.read_custom_resource_definition(name)
            crd["metadata"]["resourceVersion"] = current.metadata.resource_version
            ext.replace_custom_resource_definition(name, crd)
    deadline = time.monotonic() + timeout
    pending = set(names)
    while pending and time.monotonic() < deadline:
        for name in sorted(pending):
            conditions = ext.read_custom_resource_definition(name).status.conditions or []
            if any(c.type == "Established" and c.status == "True" for c in conditions):
                pending.discard(name)
        if pending:
            time.sleep(0.1)  # establishment takes a moment; no watch worth opening for it
    if pending:
        raise TimeoutError(f"CRDs not established: {sorted(pending)}")
    wait_served(api, load_crds(directory), deadline)
    return names


def wait_served(api: client.ApiClient, crds: list[dict[str, Any]], deadline: float) -> None:
    """Until a LIST of each kind answers: right after Established, the API server still answers 429
    "storage is (re)initializing" for a moment, which clients (kopf, the facade) would log as retries."""
    custom = client.CustomObjectsApi(api)
    for crd in crds:
        group, plural = crd["spec"]["group"], crd["spec"]["names"]["plural"]
        version = next(v["name"] for v in crd["spec"]["versions"] if v.get("served", True))
        while True:
            try:
                custom.list_cluster_custom_object(group, version, plural, limit=1)
                break
            except ApiException as err:
                if err.status != 429 or time.monotonic() >= deadline:
                    raise
                time.sleep(0.1)

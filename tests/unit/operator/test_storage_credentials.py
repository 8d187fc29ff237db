"""The per-owner object-store credentials Secret and the env that points at it."""

from __future__ import annotations

import pytest

from kubetune.operator.builders.storage import (
    MissingCredentialsError,
    build_namespace_claim,
    build_namespace_volume,
    build_storage_secret,
    storage_env,
)
from kubetune.operator.owner import Owner
from kubetune.operator.settings import Settings

pytestmark = pytest.mark.unit

OWNER = Owner(api_version="kubetune.io/v1alpha1", kind="Training", name="run-1", uid="uid-1", namespace="team-a")


def test_the_copy_holds_only_the_credentials_and_is_owned() -> None:
    source = {"metadata": {"name": "s3"}, "data": {"AWS_ACCESS_KEY_ID": "QQ==", "AWS_SECRET_ACCESS_KEY": "Qg==",
                                                  "unrelated": "eA=="}}
    secret = build_storage_secret(OWNER, source, "trainer")
    assert secret["metadata"]["name"] == "run-1-storage"
    assert secret["metadata"]["namespace"] == "team-a"
    assert secret["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    assert secret["data"] == {"AWS_ACCESS_KEY_ID": "QQ==", "AWS_SECRET_ACCESS_KEY": "Qg=="}
    with pytest.raises(MissingCredentialsError, match="AWS_SECRET_ACCESS_KEY"):
        build_storage_secret(OWNER, {"metadata": {"name": "s3"}, "data": {"AWS_ACCESS_KEY_ID": "QQ=="}}, "trainer")


def test_env_only_when_an_object_store_is_configured() -> None:
    assert storage_env(OWNER, Settings(object_store_secret=None)) == []
    env = storage_env(OWNER, Settings(object_store_secret="s3", object_store_endpoint="http://minio:9000",
                                      object_store_region="eu-1"))
    by_name = {e["name"]: e for e in env}
    assert by_name["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"] == {"name": "run-1-storage",
                                                                         "key": "AWS_ACCESS_KEY_ID"}
    assert by_name["AWS_ENDPOINT_URL"]["value"] == "http://minio:9000"
    assert by_name["AWS_DEFAULT_REGION"]["value"] == "eu-1"


def test_a_namespace_volume_copies_the_source_and_is_reserved_for_its_claim() -> None:
    source = {"metadata": {"name": "pv-1"}, "spec": {
        "capacity": {"storage": "100Gi"}, "accessModes": ["ReadWriteMany"], "storageClassName": "nfs",
        "nfs": {"server": "10.0.0.5", "path": "/exports/kubetune"}, "persistentVolumeReclaimPolicy": "Delete",
        "claimRef": {"namespace": "kubetune-system", "name": "kubetune-artifacts", "uid": "u-1"}}}
    volume = build_namespace_volume(source, "team-a", "kubetune-artifacts")
    assert volume["metadata"]["name"] == "pv-1-team-a"
    assert volume["spec"]["nfs"] == source["spec"]["nfs"]  # type: ignore[index]
    assert volume["spec"]["persistentVolumeReclaimPolicy"] == "Retain"  # never deletes the shared data
    assert volume["spec"]["claimRef"] == {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                          "namespace": "team-a", "name": "kubetune-artifacts"}
    claim = build_namespace_claim({"metadata": {"name": "kubetune-artifacts"}, "spec": {
        "accessModes": ["ReadWriteMany"], "storageClassName": "nfs", "resources": {"requests": {"storage": "100Gi"}}}},
        "team-a", volume["metadata"]["name"])
    assert claim["metadata"]["namespace"] == "team-a"
    assert claim["spec"]["volumeName"] == "pv-1-team-a" and claim["spec"]["storageClassName"] == "nfs"

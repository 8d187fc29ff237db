"""The default Trainers the local platform applies become Ready under the real operator.

Runs what LocalPlatform.start does for them (apply, then the operator reconciles) on the
session's control plane, rather than starting a second platform.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kube_waits import Obj, wait_for
from kubernetes import client

from kubetune.crd import GROUP, VERSION
from kubetune.localdev.controlplane import ControlPlane
from kubetune.localdev.trainers import apply_default_trainers
from kubetune.operator.inprocess import OperatorThread
from kubetune.operator.settings import Settings

pytestmark = pytest.mark.integration


def _ready(obj: Obj) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


@pytest.fixture
def default_trainers(api_client: client.ApiClient) -> Iterator[list[str]]:
    names = apply_default_trainers(api_client, node_gpus=0)
    yield names
    custom = client.CustomObjectsApi(api_client)
    for name in names:
        custom.delete_cluster_custom_object(GROUP, VERSION, "trainers", name)


def test_default_trainers_are_ready(control_plane: ControlPlane, api_client: client.ApiClient,
                                    default_trainers: list[str], tmp_path: Path) -> None:
    assert default_trainers == ["lora", "qlora", "full"]
    # Applying again (a restarted platform on a kept cluster) updates instead of failing.
    assert apply_default_trainers(api_client, node_gpus=0) == default_trainers
    settings = Settings(kubeconfig=str(control_plane.kubeconfig), artifact_pvc=None,
                        artifact_mount_path=str(tmp_path), leader_election=False, metrics_port=0,
                        health_port=0, log_format="text", log_level="WARNING")
    custom = client.CustomObjectsApi(api_client)
    with OperatorThread(settings):
        for name in default_trainers:
            trainer = wait_for(custom.list_cluster_custom_object, _ready, GROUP, VERSION, "trainers",
                               field_selector=f"metadata.name={name}")
            assert trainer["spec"]["resources"]["gpus"] == 0
            assert trainer["spec"]["methods"] == [name]

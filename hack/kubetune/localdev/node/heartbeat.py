"""Keeping the Node alive: Ready condition heartbeats and the node Lease.

The node lifecycle controller marks a node NotReady (and taints it) when its
Lease in kube-node-lease stops being renewed; the Ready condition is what the
scheduler and `kubectl get nodes` read.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any

from kubernetes.client.rest import ApiException

from kubetune.localdev.node.kube import STRATEGIC_PATCH, Kube

log = logging.getLogger(__name__)

LEASE_NAMESPACE = "kube-node-lease"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def micro_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def seconds_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def node_conditions(ready: bool, since: dt.datetime, now: dt.datetime) -> list[dict[str, Any]]:
    """The kubelet's four standard conditions; pressure is never reported."""
    beat, transition = seconds_time(now), seconds_time(since)
    pressure = [
        ("MemoryPressure", "KubeletHasSufficientMemory"),
        ("DiskPressure", "KubeletHasNoDiskPressure"),
        ("PIDPressure", "KubeletHasSufficientPID"),
    ]
    conditions = [
        {
            "type": kind,
            "status": "False",
            "reason": reason,
            "message": reason,
            "lastHeartbeatTime": beat,
            "lastTransitionTime": transition,
        }
        for kind, reason in pressure
    ]
    conditions.append(
        {
            "type": "Ready",
            "status": "True" if ready else "False",
            "reason": "KubeletReady" if ready else "KubeletNotReady",
            "message": "kubetune local node agent is posting ready status"
            if ready
            else "kubetune local node agent stopped",
            "lastHeartbeatTime": beat,
            "lastTransitionTime": transition,
        }
    )
    return conditions


def lease_manifest(node: str, node_uid: str, duration: int, now: dt.datetime) -> dict[str, Any]:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": node,
            "namespace": LEASE_NAMESPACE,
            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": node, "uid": node_uid}],
        },
        "spec": {"holderIdentity": node, "leaseDurationSeconds": duration, "renewTime": micro_time(now)},
    }


class Heartbeat:
    def __init__(self, kube: Kube, node: str, node_uid: str, interval: float, lease_seconds: int) -> None:
        self.kube = kube
        self.node = node
        self.node_uid = node_uid
        self.interval = interval
        self.lease_seconds = lease_seconds
        self.ready_since = _now()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{node}", daemon=True)

    def start(self) -> None:
        self.beat()
        self._thread.start()

    def stop(self, mark_not_ready: bool = True) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        if mark_not_ready:
            try:
                self._post_conditions(ready=False, since=_now())
            except Exception:
                log.warning("could not mark node %s not ready", self.node, exc_info=True)

    def beat(self) -> None:
        self._post_conditions(ready=True, since=self.ready_since)
        self._renew_lease()

    def _post_conditions(self, ready: bool, since: dt.datetime) -> None:
        self.kube.core.patch_node_status(
            self.node,
            {"status": {"conditions": node_conditions(ready, since, _now())}},
            _content_type=STRATEGIC_PATCH,
            _preload_content=False,
        )

    def _renew_lease(self) -> None:
        now = _now()
        try:
            self.kube.coordination.patch_namespaced_lease(
                self.node,
                LEASE_NAMESPACE,
                {"spec": {"holderIdentity": self.node, "renewTime": micro_time(now)}},
                _content_type=STRATEGIC_PATCH,
                _preload_content=False,
            )
        except ApiException as error:
            if error.status != 404:
                raise
            manifest = lease_manifest(self.node, self.node_uid, self.lease_seconds, now)
            self.kube.coordination.create_namespaced_lease(LEASE_NAMESPACE, manifest, _preload_content=False)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.beat()
            except Exception:
                log.warning("heartbeat of node %s failed", self.node, exc_info=True)

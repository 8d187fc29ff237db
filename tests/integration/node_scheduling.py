"""Session-long local nodes take new pods only while their own folder's tests run.

A folder's node lives for the whole pytest session (starting one per module costs seconds, and its pods'
names are reused), but after the folder it must not take pods from later tests: two local nodes do not share a
network, so a later multi-node Training split across them never meets, and a later test's pod on a node of
different settings (GPUs, mounts) misleads. So such a node is cordoned (spec.unschedulable, as `kubectl
cordon` does) at the end of each of its folder's modules and opened again at the start of the next one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from kubernetes import client


def set_schedulable(api_client: client.ApiClient, node: str, schedulable: bool) -> None:
    client.CoreV1Api(api_client).patch_node(node, {"spec": {"unschedulable": not schedulable}})


@contextmanager
def schedulable_during(api_client: client.ApiClient, node: str) -> Iterator[None]:
    """Open `node` to new pods inside the block and cordon it after (pods already there keep running)."""
    set_schedulable(api_client, node, True)
    try:
        yield
    finally:
        set_schedulable(api_client, node, False)

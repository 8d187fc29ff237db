"""A multi-node Training needs one output that every node writes to.

Every rank writes its shard of each checkpoint (``torch.distributed.checkpoint``) into the output,
and rank 0 writes the marker that makes the checkpoint complete only after all shards are there; a
resume (a group restart, a stop and start) reads every shard back. So the pods of a group must see
the same directory. The operator refuses, before any Job exists, a multi-node Training whose output
cannot be that:

- an ``s3://`` output: the trainer writes into a local directory of its pod and rank 0 uploads from
  its own node only, so the other nodes' shards would never reach the bucket;
- an output on a claim (the artifact store's ``file://`` paths, or ``pvc://<claim>/...``) whose
  access modes do not include ReadWriteMany: pods on different machines cannot all mount it.

Where the operator cannot tell (a claim that does not exist yet, a ``file://`` path with no artifact
claim configured: the local development node, whose pods share the machine's filesystem), it lets the
Training run. docs/operator.md ("Multi-node output").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kubetune.operator.builders.podspec import scheme_claim
from kubetune.operator.settings import Settings

REASON = "OutputNotShared"
SHARED_MODE = "ReadWriteMany"


def output_claim(output: str, settings: Settings) -> str | None:
    """The claim an output lies on: pvc://<claim>/..., or the artifact claim for its file:// paths."""
    claim = scheme_claim(output)
    if claim is not None:
        return claim
    root = settings.artifact_mount_path.rstrip("/") + "/"
    if settings.artifact_pvc and output.startswith("file://") and output.removeprefix("file://").startswith(root):
        return settings.artifact_pvc
    return None


def refusal(nodes: int, output: str, claim: str | None, access_modes: list[str] | None) -> str | None:
    """Why `nodes` pods cannot share `output` (pure), or None when they can or nobody can tell."""
    if nodes <= 1:
        return None
    if output.startswith("s3://"):
        return (f"nodes: {nodes} needs an output every node writes to (each node writes its checkpoint shards "
                f"there), but the s3:// output {output} is uploaded from node 0 only; use a file:// output on "
                "a ReadWriteMany artifact store, or nodes: 1")
    if claim is not None and access_modes is not None and SHARED_MODE not in access_modes:
        modes = ", ".join(access_modes) or "none"
        return (f"nodes: {nodes} needs an output every node writes to (each node writes its checkpoint shards "
                f"there), but the output's claim {claim} is {modes}, not {SHARED_MODE}: pods on different "
                "machines cannot all mount it; use a ReadWriteMany claim (the chart's "
                "storage.pvc.accessModes) or nodes: 1")
    return None


def check(nodes: int, output: str, namespace: str, settings: Settings,
          get_claim: Callable[[str, str], Mapping[str, Any] | None]) -> str | None:
    """`refusal` with the claim read through `get_claim(namespace, name)` (the Training's namespace first,
    then the operator's own, where the artifact claim's original lives)."""
    if nodes <= 1:
        return None
    claim = output_claim(output, settings)
    modes: list[str] | None = None
    if claim is not None:
        found = get_claim(namespace, claim)
        if found is None and claim == settings.artifact_pvc and settings.pod_namespace:
            found = get_claim(settings.pod_namespace, claim)
        if found is not None:
            modes = list((found.get("spec") or {}).get("accessModes") or [])
    return refusal(nodes, output, claim, modes)

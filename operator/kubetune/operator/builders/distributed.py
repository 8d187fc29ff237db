"""Many processes and many pods: the run config's `distributed` block and what the Job needs for it.

One pod runs `processesPerNode` processes under torchrun (one per GPU, or as many as asked on CPU).
`nodes: M > 1` makes the Job Indexed (completions = parallelism = M) with a headless Service
of the Job's name as the pods' subdomain: pod i is `<job>-i.<job>`, and every pod rendezvouses at
`<job>-0.<job>:<port>` (torchrun's c10d backend, hosted by node 0). Why not JobSet: docs/operator.md.

The port is the Training's own (``rendezvous_port``): where pods share a network namespace (the
local node's host-process pods, or hostNetwork pods on a cluster) two groups at once would
otherwise both bind torchrun's default 29500 on node 0, and the second would fail its rendezvous.
"""

from __future__ import annotations

import hashlib
from typing import Any

from kubetune.crd import labels as lbl
from kubetune.crd.distributed import DistributedSpec
from kubetune.crd.exit_codes import PERMANENT_EXIT_CODES
from kubetune.crd.runconfig import RunDistributed
from kubetune.crd.training import TrainingSpec
from kubetune.crd.vocab import Method
from kubetune.operator.owner import Owner, child_metadata

SHM_VOLUME = "dshm"
SHM_PATH = "/dev/shm"  # noqa: S108  (the shared-memory mount itself, not a temp file)
SHM_PER_PROCESS_GI = 1
RENDEZVOUS_PORT_NAME = "rendezvous"
MAX_HOSTNAME = 63  # a pod's hostname <job>-<index> is a DNS label
# Rendezvous ports: below the NodePort range (30000-32767) and Linux's ephemeral ports (32768-60999),
# so that neither a Service nor an outgoing connection holds the port node 0 must bind.
RENDEZVOUS_PORT_MIN = 20000
RENDEZVOUS_PORT_COUNT = 10000


class DistributedError(ValueError):
    """A spec whose processes and pods cannot be laid out (a spec problem: the Training fails)."""


def default_strategy(method: Method) -> str:
    """DDP where the trained part is small (adapters); FSDP2 where the whole model trains."""
    return "fsdp" if method == "full" else "ddp"


def resolve(spec: TrainingSpec, gpus: int) -> RunDistributed:
    """The run config's `distributed`: strategy and processes settled, checked against the pod's GPUs."""
    wanted = spec.distributed or DistributedSpec()
    processes = wanted.processes_per_node or (gpus if gpus > 0 else 1)
    if gpus > 0 and processes != gpus:
        raise DistributedError(
            f"distributed.processesPerNode {processes} must equal the pod's GPUs ({gpus}): one process per GPU")
    strategy = default_strategy(spec.method) if wanted.strategy == "auto" else wanted.strategy
    if wanted.cpu_offload and strategy != "fsdp":
        raise DistributedError("distributed.cpuOffload needs the fsdp strategy (it offloads FSDP shards)")
    return RunDistributed(
        strategy=strategy,
        processes_per_node=processes,
        nodes=spec.nodes,
        activation_checkpointing=wanted.activation_checkpointing,
        cpu_offload=wanted.cpu_offload,
        mixed_precision=wanted.mixed_precision,
        rendezvous_timeout_seconds=wanted.rendezvous_timeout_seconds,
    )


def check_names(job_name: str, nodes: int) -> None:
    """Pod hostnames are `<job>-<index>`: they must stay DNS labels."""
    longest = f"{job_name}-{nodes - 1}"
    if nodes > 1 and len(longest) > MAX_HOSTNAME:
        raise DistributedError(
            f"the Training's name is too long for {nodes} nodes: pod hostname {longest!r} would exceed "
            f"{MAX_HOSTNAME} characters; use a shorter name")


def rendezvous_port(uid: str) -> int:
    """The Training's rendezvous port: a hash of its uid into 20000-29999, stable across group restarts.

    Two Trainings at once get the same port with probability 1/10000 per pair; a group that loses
    that draw fails its rendezvous and is restarted like any failed group.
    """
    digest = hashlib.sha256(uid.encode()).digest()
    return RENDEZVOUS_PORT_MIN + int.from_bytes(digest[:8], "big") % RENDEZVOUS_PORT_COUNT


def rendezvous_endpoint(job_name: str, namespace: str, port: int) -> str:
    """Node 0's stable name through the headless Service (namespace-qualified: no search path needed)."""
    return f"{job_name}-0.{job_name}.{namespace}.svc:{port}"


def gang(config: RunDistributed) -> bool:
    """Several pods train together: they start, fail and restart as one group."""
    return config.nodes > 1


def env(job_name: str, namespace: str, config: RunDistributed, uid: str) -> list[dict[str, Any]]:
    """What the launcher (kubetune.train.distributed.launch) reads besides the run config.

    JOB_COMPLETION_INDEX (the node rank) comes from the Job controller itself in an Indexed Job.
    KUBETUNE_NNODES, _NPROC_PER_NODE and _RDZV_TIMEOUT repeat the run config for a Trainer with a
    command of its own (e.g. plain torchrun).
    """
    out: list[dict[str, Any]] = [
        {"name": "KUBETUNE_NNODES", "value": str(config.nodes)},
        {"name": "KUBETUNE_NPROC_PER_NODE", "value": str(config.processes_per_node)},
        {"name": "KUBETUNE_RDZV_TIMEOUT", "value": str(config.rendezvous_timeout_seconds)},
    ]
    if gang(config):
        out += [
            {"name": "KUBETUNE_RDZV_ENDPOINT", "value": rendezvous_endpoint(job_name, namespace, rendezvous_port(uid))},
            # The same id for every pod of one Job: a recreated Job (a group restart) has a new uid.
            {"name": "KUBETUNE_RDZV_ID", "valueFrom": {"fieldRef": {
                "fieldPath": "metadata.labels['batch.kubernetes.io/controller-uid']"}}},
            # Where peers reach this node's workers (torchrun's default, the FQDN, is not resolvable
            # everywhere: the local node's pods share the machine's hostname).
            {"name": "KUBETUNE_LOCAL_ADDR", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        ]
    return out


def shm_volume(config: RunDistributed, size: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The shared-memory mount as a memory-backed emptyDir: a container's default 64Mi stalls NCCL and data loaders."""
    limit = size or f"{SHM_PER_PROCESS_GI * config.processes_per_node}Gi"
    volume = {"name": SHM_VOLUME, "emptyDir": {"medium": "Memory", "sizeLimit": limit}}
    return volume, {"name": SHM_VOLUME, "mountPath": SHM_PATH}


def pod_failure_policy(container: str) -> dict[str, Any]:
    """A failure the trainer calls permanent (bad model, bad data) fails the Job at once, without retries.

    A pod the cluster took away (preemption, eviction, a drained node: condition DisruptionTarget) is
    replaced without counting against backoffLimit: it checkpointed on SIGTERM and the next pod resumes.
    (In a group its peers then fail on the lost rank, and the group restarts as usual.)
    """
    return {"rules": [
        {"action": "FailJob",
         "onExitCodes": {"containerName": container, "operator": "In", "values": list(PERMANENT_EXIT_CODES)}},
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
    ]}


def job_shape(job_name: str, config: RunDistributed, backoff_limit: int) -> dict[str, Any]:
    """The Job spec fields that differ between one pod and a group of pods.

    A group's Job fails at its first failed pod (backoffLimit 0): the Job controller then ends the
    other pods (no group waiting for a lost peer) and the operator recreates the Job, counting the
    attempt against the Training's backoffLimit (handlers/gang.py).
    """
    if not gang(config):
        return {"completions": 1, "parallelism": 1, "backoffLimit": backoff_limit}
    return {"completionMode": "Indexed", "completions": config.nodes, "parallelism": config.nodes,
            "backoffLimit": 0}


def build_headless_service(owner: Owner, job_name: str) -> dict[str, Any]:
    """Stable DNS names for the group's pods, ready or not (they must find node 0 before any is ready)."""
    port = rendezvous_port(owner.uid)  # the port the pods' KUBETUNE_RDZV_ENDPOINT names
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": child_metadata(owner, job_name, {lbl.TRAINING: owner.name, lbl.COMPONENT: "trainer"}),
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,
            "selector": {lbl.TRAINING: owner.name, lbl.COMPONENT: "trainer"},
            "ports": [{"name": RENDEZVOUS_PORT_NAME, "port": port, "targetPort": port}],
        },
    }

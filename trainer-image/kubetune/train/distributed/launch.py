"""Start the processes of one node with torchrun's machinery (torch.distributed.elastic, c10d rendezvous).

``kubetune-train --config FILE`` calls ``launch`` when the run config asks for more than one process
and it is not itself one of torchrun's workers (no LOCAL_RANK): it then runs
``processesPerNode`` copies of ``python -m kubetune.train.cli <same arguments>`` through
``elastic_launch``, the function behind the ``torchrun`` command. Calling it (instead of exec'ing
``torchrun``) keeps the workers' exit codes: torchrun itself exits 1 for any failure, which would
erase the permanent/transient distinction the Job's podFailurePolicy needs.

Environment contract (the operator sets it on multi-node Jobs):

- ``KUBETUNE_RDZV_ENDPOINT``: ``host:port`` of node 0's rendezvous store (e.g. the Indexed Job's pod 0
  through its headless Service); required when ``nodes > 1``; port 29400 when none is given.
- ``JOB_COMPLETION_INDEX`` (Indexed Jobs set it) or ``NODE_RANK``: this node's index; node 0 hosts
  the rendezvous store.
- ``KUBETUNE_RDZV_ID`` (optional): the rendezvous id, default the Training's uid (or name).
- ``KUBETUNE_LOCAL_ADDR`` (optional): the address other nodes reach this one at (default its FQDN).
"""

from __future__ import annotations

import logging
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubetune.crd.exit_codes import EXIT_OK, EXIT_PERMANENT, EXIT_STOPPED, EXIT_TRANSIENT
from kubetune.crd.runconfig import TrainRunConfig

log = logging.getLogger("kubetune.train.launch")

RDZV_ENDPOINT_ENV = "KUBETUNE_RDZV_ENDPOINT"
RDZV_ID_ENV = "KUBETUNE_RDZV_ID"
LOCAL_ADDR_ENV = "KUBETUNE_LOCAL_ADDR"
NODE_RANK_ENVS = ("JOB_COMPLETION_INDEX", "NODE_RANK")
RDZV_PORT = 29400
WORKER_ENVS = ("LOCAL_RANK", "TORCHELASTIC_RUN_ID")


@dataclass(frozen=True)
class LaunchPlan:
    """What the elastic agent of this node is told."""

    nodes: int
    processes_per_node: int
    node_rank: int
    rdzv_endpoint: str
    run_id: str
    is_host: bool
    timeout_seconds: int


def is_worker(env: Mapping[str, str]) -> bool:
    """Already one of torchrun's processes (never launch again from inside)."""
    return any(name in env for name in WORKER_ENVS)


def needs_launch(config: TrainRunConfig, env: Mapping[str, str]) -> bool:
    return config.distributed.world_size > 1 and not is_worker(env)


def _node_rank(env: Mapping[str, str]) -> int:
    for name in NODE_RANK_ENVS:
        if env.get(name, "").strip():
            try:
                return int(env[name])
            except ValueError as exc:
                raise ValueError(f"{name}={env[name]!r} is not a node index") from exc
    return 0


def plan(config: TrainRunConfig, env: Mapping[str, str]) -> LaunchPlan:
    """The launch of this node, from the run config and the pod's environment (pure)."""
    dist = config.distributed
    node_rank = _node_rank(env)
    if not 0 <= node_rank < dist.nodes:
        raise ValueError(f"node index {node_rank} is outside 0..{dist.nodes - 1}")
    if dist.nodes == 1:  # torchrun --standalone: a private store on a free local port
        endpoint, run_id = "localhost:0", str(uuid.uuid4())
    else:
        endpoint = env.get(RDZV_ENDPOINT_ENV, "").strip()
        if not endpoint:
            raise ValueError(f"{dist.nodes} nodes need {RDZV_ENDPOINT_ENV} (host:port of node 0)")
        if ":" not in endpoint:
            endpoint = f"{endpoint}:{RDZV_PORT}"
        training = config.training
        run_id = env.get(RDZV_ID_ENV) or (training.uid or training.name if training else "") or "kubetune"
    return LaunchPlan(
        nodes=dist.nodes,
        processes_per_node=dist.processes_per_node,
        node_rank=node_rank,
        rdzv_endpoint=endpoint,
        run_id=run_id,
        is_host=node_rank == 0,
        timeout_seconds=dist.rendezvous_timeout_seconds,
    )


def launch_config(launch: LaunchPlan, env: Mapping[str, str]) -> Any:
    from torch.distributed.launcher.api import LaunchConfig

    rdzv: dict[str, Any] = {"join_timeout": launch.timeout_seconds}
    if launch.nodes > 1:
        rdzv["is_host"] = launch.is_host  # node 0 hosts the store: no guessing from hostnames
    return LaunchConfig(
        min_nodes=launch.nodes,
        max_nodes=launch.nodes,  # a fixed gang: the operator restarts the group, not torchrun
        nproc_per_node=launch.processes_per_node,
        run_id=launch.run_id,
        rdzv_backend="c10d",
        rdzv_endpoint=launch.rdzv_endpoint,
        rdzv_configs=rdzv,
        rdzv_timeout=launch.timeout_seconds,
        max_restarts=0,
        monitor_interval=0.5,
        # One node needs no address others can reach: its ranks meet on the loopback interface.
        local_addr=env.get(LOCAL_ADDR_ENV) or ("127.0.0.1" if launch.nodes == 1 else None),
    )


def exit_code_of(codes: Mapping[int, int]) -> int:
    """One exit code for the node from its processes' codes (signal deaths are negative)."""
    values = [c for c in codes.values() if c != EXIT_OK]
    if not values:
        return EXIT_OK
    if EXIT_PERMANENT in values:
        return EXIT_PERMANENT
    if all(c in (EXIT_STOPPED, -15) for c in values):
        return EXIT_STOPPED
    return EXIT_TRANSIENT


def launch(config: TrainRunConfig, argv: Sequence[str], env: Mapping[str, str]) -> int:
    """Run this node's processes to the end; returns the node's exit code."""
    from torch.distributed.elastic.multiprocessing import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.elastic.rendezvous import RendezvousError
    from torch.distributed.launcher.api import elastic_launch

    from kubetune.train.runner import write_termination_log

    launch = plan(config, env)
    log.info(
        "launching %d processes on node %d of %d (rendezvous %s, id %s)",
        launch.processes_per_node,
        launch.node_rank,
        launch.nodes,
        launch.rdzv_endpoint,
        launch.run_id,
    )
    try:
        elastic_launch(launch_config(launch, env), sys.executable)("-m", "kubetune.train.cli", *argv)
        return EXIT_OK
    except ChildFailedError as exc:
        codes = {rank: failure.exitcode for rank, failure in exc.failures.items()}
        log.error("processes failed with exit codes %s", codes)
        return exit_code_of(codes)
    except SignalException as exc:  # SIGTERM: the workers got it too, checkpointed and ended
        log.info("stopped by signal %s", exc.sigval)
        return EXIT_STOPPED
    except RendezvousError as exc:
        error = RuntimeError(
            f"rendezvous at {launch.rdzv_endpoint} failed: not all {launch.nodes} nodes joined within "
            f"{launch.timeout_seconds}s ({type(exc).__name__}: {exc})"
        )
        log.error("%s", error)
        write_termination_log(config.reporting.termination_log, error)
        return EXIT_TRANSIENT

"""kubetune-operator: the kopf operator for Trainers, Trainings, InferenceServices and Datasets.

    kubetune-operator                                  # in a cluster: in-cluster config, all namespaces
    kubetune-operator --kubeconfig ~/.kube/config -n team-a --no-leader-election

Settings come from KUBETUNE_OPERATOR_* environment variables (see settings.py);
the flags override the most common ones.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import threading
from typing import Any

import kopf
from prometheus_client import start_http_server

from kubetune.operator.admission import server as admission
from kubetune.operator.kube import Kube, make_api_client
from kubetune.operator.leader import LeaseElector
from kubetune.operator.memory import start_trimmer, tune_gc
from kubetune.operator.runtime import Runtime
from kubetune.operator.settings import Settings

log = logging.getLogger("kubetune.operator")


def configure_logging(settings: Settings) -> None:
    """Structured JSON logs (kopf's formatter, with the object each line is about)."""
    log_format = kopf.LogFormat.JSON if settings.log_format == "json" else kopf.LogFormat.PLAIN
    kopf.configure(log_format=log_format, log_refkey="object")
    logging.getLogger().setLevel(settings.log_level.upper())


def make_runtime(settings: Settings) -> Runtime:
    api = make_api_client(settings.kubeconfig, pool_size=settings.workers * 2)
    return Runtime(settings=settings, kube=Kube(api))


def operator_kwargs(rt: Runtime) -> dict[str, Any]:
    """Arguments for kopf.run / kopf.operator shared by the CLI and the in-process runner."""
    from kubetune.operator.handlers import REGISTRY

    settings = rt.settings
    kwargs: dict[str, Any] = {
        "registry": REGISTRY,
        "memo": kopf.Memo(runtime=rt),
        "standalone": True,
        "clusterwide": not settings.namespaces,
        "namespaces": settings.namespaces,
    }
    if settings.health_port:
        kwargs["liveness_endpoint"] = f"http://0.0.0.0:{settings.health_port}/healthz"
    return kwargs


async def serve(rt: Runtime, elector: LeaseElector | None) -> bool:
    """Run kopf until SIGTERM/SIGINT or, with an elector, until the Lease is lost (returns True then)."""
    # An asyncio.Event: kopf waits on a threading.Event or Future in an executor thread,
    # which would keep the interpreter from exiting after SIGTERM.
    lost = asyncio.Event()
    if elector is not None:
        loop = asyncio.get_running_loop()

        def on_lost() -> None:
            loop.call_soon_threadsafe(lost.set)

        elector.keep(threading.Event(), lost=on_lost)
    await kopf.operator(stop_flag=lost, **operator_kwargs(rt))
    return lost.is_set()


def run(settings: Settings) -> None:
    """Serve metrics, win the Lease (when enabled), then run kopf until stopped or the Lease is lost."""
    configure_logging(settings)
    rt = make_runtime(settings)
    if settings.metrics_port:
        start_http_server(settings.metrics_port, registry=rt.metrics.registry)
    if settings.webhook_port:  # before the Lease: a standby replica behind the Service answers too
        admission.start(settings, rt.kube, settings.webhook_address)
    if settings.memory_trim_seconds:
        start_trimmer(settings.memory_trim_seconds, threading.Event())
    tune_gc()  # after start-up's allocations, before the first watch event
    elector = None
    if settings.leader_election:
        identity = f"{socket.gethostname()}-{os.getpid()}"
        elector = LeaseElector(rt.kube, settings.pod_namespace, settings.lease_name, identity,
                               settings.lease_duration_seconds, settings.lease_renew_seconds)
        if not elector.wait_for_leadership(threading.Event()):
            return
    if asyncio.run(serve(rt, elector)):
        raise SystemExit(1)  # lost the Lease: exit, and restart as a candidate


def parse_args(argv: list[str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(prog="kubetune-operator", description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster)")
    parser.add_argument("-n", "--namespace", action="append", dest="namespaces", help="watch only these")
    parser.add_argument("--no-leader-election", action="store_true", help="run without the Lease")
    parser.add_argument("--log-format", choices=["json", "text"])
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {}
    if args.kubeconfig:
        overrides["kubeconfig"] = args.kubeconfig
    if args.namespaces:
        overrides["namespaces"] = args.namespaces
    if args.no_leader_election:
        overrides["leader_election"] = False
    if args.log_format:
        overrides["log_format"] = args.log_format
    return Settings(**overrides)


def main(argv: list[str] | None = None) -> None:
    run(parse_args(argv))


if __name__ == "__main__":
    main()

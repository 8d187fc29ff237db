"""The `kubetune` command: developer tools for the local platform.

    kubetune dev cluster      # start the local control plane, print the kubeconfig, wait for Ctrl-C
    kubetune dev up           # control plane + local node + operator + REST facade + default Trainers,
                              # until Ctrl-C
    kubetune dev demo         # the whole flow through REST: dataset -> LoRA training -> served model

User commands (the REST API as a CLI; docs/cli.md): login, projects, datasets, train, ls, show, watch,
logs, stop, resume, cancel, serve, services, chat, curve, completion.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from pathlib import Path
from types import FrameType


def _stop_on_sigterm() -> threading.Event:
    """Ctrl-C raises KeyboardInterrupt; make SIGTERM end the wait the same orderly way."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    return stop


def dev_cluster(args: argparse.Namespace) -> int:
    from kubernetes import client

    from kubetune.localdev.clients import client_configuration
    from kubetune.localdev.controlplane import ControlPlane
    from kubetune.localdev.crds import install_crds

    stop = _stop_on_sigterm()
    with ControlPlane.start(work_dir=args.work_dir) as cp:
        if not args.no_crds:
            with client.ApiClient(client_configuration(cp.kubeconfig)) as api:
                install_crds(api)
        print(f"kubeconfig: {cp.kubeconfig}", flush=True)
        print(f"server:     {cp.server}", flush=True)
        print(f"kubectl:    {cp.bin_dir / 'kubectl'} --kubeconfig {cp.kubeconfig} get nodes", flush=True)
        print("Ctrl-C stops the cluster.", flush=True)
        try:
            while not stop.wait(1.0):
                dead = [name for name, alive in cp.alive().items() if not alive]
                if dead:
                    print(f"component exited: {', '.join(dead)}; logs in {cp.log_dir}", file=sys.stderr)
                    return 1
        except KeyboardInterrupt:
            pass
        print("stopping", flush=True)
    return 0


def dev_up(args: argparse.Namespace) -> int:
    from kubetune.localdev.platform import LocalPlatform

    stop = _stop_on_sigterm()
    work_dir = args.work_dir.resolve()
    with LocalPlatform.start(work_dir, gpus=args.gpus, mlflow=args.mlflow) as platform:
        print(f"API:         {platform.api_url}", flush=True)
        print(f"admin token: {platform.admin_token()}", flush=True)
        print(f"login:       {platform.admin_username} / {platform.admin_password}", flush=True)
        print(f"kubeconfig:  {platform.control_plane.kubeconfig}", flush=True)
        print(f"artifacts:   {platform.artifacts}", flush=True)
        print(f"trainers:    {', '.join(platform.trainers)} (the chart's defaults; kubectl get trainers)", flush=True)
        if platform.mlflow_url:
            print(f"mlflow:      {platform.mlflow_url} (spec.tracking.mlflow.uri; pods reach it too)", flush=True)
        print("Ctrl-C stops the platform.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
        print("stopping", flush=True)
    return 0


def dev_demo(args: argparse.Namespace) -> int:
    from kubetune.localdev import demo

    return demo.main(args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kubetune", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="group", required=True)
    dev = sub.add_parser("dev", help="local development platform")
    dev_sub = dev.add_subparsers(dest="command", required=True)
    cluster = dev_sub.add_parser("cluster", help="run the local control plane until interrupted")
    cluster.add_argument("--work-dir", type=Path, default=None,
                         help="keep certificates, etcd data and logs here (default: a temp dir, removed)")
    cluster.add_argument("--no-crds", action="store_true", help="do not install kubetune's CRDs")
    cluster.set_defaults(func=dev_cluster)
    up = dev_sub.add_parser("up", help="run control plane, local node, operator and REST facade until interrupted")
    up.add_argument("--work-dir", type=Path, default=Path("out/platform"), help="artifacts, node state and logs")
    up.add_argument("--gpus", type=int, default=0, help="fake nvidia.com/gpu count of the local node")
    up.add_argument("--mlflow", action="store_true",
                    help="also run MLflow's tracking server (make mlflow installs it); its state in WORK_DIR/mlflow")
    up.set_defaults(func=dev_up)
    demo = dev_sub.add_parser("demo", help="run the dataset-to-served-model flow through the REST API")
    demo.add_argument("--out", type=Path, default=Path("out/demo"), help="where artifacts, logs and the PNG go")
    demo.set_defaults(func=dev_demo)
    from kubetune.usercli.main import add_commands

    add_commands(parser, sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from kubetune.usercli.main import run

    args = build_parser().parse_args(argv)
    if args.group == "dev":
        result: int = args.func(args)
        return result
    return run(args)


if __name__ == "__main__":
    sys.exit(main())

"""`python -m kubetune.cluster up [--state-dir DIR] [--image TAR ...] [--keda]`: start the real local
cluster, write DIR/cluster.json when it is ready, run until SIGTERM or SIGINT, then stop it all. With
--keda, KEDA's images go onto the node and its manifests to DIR/addons/keda.json (not applied).
`python -m kubetune.cluster load [--state-dir DIR] < image.tar`: import an image archive (`docker save`)
from stdin into the running node's containerd.
`python -m kubetune.cluster cleanup [--state-dir DIR]`: what down.sh runs after a killed supervisor."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType


def default_state_dir() -> Path:
    root = os.environ.get("KUBETUNE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "kubetune")
    return Path(root) / "run" / "cluster"


def up(args: argparse.Namespace) -> int:
    from kubetune.cluster.cluster import LocalCluster

    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    state: Path = args.state_dir
    state.mkdir(parents=True, exist_ok=True)
    ready = state / "cluster.json"
    ready.unlink(missing_ok=True)
    keda_dir = None
    if args.keda:
        from kubetune.localdev.keda import find_keda

        keda_dir = find_keda()
    with LocalCluster.start(state, images=[Path(p) for p in args.image], keda_dir=keda_dir) as cluster:
        ready.write_text(json.dumps(cluster.describe(), indent=2) + "\n")
        print(json.dumps(cluster.describe()), flush=True)
        while not stop.wait(1.0):
            dead = [name for name, alive in cluster.alive().items() if not alive]
            if dead:
                print(f"component exited: {', '.join(dead)}; logs under {state}", file=sys.stderr, flush=True)
                ready.unlink(missing_ok=True)
                return 1
        ready.unlink(missing_ok=True)
        print("stopping", flush=True)
    return 0


def cleanup(args: argparse.Namespace) -> int:
    """What a killed supervisor leaves on the host (its children die with it; shims, containers,
    namespaces and mounts do not). Idempotent: after an orderly stop there is nothing to do."""
    from kubetune.cluster.configs import NodePaths
    from kubetune.cluster.netns import NodeNetwork
    from kubetune.cluster.node import release_host_state

    release_host_state(NodeNetwork(1), NodePaths(args.state_dir / "node-1"))
    return 0


def load(args: argparse.Namespace) -> int:
    """Stream an image into the running node (hack/cluster/e2e.sh pipes `docker save` here)."""
    import subprocess

    from kubetune.cluster import images
    from kubetune.cluster.configs import NodePaths

    if not (args.state_dir / "cluster.json").exists():
        print(f"no running cluster under {args.state_dir} (hack/cluster/up.sh starts one)", file=sys.stderr)
        return 1
    try:
        images.import_archive(NodePaths(args.state_dir / "node-1").containerd_socket, None)
    except subprocess.CalledProcessError as e:
        print(f"ctr images import failed: {e.stderr.decode(errors='replace').strip()}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kubetune.cluster")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("up", help="start the cluster and run until SIGTERM")
    p.add_argument("--state-dir", type=Path, default=default_state_dir())
    p.add_argument("--image", action="append", default=[], help="an image archive to import into the node")
    p.add_argument("--keda", action="store_true", help="KEDA's images on the node, its manifests in addons/keda.json")
    ld = sub.add_parser("load", help="import an image archive read from stdin into the running node")
    ld.add_argument("--state-dir", type=Path, default=default_state_dir())
    c = sub.add_parser("cleanup", help="release what a killed cluster left on the host")
    c.add_argument("--state-dir", type=Path, default=default_state_dir())
    args = parser.parse_args(argv)
    return {"up": up, "load": load, "cleanup": cleanup}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())

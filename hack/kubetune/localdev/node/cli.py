"""`kubetune-node`: run the local node agent until SIGINT or SIGTERM.

    python -m kubetune.localdev.node --kubeconfig /tmp/kubetune-cluster/admin.kubeconfig \\
        --name local-node --gpus 2 --state-dir /tmp/kubetune-node
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

from kubetune.localdev.node.config import KubeletTLS, NodeConfig


def parse_args(argv: list[str] | None = None) -> NodeConfig:
    parser = argparse.ArgumentParser(prog="kubetune-node", description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--name", default="local-node")
    parser.add_argument("--gpus", type=int, default=0, help="fake nvidia.com/gpu count to advertise")
    parser.add_argument("--state-dir", type=Path, default=None)
    parser.add_argument("--data-root", type=Path, default=None, help="where PVC directories live")
    parser.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--pod-network", choices=["auto", "netns", "loopback"], default="auto")
    parser.add_argument("--pod-cidr", default="10.244.0.0/16")
    parser.add_argument(
        "--host-port",
        action="append",
        type=int,
        default=[],
        metavar="PORT",
        help="a host loopback port pods reach at 127.0.0.1:PORT (the API server's always is)",
    )
    parser.add_argument(
        "--allow-host-mount",
        action="append",
        default=[],
        metavar="PREFIX",
        help="also symlink mount paths under PREFIX on the host itself",
    )
    tls = parser.add_argument_group("kubelet API (container logs for `kubectl logs`; all three or none)")
    tls.add_argument("--tls-cert-file", type=Path, help="serving certificate, from the cluster's CA")
    tls.add_argument("--tls-private-key-file", type=Path)
    tls.add_argument("--client-ca-file", type=Path, help="CA of the API server's kubelet client certificate")
    tls.add_argument("--client-user", action="append", default=[], metavar="NAME",
                     help="a client certificate CN allowed to read logs (default kube-apiserver-kubelet-client)")
    args = parser.parse_args(argv)
    files = (args.tls_cert_file, args.tls_private_key_file, args.client_ca_file)
    if any(files) and not all(files):
        parser.error("--tls-cert-file, --tls-private-key-file and --client-ca-file go together")
    kubelet_tls = KubeletTLS(
        cert=args.tls_cert_file, key=args.tls_private_key_file, client_ca=args.client_ca_file,
        client_users=tuple(args.client_user) or ("kube-apiserver-kubelet-client",),
    ) if all(files) else None
    labels = dict(item.split("=", 1) for item in args.label)
    extra = {"state_dir": args.state_dir} if args.state_dir is not None else {}
    return NodeConfig(
        kubeconfig=args.kubeconfig,
        name=args.name,
        gpus=args.gpus,
        data_root=args.data_root,
        labels=labels,
        pod_network=args.pod_network,
        pod_cidr=args.pod_cidr,
        host_ports=tuple(args.host_port),
        mount_allowlist=tuple(args.allow_host_mount),
        kubelet_tls=kubelet_tls,
        **extra,
    )


def main(config: NodeConfig) -> int:
    from kubetune.localdev.node.agent import NodeAgent

    done = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: done.set())
    with NodeAgent(config) as agent:
        print(f"node {config.name} is up (pod network: {agent.network_description}); Ctrl-C stops it", flush=True)
        done.wait()
    return 0


def run(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return main(parse_args(argv))

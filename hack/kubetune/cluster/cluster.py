"""A real cluster on this machine: the local control plane, one worker node with kubelet and
containerd, kube-proxy, CoreDNS, metrics-server and hostPath volumes.

    with LocalCluster.start(state_dir) as cluster:
        print(cluster.kubeconfig)

`python -m kubetune.cluster up` runs this until SIGTERM (hack/cluster/up.sh starts it in the
background and down.sh stops it by pid).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubetune.cluster import addons, keda
from kubetune.cluster.configs import NodePaths
from kubetune.cluster.controlplane import ClusterControlPlane
from kubetune.cluster.netns import NodeNetwork
from kubetune.cluster.node import WorkerNode
from kubetune.localdev.controlplane import find_binaries

VOLUMES = 8


def node_binaries() -> Path:
    """kubelet, kube-proxy, pause, coredns and metrics-server: $KUBETUNE_CLUSTER_BIN, or
    hack/cluster/build.sh (cached)."""
    if os.environ.get("KUBETUNE_CLUSTER_BIN"):
        return Path(os.environ["KUBETUNE_CLUSTER_BIN"])
    script = Path(__file__).resolve().parents[2] / "cluster" / "build.sh"
    out = subprocess.run([str(script)], check=True, capture_output=True, text=True)
    return Path(out.stdout.strip().splitlines()[-1])


@dataclass
class LocalCluster:
    state_dir: Path
    cp: ClusterControlPlane
    node: WorkerNode
    keda_dir: Path | None = None

    @property
    def kubeconfig(self) -> Path:
        return self.cp.kubeconfig

    @property
    def keda_manifests(self) -> Path:
        return self.state_dir / "addons" / "keda.json"

    @property
    def kubectl(self) -> list[str]:
        return [str(self.cp.bin_dir / "kubectl"), "--kubeconfig", str(self.kubeconfig)]

    @classmethod
    @contextmanager
    def start(cls, state_dir: Path, images: list[Path] | None = None,
              keda_dir: Path | None = None) -> Iterator[LocalCluster]:
        """``keda_dir`` (hack/keda/build.sh's output): KEDA's images on the node, its manifests written."""
        node_bin = node_binaries()
        shutil.rmtree(state_dir / "controlplane", ignore_errors=True)
        with ClusterControlPlane.start(bin_dir=find_binaries(), work_dir=state_dir / "controlplane") as cp:
            assert isinstance(cp, ClusterControlPlane)
            node = WorkerNode(cp=cp, bin_dir=node_bin, net=NodeNetwork(1), paths=NodePaths(state_dir / "node-1"),
                              keda_dir=keda_dir)
            cluster = cls(state_dir=state_dir, cp=cp, node=node, keda_dir=keda_dir)
            try:
                node.start(images or [])
                cluster._install_addons()
                cluster._wait_ready()
                yield cluster
            finally:
                node.stop()

    def apply(self, objects: list[dict[str, Any]]) -> None:
        body = json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
        subprocess.run([*self.kubectl, "apply", "--server-side", "--force-conflicts",
                        "--field-manager=kubetune-cluster", "-f", "-"],
                       input=body, check=True, capture_output=True, text=True)

    def _install_addons(self) -> None:
        volumes = []
        for i in range(1, VOLUMES + 1):
            directory = self.state_dir / "volumes" / f"pv{i}"
            directory.mkdir(parents=True, exist_ok=True)
            directory.chmod(0o777)  # pods run as any non-root user
            volumes.append(directory)
        self.apply(addons.kubernetes_endpoints(self.node.net.node_address))
        self.apply(addons.storage(volumes, self.node.name))
        self.apply(addons.coredns(self.node.image_refs["coredns"]))
        assert self.cp.pki is not None
        cert, key = self.cp.pki.issue_serving("metrics-server", ("metrics-server.kube-system.svc",))
        self.apply(addons.metrics_server(self.node.image_refs["metrics-server"], self.cp.ca_file, cert, key))
        if self.keda_dir is not None:
            cert, key = self.cp.pki.issue_serving("keda", keda.certificate_hosts(), client=True)
            objects = keda.keda_manifests(self.keda_dir, self.node.image_refs["keda-operator"],
                                          self.node.image_refs["keda-adapter"], self.cp.ca_file, cert, key)
            self.keda_manifests.parent.mkdir(parents=True, exist_ok=True)
            self.keda_manifests.unlink(missing_ok=True)
            self.keda_manifests.touch(mode=0o600)  # it holds KEDA's private key: for root's eyes only
            self.keda_manifests.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))

    def _wait_ready(self) -> None:
        def wait(*args: str) -> None:
            subprocess.run([*self.kubectl, "wait", *args], check=True, capture_output=True, text=True)

        wait("--for=create", f"node/{self.node.name}", "--timeout=120s")
        wait("--for=condition=Ready", f"node/{self.node.name}", "--timeout=120s")
        wait("--for=condition=Available", "deployment/coredns", "-n", addons.DNS_NAMESPACE, "--timeout=180s")
        # Available once the API server reaches the pod and metrics-server has scraped the node once.
        wait("--for=condition=Available", f"apiservice/{addons.METRICS_APISERVICE}", "--timeout=180s")

    def alive(self) -> dict[str, bool]:
        return {**self.cp.alive(), **self.node.alive()}

    def describe(self) -> dict[str, str]:
        return {"server": self.cp.server, "kubeconfig": str(self.kubeconfig), "node": self.node.name,
                "nodeAddress": self.node.net.node_address, "kubectl": str(self.cp.bin_dir / "kubectl"),
                "logs": str(self.state_dir), "keda": str(self.keda_manifests) if self.keda_dir else ""}

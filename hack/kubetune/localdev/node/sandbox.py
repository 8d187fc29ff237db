"""A pod's sandbox: its address, its volumes, each container's root and environment.

This is the I/O side of the volume and env planning: it reads the ConfigMaps,
Secrets and tokens the pod needs and writes the per-pod directories.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubetune.localdev.node import envvars, mounts, volumes
from kubetune.localdev.node.config import NodeConfig
from kubetune.localdev.node.envvars import EnvError, PodFacts, Sources
from kubetune.localdev.node.hosts import HostsTable, wants_hosts
from kubetune.localdev.node.kube import Kube

log = logging.getLogger(__name__)

TOKEN_REFRESH_FRACTION = 0.8  # re-mint at 80% of the token's life, as the kubelet does
# How often ConfigMap and Secret volumes are brought in step with their objects. A kubelet takes up to
# its sync period plus its cache's TTL (about a minute); a few seconds here keep tests short, for a GET
# per referenced object per pod.
OBJECT_SYNC_SECONDS = 3.0


@dataclass
class NodeContext:
    """What every pod worker shares with the agent."""

    config: NodeConfig
    kube: Kube
    host_ip: str
    api_host: str
    api_port: int
    isolate_pids: bool = False
    netns_fd: int | None = None  # the pod network namespace ("netns" mode), for setns()
    hosts: HostsTable | None = None  # pods' DNS names ("netns" mode with PID namespaces; hosts.py)


def all_containers(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    spec = pod.get("spec", {})
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]


def host_path_env(inherited: tuple[str, ...]) -> dict[str, str]:
    """The agent's own variables a pod inherits; the interpreter's bin directory leads PATH."""
    env = {name: os.environ[name] for name in inherited if name in os.environ}
    interpreter_bin = str(Path(sys.executable).parent)
    search = env.get("PATH", os.defpath).split(os.pathsep)
    if interpreter_bin not in search:
        env["PATH"] = os.pathsep.join([interpreter_bin, *search])
    return env


@dataclass
class Sandbox:
    ctx: NodeContext
    pod: dict[str, Any]
    pod_ip: str
    directory: Path
    volume_dirs: dict[str, Path] = field(default_factory=dict)
    filesystems: dict[str, mounts.ContainerFs] = field(default_factory=dict)
    host_links: list[Path] = field(default_factory=list)
    token_refresh_at: float | None = None
    objects_sync_at: float = 0.0

    @property
    def namespace(self) -> str:
        return str(self.pod["metadata"]["namespace"])

    @property
    def server_url(self) -> str:
        host = f"[{self.ctx.api_host}]" if ":" in self.ctx.api_host else self.ctx.api_host
        return f"https://{host}:{self.ctx.api_port}"

    @property
    def netns_fd(self) -> int | None:
        """The namespace the pod's processes run in; None: the host's (hostNetwork, or no netns mode)."""
        return None if self.pod["spec"].get("hostNetwork") else self.ctx.netns_fd

    @property
    def hosts_file(self) -> Path | None:
        """The node's hosts file, bind-mounted over /etc/hosts for a pod with a subdomain (hosts.py)."""
        hosts = self.ctx.hosts
        return hosts.path if hosts is not None and wants_hosts(self.pod) else None

    @property
    def facts(self) -> PodFacts:
        return PodFacts(pod_ip=self.pod_ip, host_ip=self.ctx.host_ip, node_name=self.ctx.config.name)

    def sources(self) -> Sources:
        config_map_names, secret_names = envvars.referenced_objects(self.pod)
        kube = self.ctx.kube
        config_maps = {name: kube.get_config_map(self.namespace, name) for name in config_map_names}
        secrets = {name: kube.get_secret(self.namespace, name) for name in secret_names}
        return Sources(
            config_maps={name: data for name, data in config_maps.items() if data is not None},
            secrets={name: data for name, data in secrets.items() if data is not None},
        )

    def mint(self, audience: str | None, seconds: int) -> str:
        account = self.pod["spec"].get("serviceAccountName") or "default"
        return self.ctx.kube.mint_token(self.namespace, account, self.pod, audience, seconds)

    def prepare(self) -> None:
        """Write every volume and each container's root; raises VolumeError/EnvError to retry later."""
        sources = self.sources()
        config = self.ctx.config
        for volume in self.pod["spec"].get("volumes") or []:
            directory = volumes.volume_dir(volume, self.directory / "volumes", config.volumes_root, self.namespace)
            if "persistentVolumeClaim" in volume:
                bound = self.ctx.kube.claim_host_path(self.namespace, volume["persistentVolumeClaim"]["claimName"])
                directory = Path(bound) if bound else directory
            volumes.materialize(volume, directory, self.pod, self.facts, sources, self.mint)
            self.volume_dirs[volume["name"]] = directory
        self._schedule_token_refresh()
        self.objects_sync_at = time.monotonic() + OBJECT_SYNC_SECONDS
        for container in all_containers(self.pod):
            container_dir = self.directory / "containers" / container["name"]
            container_dir.mkdir(parents=True, exist_ok=True)
            termination = container_dir / "termination-log"
            termination.touch()
            mounts.prepare_sub_paths(container, self.volume_dirs)
            table = mounts.mount_table(container, self.volume_dirs, termination)
            self.filesystems[container["name"]] = mounts.build_root(container_dir, table, termination)
            kubeconfig = mounts.service_account_kubeconfig(self.server_url, table)
            if kubeconfig is not None:
                (container_dir / "kubeconfig").write_text(json.dumps(kubeconfig, indent=1))
            if config.mount_allowlist:
                self.host_links += mounts.link_allowed(table, config.mount_allowlist)

    def _schedule_token_refresh(self) -> None:
        lifetimes = [
            volumes.token_lifetime(v) for v in self.pod["spec"].get("volumes") or [] if volumes.is_refreshed(v)
        ]
        if lifetimes:
            self.token_refresh_at = time.monotonic() + TOKEN_REFRESH_FRACTION * min(lifetimes)

    def refresh_tokens(self) -> None:
        """Re-mint projected service-account tokens that are near their expiry."""
        if self.token_refresh_at is None or time.monotonic() < self.token_refresh_at:
            return
        sources = self.sources()
        for volume in self.pod["spec"].get("volumes") or []:
            if volumes.is_refreshed(volume):
                volumes.materialize(volume, self.volume_dirs[volume["name"]], self.pod, self.facts, sources, self.mint)
        self._schedule_token_refresh()

    def sync_objects(self) -> list[str]:
        """Bring ConfigMap and Secret volumes in step with their objects; the names of those that changed.

        A deleted object leaves its files as they were (a kubelet keeps the last content too).
        """
        if time.monotonic() < self.objects_sync_at:
            return []
        self.objects_sync_at = time.monotonic() + OBJECT_SYNC_SECONDS
        synced = [v for v in self.pod["spec"].get("volumes") or [] if volumes.is_synced(v)]
        if not synced:
            return []
        sources = self.sources()
        changed = []
        for volume in synced:
            try:
                files = volumes.volume_files(volume, self.pod, self.facts, sources, self.mint)
            except EnvError:
                continue
            if volumes.sync_files(self.volume_dirs[volume["name"]], files, volumes.holds_secrets(volume)):
                changed.append(str(volume["name"]))
        return changed

    def container_env(self, container: Mapping[str, Any]) -> dict[str, str]:
        env = host_path_env(self.ctx.config.inherited_env)
        env.update(
            {
                "HOSTNAME": self.pod["metadata"]["name"],
                "KUBERNETES_SERVICE_HOST": self.ctx.api_host,
                "KUBERNETES_SERVICE_PORT": str(self.ctx.api_port),
                "KUBERNETES_SERVICE_PORT_HTTPS": str(self.ctx.api_port),
                "POD_IP": self.pod_ip,
                "KUBETUNE_NODE_NAME": self.ctx.config.name,
            }
        )
        fs = self.filesystems[container["name"]]
        env.update(fs.env())
        kubeconfig = self.directory / "containers" / container["name"] / "kubeconfig"
        if kubeconfig.exists():
            env["KUBECONFIG"] = str(kubeconfig)
        spec_env = envvars.container_env(container, self.pod, self.facts, self.sources())
        env.update({name: mounts.rewrite_value(value, fs.table, fs.root) for name, value in spec_env.items()})
        return env

    def command(self, container: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
        """command + args, expanded, with mount paths among them rewritten to host paths."""
        table = self.filesystems[container["name"]].table
        return [mounts.rewrite_value(part, table) for part in envvars.resolve_command(container, env)]

    def cwd(self, container: Mapping[str, Any]) -> Path:
        return mounts.working_dir(container, self.filesystems[container["name"]])

    def log_path(self, container_name: str, restart_count: int) -> Path:
        meta = self.pod["metadata"]
        pod_logs = f"{meta['namespace']}_{meta['name']}_{meta['uid']}"
        return self.ctx.config.logs_dir / pod_logs / container_name / f"{restart_count}.log"

    def remove_host_links(self) -> None:
        for link in self.host_links:
            if link.is_symlink():
                link.unlink()
        self.host_links.clear()

    def remove(self) -> None:
        """Delete the pod's own directories (PVC and hostPath data stays)."""
        self.remove_host_links()
        shutil.rmtree(self.directory, ignore_errors=True)

"""A container's view of its mounts: the path table, its root directory and env.

See `paths` for the reading side. `mount_table` is pure; `build_root` writes
the symlinks and the table file.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from kubetune.localdev.node import paths

log = logging.getLogger(__name__)

DEFAULT_TERMINATION_MESSAGE_PATH = "/dev/termination-log"


@dataclass(frozen=True)
class ContainerFs:
    root: Path
    table: dict[str, str]  # container path -> host path
    termination_file: Path
    map_file: Path

    def env(self) -> dict[str, str]:
        env = {
            paths.POD_ROOT_ENV: str(self.root),
            paths.PATH_MAP_ENV: str(self.map_file),
            paths.TERMINATION_MESSAGE_ENV: str(self.termination_file),
        }
        env.update({paths.mount_env_name(path): host for path, host in self.table.items()})
        return env


def mount_table(
    container: Mapping[str, Any], volume_dirs: Mapping[str, Path], termination_file: Path
) -> dict[str, str]:
    """mountPath (and terminationMessagePath) -> host path; subPath selects inside the volume."""
    table: dict[str, str] = {}
    for mount in container.get("volumeMounts") or []:
        source = volume_dirs.get(mount["name"])
        if source is None:
            raise ValueError(f"volumeMount {mount['name']!r} names no volume of the pod")
        sub_path = mount.get("subPath") or ""
        if PurePosixPath(sub_path).is_absolute() or ".." in PurePosixPath(sub_path).parts:
            raise ValueError(f"subPath {sub_path!r} must be relative and stay inside the volume")
        table[mount["mountPath"].rstrip("/") or "/"] = str(source / sub_path) if sub_path else str(source)
    message_path = container.get("terminationMessagePath") or DEFAULT_TERMINATION_MESSAGE_PATH
    table[message_path] = str(termination_file)
    return table


def prepare_sub_paths(container: Mapping[str, Any], volume_dirs: Mapping[str, Path]) -> None:
    """Create each mount's subPath directory inside its volume, as the kubelet does, and refuse one that a
    symlink inside the volume leads out of it (the kubelet's subPath escape check): a pod given its
    project's prefix of a shared volume must not reach the rest of it through a link."""
    for mount in container.get("volumeMounts") or []:
        sub_path = mount.get("subPath") or ""
        source = volume_dirs.get(mount["name"])
        if not sub_path or source is None:
            continue
        target = source / sub_path
        real_source = source.resolve()
        real = target.resolve()
        if real != real_source and real_source not in real.parents:
            raise ValueError(f"subPath {sub_path!r} leads out of volume {mount['name']!r} through a symlink")
        target.mkdir(parents=True, exist_ok=True)


def build_root(container_dir: Path, table: Mapping[str, str], termination_file: Path) -> ContainerFs:
    """<container_dir>/root/<mountPath> -> host path symlinks, plus paths.json."""
    root = container_dir / "root"
    root.mkdir(parents=True, exist_ok=True)
    for container_path, host_path in table.items():
        link = root / container_path.lstrip("/")
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.is_file():
            link.unlink()
        if not link.exists():
            link.symlink_to(host_path)
    map_file = container_dir / "paths.json"
    map_file.write_text(json.dumps(dict(table), indent=1, sort_keys=True))
    return ContainerFs(root=root, table=dict(table), termination_file=termination_file, map_file=map_file)


def service_account_kubeconfig(server: str, table: Mapping[str, str]) -> dict[str, Any] | None:
    """A kubeconfig that authenticates with the container's mounted service-account token.

    Exported as KUBECONFIG, it lets clients that fall back from in-cluster
    config to a kubeconfig (the common pattern) work unmodified; the token file
    is the projected one, which the agent re-mints before it expires.
    """
    directory = table.get(paths.SERVICE_ACCOUNT_DIR)
    if directory is None:
        return None
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "in-cluster", "cluster": {"server": server, "certificate-authority": f"{directory}/ca.crt"}}
        ],
        "users": [{"name": "service-account", "user": {"tokenFile": f"{directory}/token"}}],
        "contexts": [{"name": "in-cluster", "context": {"cluster": "in-cluster", "user": "service-account"}}],
        "current-context": "in-cluster",
    }


def rewrite_value(text: str, table: Mapping[str, str], root: Path | None = None) -> str:
    """A path under a mount, alone or as `--flag=PATH`, rewritten to its host path; anything else unchanged.

    Lets unmodified programs find their mounts when the pod passes the paths
    as arguments or env values (`--config /etc/kubetune/run.json`). Paths
    inside longer strings (a shell script) are left alone. With the container's
    `root`, a directory that only holds mounts (`/mnt/pvc` above `/mnt/pvc/<claim>`)
    maps to its copy under the root, where each mount is a symlink.
    """
    if text.startswith("/"):
        return _host_path(text, table, root)
    flag, equals, value = text.partition("=")
    if equals and flag.startswith("-") and value.startswith("/"):
        return f"{flag}={_host_path(value, table, root)}"
    return text


def _host_path(path: str, table: Mapping[str, str], root: Path | None) -> str:
    mapped = paths.rewrite(path, table)
    if mapped != path or root is None:
        return mapped
    parent = PurePosixPath(path)
    # Not "/" itself: a HOME=/ or a cwd of / means the host's, not the container root.
    if parent != PurePosixPath("/") and any(parent in PurePosixPath(mount).parents for mount in table):
        return str(root / path.lstrip("/"))
    return path


def working_dir(container: Mapping[str, Any], fs: ContainerFs) -> Path:
    """workingDir through the mount table; an unmapped one that the host lacks is made under the root."""
    requested: str | None = container.get("workingDir")
    if not requested:
        return fs.root
    mapped = paths.rewrite(requested, fs.table)
    if mapped != requested:
        return Path(mapped)
    if Path(requested).is_dir():
        return Path(requested)
    inside = fs.root / requested.lstrip("/")
    inside.mkdir(parents=True, exist_ok=True)
    return inside


def link_allowed(table: Mapping[str, str], allowlist: tuple[str, ...]) -> list[Path]:
    """Symlink allowed mount paths on the host itself; returns the links made (to remove later)."""
    made: list[Path] = []
    for container_path, host_path in table.items():
        if not any(PurePosixPath(container_path).is_relative_to(prefix) for prefix in allowlist if prefix):
            continue
        link = Path(container_path)
        if link.is_symlink():
            link.unlink()  # a link left by an earlier pod
        elif link.exists():
            log.warning("not linking %s: a real path is there", link)
            continue
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(host_path)
        made.append(link)
    return made

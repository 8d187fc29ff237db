"""How a program running in a local-node pod finds its mounts.

Pods run as host processes, so a volumeMount cannot be bind-mounted at its
mountPath. Instead the agent gives every container a root directory (env
KUBETUNE_POD_ROOT) in which each mountPath is a symlink to the volume's host
directory, and a JSON table (env KUBETUNE_PATH_MAP) from container paths to
host paths. `resolve()` rewrites a container path through that table; outside a
local-node pod (a real kubelet, or no pod at all) it returns the path unchanged,
so code can call it unconditionally:

    config = json.loads(Path(resolve("/etc/kubetune/run.json")).read_text())

This module must stay importable without the kubernetes client.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import PurePosixPath

POD_ROOT_ENV = "KUBETUNE_POD_ROOT"
PATH_MAP_ENV = "KUBETUNE_PATH_MAP"
MOUNT_ENV_PREFIX = "KUBETUNE_MOUNT_"
TERMINATION_MESSAGE_ENV = "KUBETUNE_TERMINATION_MESSAGE_PATH"

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def mount_env_name(mount_path: str) -> str:
    """KUBETUNE_MOUNT_<path in upper case, every other character an underscore>."""
    cleaned = "".join(c if c.isalnum() else "_" for c in mount_path.upper()).strip("_")
    return MOUNT_ENV_PREFIX + (cleaned or "ROOT")


def rewrite(path: str, table: Mapping[str, str]) -> str:
    """Map `path` through the longest matching prefix of `table` (whole components only)."""
    pure = PurePosixPath(path)
    best: tuple[int, str, str] | None = None
    for container_path, host_path in table.items():
        prefix = PurePosixPath(container_path)
        if (pure == prefix or prefix in pure.parents) and (best is None or len(prefix.parts) > best[0]):
            best = (len(prefix.parts), container_path, host_path)
    if best is None:
        return path
    rest = pure.relative_to(best[1])
    return str(PurePosixPath(best[2]) / rest) if rest.parts else best[2]


@lru_cache(maxsize=4)
def _load_table(map_file: str) -> dict[str, str]:
    with open(map_file, encoding="utf-8") as handle:
        table: dict[str, str] = json.load(handle)
    return table


def resolve(path: str) -> str:
    """The host path behind a container path, or `path` itself when nothing maps it."""
    map_file = os.environ.get(PATH_MAP_ENV)
    if not map_file or not path.startswith("/"):
        return path
    return rewrite(path, _load_table(map_file))


def in_local_pod() -> bool:
    return PATH_MAP_ENV in os.environ


def load_incluster_config() -> None:
    """kubernetes.config.load_incluster_config(), reading the token and CA through resolve().

    Works unchanged on a real kubelet, where resolve() is the identity.
    """
    from kubernetes.config.incluster_config import InClusterConfigLoader

    InClusterConfigLoader(
        token_filename=resolve(f"{SERVICE_ACCOUNT_DIR}/token"),
        cert_filename=resolve(f"{SERVICE_ACCOUNT_DIR}/ca.crt"),
    ).load_and_set()

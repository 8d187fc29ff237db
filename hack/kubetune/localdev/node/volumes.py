"""Pod volumes as local directories.

Planning is pure: `volume_dir` says where a volume lives on the host and
`volume_files` what files it holds. `materialize` writes them. The API reads
(ConfigMaps, Secrets, service-account tokens) are done by the caller and passed
in, so the planning can be tested without a cluster.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubetune.localdev.node.envvars import EnvError, PodFacts, Sources, field_value

Volume = Mapping[str, Any]
Pod = Mapping[str, Any]

# A TokenRequest for the pod: (audience or None, expirationSeconds) -> token.
TokenMinter = Callable[[str | None, int], str]

SECRET_FILE_MODE = 0o600
CONFIG_FILE_MODE = 0o644
DEFAULT_TOKEN_SECONDS = 3607


@dataclass(frozen=True)
class VolumeFile:
    path: str  # relative to the volume's directory
    content: bytes
    mode: int


class VolumeError(EnvError):
    """A volume's source is missing (the kubelet's FailedMount)."""


def volume_dir(volume: Volume, pod_volumes: Path, data_root: Path, namespace: str) -> Path:
    """Where the volume's files live on the host."""
    if "hostPath" in volume:
        return Path(str(volume["hostPath"]["path"]))
    if "persistentVolumeClaim" in volume:
        return data_root / namespace / str(volume["persistentVolumeClaim"]["claimName"])
    return pod_volumes / str(volume["name"])


def is_refreshed(volume: Volume) -> bool:
    """Whether the volume holds a service-account token that must be re-minted before it expires."""
    sources = (volume.get("projected") or {}).get("sources") or []
    return any("serviceAccountToken" in source for source in sources)


def is_synced(volume: Volume) -> bool:
    """ConfigMap, Secret and projected volumes whose files follow their objects while the pod runs.

    As a kubelet does (within its sync period): a server may re-read such a file, e.g. the adapters
    ConfigMap of an InferenceService. Volumes with a token are left to the token refresh (re-writing them
    would mint a token every time).
    """
    return any(kind in volume for kind in ("configMap", "secret", "projected")) and not is_refreshed(volume)


def token_lifetime(volume: Volume) -> int:
    sources = (volume.get("projected") or {}).get("sources") or []
    lifetimes = [
        int(source["serviceAccountToken"].get("expirationSeconds", DEFAULT_TOKEN_SECONDS))
        for source in sources
        if "serviceAccountToken" in source
    ]
    return min(lifetimes, default=DEFAULT_TOKEN_SECONDS)


def key_files(data: Mapping[str, str], items: Sequence[Mapping[str, Any]] | None, mode: int) -> list[VolumeFile]:
    """All keys as files, or only `items` (key -> path), as ConfigMap and Secret volumes do."""
    if not items:
        return [VolumeFile(key, value.encode(), mode) for key, value in sorted(data.items())]
    return [VolumeFile(item["path"], data[item["key"]].encode(), mode) for item in items if item["key"] in data]


def _object_files(
    ref: Mapping[str, Any],
    name_key: str,
    objects: Mapping[str, Mapping[str, str]],
    kind: str,
    mode: int,
) -> list[VolumeFile]:
    data = objects.get(ref.get(name_key, ""))
    if data is None:
        if ref.get("optional"):
            return []
        raise VolumeError(f"{kind} {ref.get(name_key)!r} not found")
    items = ref.get("items")
    missing = [item["key"] for item in items or [] if item["key"] not in data]
    if missing and not ref.get("optional"):
        raise VolumeError(f"keys {missing} not found in {kind} {ref.get(name_key)!r}")
    return key_files(data, items, mode)


def _format_map(values: Mapping[str, str]) -> str:
    return "".join(f'{key}="{value}"\n' for key, value in sorted(values.items()))


def downward_files(items: Sequence[Mapping[str, Any]], pod: Pod, facts: PodFacts) -> list[VolumeFile]:
    files = []
    metadata = pod.get("metadata", {})
    for item in items:
        field_path = (item.get("fieldRef") or {}).get("fieldPath")
        if field_path in ("metadata.labels", "metadata.annotations"):
            text = _format_map(metadata.get(field_path.split(".")[1], {}) or {})
        elif field_path:
            text = field_value(pod, field_path, facts)
        else:
            raise VolumeError(f"unsupported downwardAPI item {item.get('path')!r}")
        files.append(VolumeFile(item["path"], text.encode(), CONFIG_FILE_MODE))
    return files


def volume_files(volume: Volume, pod: Pod, facts: PodFacts, sources: Sources, mint: TokenMinter) -> list[VolumeFile]:
    """The files of a ConfigMap, Secret, downwardAPI or projected volume (none for the others)."""
    if "configMap" in volume:
        return _object_files(volume["configMap"], "name", sources.config_maps, "configmap", CONFIG_FILE_MODE)
    if "secret" in volume:
        return _object_files(volume["secret"], "secretName", sources.secrets, "secret", SECRET_FILE_MODE)
    if "downwardAPI" in volume:
        return downward_files(volume["downwardAPI"].get("items") or [], pod, facts)
    if "projected" not in volume:
        return []
    files: list[VolumeFile] = []
    for source in volume["projected"].get("sources") or []:
        if "serviceAccountToken" in source:
            token = source["serviceAccountToken"]
            minted = mint(token.get("audience"), int(token.get("expirationSeconds", DEFAULT_TOKEN_SECONDS)))
            files.append(VolumeFile(token["path"], minted.encode(), SECRET_FILE_MODE))
        elif "configMap" in source:
            files += _object_files(source["configMap"], "name", sources.config_maps, "configmap", CONFIG_FILE_MODE)
        elif "secret" in source:
            files += _object_files(source["secret"], "name", sources.secrets, "secret", SECRET_FILE_MODE)
        elif "downwardAPI" in source:
            files += downward_files(source["downwardAPI"].get("items") or [], pod, facts)
    return files


def write_files(directory: Path, files: Sequence[VolumeFile], private: bool) -> None:
    """Write each file atomically (a reader never sees half a token); 0700 directory for secrets."""
    directory.mkdir(parents=True, exist_ok=True)
    if private:
        directory.chmod(0o700)
    for item in files:
        target = directory / item.path
        if not target.resolve().is_relative_to(directory.resolve()):
            raise VolumeError(f"volume item path {item.path!r} escapes its volume")
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            os.write(handle, item.content)
            os.fchmod(handle, item.mode)
        finally:
            os.close(handle)
        os.replace(temporary, target)


def sync_files(directory: Path, files: Sequence[VolumeFile], private: bool) -> bool:
    """Make ``directory`` hold exactly ``files``: changed ones rewritten atomically, removed keys deleted.

    True when anything changed. Files that are already right are not touched, so a reader that watches
    modification times sees only real changes.
    """
    wanted = {item.path: item for item in files}
    stale = []
    for item in files:
        target = directory / item.path
        try:
            same = target.read_bytes() == item.content and (target.stat().st_mode & 0o777) == item.mode
        except OSError:
            same = False
        if not same:
            stale.append(item)
    gone = [path for path in directory.rglob("*") if path.is_file() and not path.name.startswith(".tmp-")
            and str(path.relative_to(directory)) not in wanted]
    if stale:
        write_files(directory, stale, private)
    for path in gone:
        path.unlink(missing_ok=True)
    return bool(stale or gone)


def holds_secrets(volume: Volume) -> bool:
    return "secret" in volume or "projected" in volume


def materialize(
    volume: Volume,
    directory: Path,
    pod: Pod,
    facts: PodFacts,
    sources: Sources,
    mint: TokenMinter,
) -> None:
    """Create the volume's directory and its files."""
    if "hostPath" in volume:
        kind = volume["hostPath"].get("type", "")
        if kind in ("DirectoryOrCreate", "") and not directory.exists():
            directory.mkdir(parents=True, exist_ok=True)
        elif kind == "Directory" and not directory.is_dir():
            raise VolumeError(f"hostPath {directory} is not a directory")
        return
    files = volume_files(volume, pod, facts, sources, mint)
    write_files(directory, files, private=holds_secrets(volume))

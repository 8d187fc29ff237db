"""Uris to local paths: file://, plain paths, pvc://, s3:// (fsspec) and hf:// (huggingface_hub).

Reading resolves to a local copy; writing (``output``) must be a local or
mounted path (file://, pvc://, plain) or s3://, which is written locally under a
staging directory and uploaded with ``upload_dir``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

DEFAULT_PVC_ROOT = "/mnt/pvc"
DEFAULT_CACHE = "~/.cache/kubetune"


def pvc_root() -> Path:
    """Where pvc://NAME volumes are mounted (env KUBETUNE_PVC_ROOT)."""
    return Path(os.environ.get("KUBETUNE_PVC_ROOT", DEFAULT_PVC_ROOT))


# The inference server passes its own settings for these two roots; the trainer uses the env defaults.


def scheme(uri: str) -> str:
    """``file``, ``pvc``, ``s3``, ``hf``, or ``""`` for a plain path."""
    head, sep, _ = uri.partition("://")
    return head if sep else ""


def local_path(uri: str, pvc_mounts: Path | None = None) -> Path | None:
    """The filesystem path of a local uri (file://, pvc://, plain), else None."""
    kind = scheme(uri)
    if kind == "":
        return Path(uri).expanduser()
    if kind == "file":
        return Path(uri.removeprefix("file://"))
    if kind == "pvc":
        rest = uri.removeprefix("pvc://")
        name, _, sub = rest.partition("/")
        if not name or ".." in Path(sub).parts:
            raise ValueError(f"bad pvc uri {uri!r}: want pvc://NAME/path")
        return (pvc_mounts or pvc_root()) / name / sub
    return None


def cache_dir() -> Path:
    """Where remote inputs are copied to (env KUBETUNE_CACHE)."""
    return Path(os.environ.get("KUBETUNE_CACHE", DEFAULT_CACHE)).expanduser()


def _hf(uri: str) -> Path:
    from huggingface_hub import snapshot_download

    repo, _, revision = uri.removeprefix("hf://").partition("@")
    offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in {"1", "true", "yes"}
    return Path(snapshot_download(repo_id=repo, revision=revision or None, local_files_only=offline))


def _s3(uri: str, cache: Path | None = None) -> Path:
    import fsspec

    target = (cache or cache_dir()) / "s3" / hashlib.sha256(uri.encode()).hexdigest()[:16]
    fs, path = fsspec.core.url_to_fs(uri)
    name = Path(path).name
    if fs.isdir(path):
        fs.get(path.rstrip("/") + "/", str(target / name), recursive=True)
    else:
        target.mkdir(parents=True, exist_ok=True)
        fs.get(path, str(target / name))
    return target / name


def resolve(uri: str, pvc_mounts: Path | None = None, cache: Path | None = None) -> Path:
    """A local path holding what ``uri`` names; raises FileNotFoundError when it is not there."""
    path = local_path(uri, pvc_mounts)
    if path is None:
        kind = scheme(uri)
        if kind == "hf":
            path = _hf(uri)
        elif kind == "s3":
            path = _s3(uri, cache)
        else:
            raise ValueError(f"unsupported uri scheme in {uri!r}; use file://, pvc://, s3:// or hf://")
    if not path.exists():
        raise FileNotFoundError(f"{uri} not found (looked at {path})")
    return path


def output_dir(uri: str) -> Path:
    """The local directory the run writes into: the path itself, or a staging copy for s3://."""
    path = local_path(uri)
    if path is not None:
        return path
    if scheme(uri) == "s3":
        return cache_dir() / "out" / hashlib.sha256(uri.encode()).hexdigest()[:16]
    raise ValueError(f"output must be file://, pvc://, s3:// or a path, got {uri!r}")


def child_uri(uri: str, *parts: str) -> str:
    """``uri`` joined with sub-paths, keeping its scheme (for status fields)."""
    return "/".join([uri.rstrip("/"), *parts])


def upload_dir(local: Path, uri: str) -> None:
    """Copy a staged output directory to s3:// (no-op for local outputs)."""
    if scheme(uri) != "s3":
        return
    import fsspec

    fs, path = fsspec.core.url_to_fs(uri)
    fs.put(str(local).rstrip("/") + "/", path.rstrip("/") + "/", recursive=True)

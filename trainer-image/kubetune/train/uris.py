"""Uris to local paths: file://, plain paths, pvc://, s3:// (fsspec) and hf:// (huggingface_hub).

Reading resolves to a local copy; writing (``output``) must be a local or
mounted path (file://, pvc://, plain) or s3://, which is written locally under a
staging directory (primed from the bucket for a resume) and uploaded with
``upload_checkpoints`` and ``upload_dir``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from kubetune.crd.references import (
    InvalidReference,
    Reference,
    check_key,
    check_segment,
    confine,
    layout_from_env,
)
from kubetune.crd.references import resolve as resolve_reference

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
        try:
            check_segment(name, "pvc claim", uri)
            check_key(sub, "pvc path")
        except InvalidReference as exc:
            raise ValueError(f"bad pvc uri {uri!r}: want pvc://NAME/path ({exc})") from exc
        return (pvc_mounts or pvc_root()) / name / sub
    return None


def checked(uri: str, what: str = "uri", writing: bool = False) -> Reference | None:
    """Re-check ``uri`` against the layout the operator gave this pod (defence in depth).

    None outside such a pod (a test, a local run): then only the shape rules of `local_path` apply.
    Raises InvalidReference (a ValueError) for anything outside the pod's project. What the pod
    writes is always its project's: the admin's trusted catalog is for reading only.
    """
    found = layout_from_env()
    if found is None:
        return None
    layout, namespace = found
    if writing:
        layout = replace(layout, trusted=frozenset())
    return resolve_reference(uri, namespace, layout, what)


def confined(path: Path, ref: Reference | None, pvc_mounts: Path | None = None) -> Path:
    """``path`` with symlinks followed, refused when they lead out of the project's part of the mount."""
    if ref is None or ref.trusted or ref.scheme not in ("file", "pvc"):
        return path
    found = layout_from_env()
    assert found is not None  # a Reference comes only from a pod's layout
    layout, namespace = found
    if ref.scheme == "file":
        root = Path(layout.store_root or "/", namespace)
    elif ref.claim == layout.artifact_claim:
        root = (pvc_mounts or pvc_root()) / str(ref.claim) / namespace
    else:
        root = (pvc_mounts or pvc_root()) / str(ref.claim)
    return confine(path, root, "uri")


def cache_dir() -> Path:
    """Where remote inputs are copied to (env KUBETUNE_CACHE)."""
    return Path(os.environ.get("KUBETUNE_CACHE", DEFAULT_CACHE)).expanduser()


def _hf(uri: str) -> Path:
    from huggingface_hub import snapshot_download

    repo, _, revision = uri.removeprefix("hf://").partition("@")
    offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in {"1", "true", "yes"}
    return Path(snapshot_download(repo_id=repo, revision=revision or None, local_files_only=offline))


def _s3_fs(uri: str) -> tuple[Any, str]:
    """The s3 filesystem and the bucket/key path of ``uri``.

    Credentials, region and endpoint come from botocore's usual sources (``AWS_ACCESS_KEY_ID``,
    ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL`` or
    ``AWS_ENDPOINT_URL_S3`` for MinIO and the like, ~/.aws, the pod's role). A fresh filesystem without a
    listings cache on every call: the environment is read again and listings never go stale (a resume
    or a server's reload must see what another process uploaded since).
    """
    import fsspec

    fs, path = fsspec.core.url_to_fs(uri, skip_instance_cache=True, use_listings_cache=False)
    return fs, path.rstrip("/")


def _s3(uri: str, cache: Path | None = None) -> Path:
    fs, path = _s3_fs(uri)
    name = Path(path).name
    target = (cache or cache_dir()) / "s3" / hashlib.sha256(uri.encode()).hexdigest()[:16] / name
    # Download beside the copy, then swap: no file left over from an older version of the object,
    # and a reader never sees a half-downloaded copy.
    partial = target.with_name(f".partial-{os.getpid()}-{name}")
    _remove(partial)
    partial.parent.mkdir(parents=True, exist_ok=True)
    if fs.isdir(path):
        fs.get(path + "/", str(partial), recursive=True)
    elif fs.isfile(path):
        fs.get(path, str(partial))
    else:
        raise FileNotFoundError(f"{uri} not found")
    _remove(target)
    partial.rename(target)
    return target


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def resolve(uri: str, pvc_mounts: Path | None = None, cache: Path | None = None) -> Path:
    """A local path holding what ``uri`` names; raises FileNotFoundError when it is not there, and
    InvalidReference (a ValueError) when it lies outside the pod's project."""
    ref = checked(uri)
    path = local_path(uri, pvc_mounts)
    if path is not None:
        path = confined(path, ref, pvc_mounts)
    else:
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


# The file that makes a checkpoint directory complete (checkpoint.list_checkpoints): uploaded last.
COMPLETE_MARKER = "state.json"
# (local file, size, mtime) -> the remote key this process uploaded it to or downloaded it from: the final
# upload of the output directory skips the checkpoints that went up while training or came down to resume.
_uploaded: dict[tuple[str, int, int], str] = {}
# Directories still being written (checkpoint.save's and this module's): never uploaded.
UNFINISHED = (".tmp-", ".partial-")


def output_dir(uri: str, resume: str | int = "latest") -> Path:
    """The local directory the run writes into: the path itself, or a staging copy for s3://.

    An s3:// staging directory is primed with what ``resume`` needs (``latest`` or a step; ``none``
    fetches nothing): that checkpoint and the metric log, when the bucket holds them and the staging
    directory does not, so that a fresh pod resumes from the bucket.
    """
    ref = checked(uri, "output", writing=True)
    path = local_path(uri)
    if path is not None:
        return confined(path, ref)
    if scheme(uri) == "s3":
        staging = cache_dir() / "out" / hashlib.sha256(uri.encode()).hexdigest()[:16]
        if resume != "none":
            _stage_resume(uri, staging, resume)
        return staging
    raise ValueError(f"output must be file://, pvc://, s3:// or a path, got {uri!r}")


def _stage_resume(uri: str, staging: Path, resume: str | int) -> None:
    from kubetune.train.checkpoint import PREFIX, checkpoint_root, list_checkpoints
    from kubetune.train.outputs import METRICS_LOG

    fs, path = _s3_fs(uri)
    root = f"{path}/{checkpoint_root(Path()).name}"
    # A checkpoint is complete once its state.json exists (upload_dir sends that file last).
    remote = {}
    for key in fs.find(root):  # one listing; empty for a new output
        step_dir, _, file = key.removeprefix(root + "/").partition("/")
        if file == COMPLETE_MARKER and step_dir.removeprefix(PREFIX).isdigit():
            remote[int(step_dir.removeprefix(PREFIX))] = step_dir
    step = max(remote, default=None) if resume == "latest" else int(resume)
    if step is None or step not in remote:
        return  # checkpoint.find reports a missing step; a missing latest means a fresh start
    if step in dict(list_checkpoints(staging)):
        return  # this staging directory already holds it (the same machine ran before)
    target = checkpoint_root(staging) / remote[step]
    partial = target.with_name(f".partial-{os.getpid()}-{remote[step]}")
    _remove(partial)
    partial.parent.mkdir(parents=True, exist_ok=True)
    fs.get(f"{root}/{remote[step]}/", str(partial), recursive=True)
    _remove(target)
    partial.rename(target)
    for file in target.rglob("*"):  # already in the bucket: the run's final upload_dir skips them
        if file.is_file():
            _uploaded[_identity(file)] = f"{root}/{remote[step]}/{file.relative_to(target).as_posix()}"
    if not (staging / METRICS_LOG).is_file() and fs.isfile(f"{path}/{METRICS_LOG}"):
        fs.get(f"{path}/{METRICS_LOG}", str(staging / METRICS_LOG))


def child_uri(uri: str, *parts: str) -> str:
    """``uri`` joined with sub-paths, keeping its scheme (for status fields)."""
    return "/".join([uri.rstrip("/"), *parts])


def _identity(file: Path) -> tuple[str, int, int]:
    stat = file.stat()
    return str(file.resolve()), stat.st_size, stat.st_mtime_ns


def upload_dir(local: Path, uri: str) -> None:
    """Copy a staged output directory to s3:// (no-op for local outputs).

    Files go up in two batches, every ``state.json`` in the second, so that a run killed mid-upload
    leaves no checkpoint that looks complete without being so. Files this process already uploaded
    unchanged to the same key are not sent again.
    """
    if scheme(uri) != "s3":
        return
    fs, path = _s3_fs(uri)
    batches: tuple[list[tuple[tuple[str, int, int], str]], ...] = ([], [])
    for file in sorted(p for p in local.rglob("*") if p.is_file()):
        relative = file.relative_to(local)
        if any(part.startswith(UNFINISHED) for part in relative.parts):
            continue
        ident = _identity(file)
        key = f"{path}/{relative.as_posix()}"
        if _uploaded.get(ident) != key:
            batches[file.name == COMPLETE_MARKER].append((ident, key))
    for batch in batches:
        if batch:
            fs.put([ident[0] for ident, _ in batch], [key for _, key in batch])
            _uploaded.update(batch)


def upload_checkpoints(output: Path, uri: str) -> None:
    """After a checkpoint is saved into the staging directory ``output`` of an s3:// output: send the new
    checkpoint and the metric log up, and delete the bucket's checkpoints that ``output`` no longer
    holds (pruned to saveTotalLimit). A no-op for local outputs.
    """
    if scheme(uri) != "s3":
        return
    from kubetune.train.checkpoint import PREFIX, checkpoint_root
    from kubetune.train.outputs import METRICS_LOG

    local = checkpoint_root(output)
    upload_dir(local, child_uri(uri, local.name))
    fs, path = _s3_fs(uri)
    if (output / METRICS_LOG).is_file():  # a resume after a crash keeps the history up to its checkpoint
        fs.put(str(output / METRICS_LOG), f"{path}/{METRICS_LOG}")
    kept = {p.name for p in local.iterdir()} if local.is_dir() else set()
    try:
        remote = [key.rstrip("/") for key in fs.ls(f"{path}/{local.name}", detail=False)]
    except FileNotFoundError:
        remote = []
    for key in remote:
        name = key.rsplit("/", 1)[-1]
        if name.startswith(PREFIX) and name not in kept:
            with contextlib.suppress(FileNotFoundError):  # first: a half-deleted one never looks complete
                fs.rm(f"{key}/{COMPLETE_MARKER}")
            fs.rm(key, recursive=True)

"""One resolver for every uri and name a client or a spec gives: datasets, splits, models, outputs, adapters.

The facade (before it creates anything), the operator (before any pod exists) and the runtime (before it
opens a file) all call `resolve` with the same layout, so a reference means the same thing everywhere and
reaches the same places: its own project's prefix of the store, a PVC of its own namespace, the bucket
prefix of its project, or the hub when the admin allows it. Nothing else.

Everything here is pure except `confine`, which follows symlinks on the filesystem.

Rules:
- names (split names) are one path segment; keys are segments joined by '/';
- a segment is printable ASCII from a small set: no empty segment (``//``), no ``.``/``..``, no ``%``
  (no percent-encoded dots or slashes), no backslash, NUL or control character, nothing non-ASCII (no
  look-alikes of '/' or '.' such as U+2215 or U+FF0E);
- ``file://`` resolves only below ``<store root>/<namespace>/``;
- ``pvc://<claim>/<key>`` names a PVC of the resource's own namespace; the artifact claim (the store
  itself) only below ``<namespace>/``;
- ``s3://`` only below ``<object store root>/<namespace>/`` (the admin's bucket and prefix);
- ``hf://<org>/<repo>[@revision]`` when the admin allows the hub.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

SCHEMES = ("file", "pvc", "s3", "hf")
MAX_URI_LENGTH = 1024
MAX_SEGMENT_LENGTH = 255
_SEGMENT = re.compile(r"^[A-Za-z0-9._+=@,~ -]+$")
_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]{0,251}[a-z0-9])?$")
_HF_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")

# Environment a pod reads its layout from (set by the operator's builders; `layout_from_env`).
ENV_NAMESPACE = "KUBETUNE_REFERENCE_NAMESPACE"
ENV_STORE_ROOT = "KUBETUNE_REFERENCE_STORE_ROOT"
ENV_ARTIFACT_CLAIM = "KUBETUNE_REFERENCE_ARTIFACT_CLAIM"
ENV_OBJECT_STORE_ROOT = "KUBETUNE_REFERENCE_OBJECT_STORE_ROOT"
ENV_ALLOW_HUB = "KUBETUNE_REFERENCE_ALLOW_HUB"
ENV_TRUSTED = "KUBETUNE_REFERENCE_TRUSTED"


class InvalidReference(ValueError):  # noqa: N818 -- a user-facing name; "Error" adds nothing
    """A uri or name that is malformed or reaches outside its project. str() is the user's message."""

    def __init__(self, what: str, value: str, why: str) -> None:
        shown = value if len(value) <= 200 else value[:200] + "..."
        super().__init__(f"{what} {shown!r} {why}")
        self.what, self.value, self.why = what, value, why


@dataclass(frozen=True)
class StoreLayout:
    """Where the store is, as the admin configured it.

    ``store_root`` is the store's directory in ``file://`` uris (what pods and specs write);
    ``local_root`` is where the resolving process sees that directory (the operator and the facade may
    see it elsewhere); ``trusted`` holds exact uris the admin declared (a Trainer's catalog models),
    which may live outside every project and are only checked for shape.
    """

    store_root: str | None = None
    local_root: str | None = None
    artifact_claim: str | None = None
    object_store_root: str | None = None
    allow_hub: bool = True
    trusted: frozenset[str] = field(default_factory=frozenset)

    def with_trusted(self, uris: set[str] | frozenset[str] | list[str]) -> StoreLayout:
        return StoreLayout(self.store_root, self.local_root, self.artifact_claim, self.object_store_root,
                           self.allow_hub, self.trusted | frozenset(uris))


@dataclass(frozen=True)
class Reference:
    """A checked reference. ``key`` is relative to the project prefix (file, artifact claim, s3), to
    the claim (other PVCs), or the repo id (hf). ``local`` is where this process reads it, when it can."""

    scheme: str
    uri: str
    key: str
    claim: str | None = None
    local: PurePosixPath | None = None
    trusted: bool = False

    @property
    def in_store(self) -> bool:
        """In the project's prefix of the artifact store (a local file the operator may read)."""
        return self.local is not None and not self.trusted


# ---- names and keys


def check_segment(segment: str, what: str, value: str | None = None) -> str:
    """One path segment, or InvalidReference saying which rule it breaks."""
    shown = segment if value is None else value
    if segment == "":
        raise InvalidReference(what, shown, "has an empty path segment ('//' or a leading or trailing '/')")
    if set(segment) == {"."}:
        raise InvalidReference(what, shown, "contains a '.' or '..' segment")
    for char in segment:
        if char == "\x00" or ord(char) < 0x20 or char == "\x7f":
            raise InvalidReference(what, shown, "contains a control character")
        if char == "\\":
            raise InvalidReference(what, shown, "contains a backslash")
        if char == "%":
            raise InvalidReference(what, shown, "contains '%' (percent-encoded paths are not accepted)")
        if ord(char) > 0x7E:
            raise InvalidReference(what, shown, f"contains the non-ASCII character U+{ord(char):04X} "
                                   "(paths are ASCII only)")
    if len(segment) > MAX_SEGMENT_LENGTH:
        raise InvalidReference(what, shown, f"has a segment over {MAX_SEGMENT_LENGTH} characters")
    if segment != segment.strip() or not _SEGMENT.match(segment):
        raise InvalidReference(what, shown, "may use letters, digits, spaces inside a name and . _ - + = @ , ~ only")
    return segment


def check_name(name: str, what: str = "name") -> str:
    """A single path segment (a split name): no '/' at all."""
    if "/" in name:
        raise InvalidReference(what, name, "must be a single name without '/'")
    return check_segment(name, what, name)


def check_key(key: str, what: str = "path") -> str:
    """A relative key: segments joined by '/', none of them empty, '.' or '..'."""
    if not key:
        raise InvalidReference(what, key, "is empty")
    if len(key) > MAX_URI_LENGTH:
        raise InvalidReference(what, key[:64], f"is longer than {MAX_URI_LENGTH} characters")
    if key.startswith("/"):
        raise InvalidReference(what, key, "must be relative, not an absolute path")
    for segment in key.split("/"):
        check_segment(segment, what, key)
    return key


def _segments(path: str, what: str, uri: str) -> list[str]:
    trimmed = path[:-1] if path.endswith("/") and len(path) > 1 else path
    parts = trimmed.split("/")
    for part in parts:
        check_segment(part, what, uri)
    return parts


def _under(parts: list[str], root: list[str], namespace: str, what: str, uri: str, where: str) -> str:
    """The key below <root>/<namespace>/, or InvalidReference naming where it must be."""
    prefix = [*root, namespace]
    if parts[: len(prefix)] != prefix or len(parts) == len(prefix):
        raise InvalidReference(what, uri, f"is outside this project's storage: it must be below {where}")
    return "/".join(parts[len(prefix):])


# ---- uris


def scheme_of(uri: str) -> str:
    head, sep, _ = uri.partition("://")
    return head if sep else ""


def resolve(uri: str, namespace: str, layout: StoreLayout, what: str = "uri") -> Reference:
    """Check ``uri`` for a resource of ``namespace``; raise InvalidReference with the reason."""
    if not uri:
        raise InvalidReference(what, uri, "is empty")
    if len(uri) > MAX_URI_LENGTH:
        raise InvalidReference(what, uri, f"is longer than {MAX_URI_LENGTH} characters")
    check_segment(namespace, "namespace")
    kind = scheme_of(uri)
    if kind not in SCHEMES:
        raise InvalidReference(what, uri, "must be a uri: file://, pvc://, s3:// or hf://")
    rest = uri[len(kind) + 3:]
    trusted = uri in layout.trusted
    if kind == "file":
        return _file(uri, rest, namespace, layout, what, trusted)
    if kind == "pvc":
        return _pvc(uri, rest, namespace, layout, what, trusted)
    if kind == "s3":
        return _s3(uri, rest, namespace, layout, what, trusted)
    return _hub(uri, rest, layout, what)


def _file(uri: str, path: str, namespace: str, layout: StoreLayout, what: str, trusted: bool) -> Reference:
    if not path.startswith("/"):
        raise InvalidReference(what, uri, "must be file:// followed by an absolute path (file:///...)")
    parts = _segments(path[1:], what, uri)
    if trusted:
        return Reference("file", uri, "/".join(parts), local=PurePosixPath("/", *parts), trusted=True)
    if not layout.store_root:
        raise InvalidReference(what, uri, "is not accepted: this platform has no file store")
    root = [p for p in layout.store_root.split("/") if p]
    key = _under(parts, root, namespace, what, uri, f"file://{'/'.join(['', *root, namespace])}/")
    return Reference("file", uri, key, local=_local(layout, namespace, key))


def _local(layout: StoreLayout, namespace: str, key: str) -> PurePosixPath | None:
    base = layout.local_root or layout.store_root
    return PurePosixPath(base, namespace, key) if base else None


def _pvc(uri: str, rest: str, namespace: str, layout: StoreLayout, what: str, trusted: bool) -> Reference:
    claim, sep, key = rest.partition("/")
    if not _DNS1123.match(claim):
        raise InvalidReference(what, uri, "must be pvc://<claim name>/<path>, the claim a lower-case DNS name")
    if not sep or not key:
        raise InvalidReference(what, uri, "names no path inside the claim (pvc://<claim>/<path>)")
    parts = _segments(key, what, uri)
    if trusted:
        return Reference("pvc", uri, "/".join(parts), claim=claim, trusted=True)
    if claim == layout.artifact_claim:
        inner = _under(parts, [], namespace, what, uri, f"pvc://{claim}/{namespace}/")
        return Reference("pvc", uri, inner, claim=claim, local=_local(layout, namespace, inner))
    # Another claim: pods can mount claims of their own namespace only, so a name is all it takes.
    return Reference("pvc", uri, "/".join(parts), claim=claim)


def _s3(uri: str, rest: str, namespace: str, layout: StoreLayout, what: str, trusted: bool) -> Reference:
    bucket, _, key = rest.partition("/")
    if not _BUCKET.match(bucket):
        raise InvalidReference(what, uri, "must be s3://<bucket>/<key>")
    parts = _segments(key, what, uri) if key else []
    if not parts:
        raise InvalidReference(what, uri, "names no key inside the bucket")
    if trusted:
        return Reference("s3", uri, "/".join(parts), trusted=True)
    if not layout.object_store_root:
        raise InvalidReference(what, uri, "is not accepted: this platform has no object store configured")
    root_bucket, _, root_prefix = layout.object_store_root.removeprefix("s3://").partition("/")
    if bucket != root_bucket:
        raise InvalidReference(what, uri, f"is outside this project's storage: it must be in bucket {root_bucket}")
    root = [p for p in root_prefix.split("/") if p]
    where = "s3://" + "/".join([root_bucket, *root, namespace]) + "/"
    return Reference("s3", uri, _under(parts, root, namespace, what, uri, where))


def _hub(uri: str, rest: str, layout: StoreLayout, what: str) -> Reference:
    if not layout.allow_hub:
        raise InvalidReference(what, uri, "is not accepted: this platform does not download from the model hub")
    repo, at, revision = rest.partition("@")
    parts = repo.split("/")
    if not 1 <= len(parts) <= 2 or not all(_HF_PART.match(p) and ".." not in p for p in parts):
        raise InvalidReference(what, uri, "must be hf://<org>/<model>[@revision]")
    if at and not (_HF_PART.match(revision) and ".." not in revision):
        raise InvalidReference(what, uri, "has an invalid revision (letters, digits, . _ - only)")
    return Reference("hf", uri, repo)


def project_uri(layout: StoreLayout, namespace: str, key: str = "") -> str:
    """The uri of ``key`` in the project's prefix (file:// store first, then the object store)."""
    if layout.store_root:
        return f"file://{layout.store_root.rstrip('/')}/{namespace}/{key}"
    if layout.object_store_root:
        return f"{layout.object_store_root.rstrip('/')}/{namespace}/{key}"
    raise InvalidReference("store", "", "is not configured")


# ---- another Training as a model (chains)

TRAINING_SCHEME = "training"
_TRAINING_URI = re.compile(r"^training://(?P<name>[a-z0-9]([-a-z0-9]*[a-z0-9])?)(/checkpoints/(?P<step>[0-9]{1,12}))?$")


@dataclass(frozen=True)
class TrainingModelRef:
    """``training://<name>`` (the Training's final output) or ``training://<name>/checkpoints/<step>``."""

    name: str
    step: int | None = None


def is_training_uri(uri: str) -> bool:
    return scheme_of(uri) == TRAINING_SCHEME


def parse_training_uri(uri: str, what: str = "baseModel") -> TrainingModelRef:
    """The Training (of the referring resource's own namespace: a uri names no other) and the step."""
    match = _TRAINING_URI.match(uri)
    if match is None or len(match["name"]) > 63:
        raise InvalidReference(what, uri, "must be training://<training name> or "
                               "training://<training name>/checkpoints/<step> (a Training of this namespace)")
    step = match["step"]
    return TrainingModelRef(match["name"], int(step) if step is not None else None)


# ---- the filesystem side


def confine(path: Path | PurePosixPath | str, root: Path | PurePosixPath | str, what: str = "path") -> Path:
    """``path`` with symlinks followed, provided it is still inside ``root`` (also followed).

    A symlink inside a project's prefix pointing elsewhere (another project, /etc) is refused here:
    the string checks alone cannot see it.
    """
    real_root = Path(os.path.realpath(root))
    real = Path(os.path.realpath(path))
    if real != real_root and real_root not in real.parents:
        raise InvalidReference(what, str(path), "leads outside this project's storage (through a symlink)")
    return real


def project_root(layout: StoreLayout, namespace: str) -> Path | None:
    """Where this process sees the project's prefix of the file store."""
    base = layout.local_root or layout.store_root
    return Path(base, namespace) if base else None


def open_checked(ref: Reference, layout: StoreLayout, namespace: str, want_file: bool, what: str = "uri") -> Path:
    """The local path of a store reference, symlinks followed and re-checked; a file when ``want_file``."""
    if ref.local is None:
        raise InvalidReference(what, ref.uri, "cannot be read by this process")
    root = project_root(layout, namespace)
    path = Path(ref.local) if ref.trusted or root is None else confine(ref.local, root, what)
    if want_file and path.is_dir():
        raise InvalidReference(what, ref.uri, "is a directory; a file is expected here")
    return path


# ---- layout in pods


def layout_env(layout: StoreLayout, namespace: str) -> list[dict[str, str]]:
    """The env a runtime pod needs to check references itself (`layout_from_env`)."""
    env = [{"name": ENV_NAMESPACE, "value": namespace}, {"name": ENV_ALLOW_HUB, "value": str(layout.allow_hub).lower()}]
    for name, value in ((ENV_STORE_ROOT, layout.store_root), (ENV_ARTIFACT_CLAIM, layout.artifact_claim),
                        (ENV_OBJECT_STORE_ROOT, layout.object_store_root)):
        if value:
            env.append({"name": name, "value": value})
    if layout.trusted:
        env.append({"name": ENV_TRUSTED, "value": json.dumps(sorted(layout.trusted))})
    return env


def layout_from_env(environ: dict[str, str] | None = None) -> tuple[StoreLayout, str] | None:
    """The layout and namespace the operator gave this pod, or None outside such a pod."""
    env = dict(os.environ if environ is None else environ)
    namespace = env.get(ENV_NAMESPACE)
    if not namespace:
        return None
    trusted = frozenset(json.loads(env[ENV_TRUSTED])) if env.get(ENV_TRUSTED) else frozenset()
    layout = StoreLayout(
        store_root=env.get(ENV_STORE_ROOT) or None,
        artifact_claim=env.get(ENV_ARTIFACT_CLAIM) or None,
        object_store_root=env.get(ENV_OBJECT_STORE_ROOT) or None,
        allow_hub=env.get(ENV_ALLOW_HUB, "true").lower() == "true",
        trusted=trusted,
    )
    return layout, namespace

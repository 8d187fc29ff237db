"""Client paths are storage keys under the caller's project, never filesystem paths."""

from __future__ import annotations

import re

from kubetune.api.core.errors import ApiError
from kubetune.crd.references import InvalidReference, check_key

MAX_KEY_LENGTH = 1024
_SEGMENT = re.compile(r"^[A-Za-z0-9._ -]+$")
_FILENAME_BAD = re.compile(r"[^A-Za-z0-9._-]+")


def safe_key(path: str) -> str:
    """Normalise a client path to a relative key; traversal or odd characters are a 400."""
    if not path or len(path) > MAX_KEY_LENGTH:
        raise ApiError(400, "path must be 1 to 1024 characters")
    if "\\" in path or "\x00" in path or "://" in path:
        raise ApiError(400, "path must be a plain relative key")
    parts = [p for p in path.strip().lstrip("/").split("/")]
    if not parts or any(p in ("", ".", "..") for p in parts):
        raise ApiError(400, "path must not contain empty, '.' or '..' segments")
    if not all(_SEGMENT.match(p) for p in parts):
        raise ApiError(400, "path segments may contain letters, digits, '.', '_', '-' and spaces only")
    try:  # the rules every reference obeys (kubetune.crd.references), on top of this narrower set
        return check_key("/".join(parts), "path")
    except InvalidReference as exc:
        raise ApiError(400, str(exc)) from exc


def safe_filename(filename: str | None, default: str = "dataset.jsonl") -> str:
    """A storage-safe file name from what a client sent (path parts dropped, odd characters replaced)."""
    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _FILENAME_BAD.sub("_", base).strip("._") or default
    return cleaned[:128]

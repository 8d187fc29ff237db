"""Bearer API keys from a mounted Secret file, re-read whenever the file changes.

Kubernetes updates a mounted Secret by swapping a symlink, so the file's
identity (inode, size, mtime) after following links tells us when to re-read;
keys rotate without a restart. A configured but missing or empty file admits
nobody: the server fails closed.
"""

from __future__ import annotations

import hmac
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

# Probes and scrapers carry no key.
PUBLIC_PATHS = frozenset({"/healthz", "/readyz"})


def parse_keys(text: str) -> frozenset[str]:
    """One key per line; blank lines and # comments ignored."""
    keys = (line.strip() for line in text.splitlines())
    return frozenset(key for key in keys if key and not key.startswith("#"))


class ApiKeyFile:
    """The current set of valid keys, refreshed from ``path`` on change.

    ``path`` is a file, or a directory whose visible files all hold keys (a projected volume that
    joins the operator's Secret with one the user manages; Kubernetes' ``..data`` entries are skipped).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._signature: tuple[tuple[str, int, int, int], ...] | None = None
        self._keys: frozenset[str] = frozenset()

    def _files(self) -> list[Path]:
        if not self.path.is_dir():
            return [self.path]
        return sorted(entry for entry in self.path.iterdir() if not entry.name.startswith(".") and entry.is_file())

    def keys(self) -> frozenset[str]:
        try:
            files = self._files()
            signature = tuple(
                (f.name, st.st_ino, st.st_size, st.st_mtime_ns) for f, st in ((f, os.stat(f)) for f in files)
            )
        except OSError:
            if self._signature is not None:
                log.warning("API key file %s disappeared; refusing every key", self.path)
            self._signature, self._keys = None, frozenset()
            return self._keys
        if signature != self._signature:
            try:
                self._keys = frozenset().union(*(parse_keys(f.read_text(encoding="utf-8")) for f in files))
            except OSError:
                self._keys = frozenset()
            self._signature = signature
            log.info("loaded %d API key(s) from %s", len(self._keys), self.path)
        return self._keys

    def accepts(self, key: str) -> bool:
        # Compare against every key in constant time so timing does not leak which one is close.
        accepted = False
        for valid in self.keys():
            accepted |= hmac.compare_digest(valid.encode(), key.encode())
        return accepted


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()

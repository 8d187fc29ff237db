"""The artifact store: fsspec under one root, one prefix per project namespace."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import fsspec.core

from kubetune.api.core.errors import ApiError
from kubetune.crd.references import InvalidReference, StoreLayout, confine, resolve

CHUNK = 1 << 20


class NotTextError(ValueError):
    """A stored line that is not UTF-8 text; `line` is its 1-based number."""

    def __init__(self, line: int) -> None:
        super().__init__(f"line {line} is not valid UTF-8 text")
        self.line = line


class ArtifactStore:
    def __init__(self, root_url: str) -> None:
        self.root_url = root_url.rstrip("/")
        self.fs, root = fsspec.core.url_to_fs(self.root_url)
        self.root = root.rstrip("/")
        self.local = "file" in (self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,))

    def path(self, namespace: str, key: str) -> str:
        """The key's place in the project's prefix; on a local store symlinks are followed and must stay
        inside that prefix (a pod can leave a link to another project or /etc in its own)."""
        path = f"{self.root}/{namespace}/{key}"
        if self.local:
            try:
                confine(path, f"{self.root}/{namespace}", "path")
            except InvalidReference as exc:
                raise ApiError(400, str(exc)) from exc
        return path

    def layout(self) -> StoreLayout:
        """The store as kubetune.crd.references sees it (the admin's catalog uris are added per call)."""
        if self.local:
            return StoreLayout(store_root=self.root)
        return StoreLayout(object_store_root=self.root_url)

    def is_dir(self, namespace: str, key: str) -> bool:
        return bool(self.fs.isdir(self.path(namespace, key)))

    def uri(self, namespace: str, key: str) -> str:
        """What a Training's dataset.uri or output holds (the trainer pod reads the same store)."""
        if self.local:
            return f"file://{self.path(namespace, key)}"
        return f"{self.root_url}/{namespace}/{key}"

    def owns(self, uri: str, namespace: str) -> bool:
        """Is this uri inside the project's prefix of the store (so reading it reaches nothing else)?"""
        try:
            ref = resolve(uri, namespace, self.layout())
            self.path(namespace, ref.key)
        except (InvalidReference, ApiError):
            return False
        return ref.scheme in ("file", "s3")

    def key_of_uri(self, namespace: str, uri: str) -> str | None:
        prefix = self.uri(namespace, "")
        return uri[len(prefix):] if uri.startswith(prefix) else None

    async def write_stream(self, namespace: str, key: str, chunks: AsyncIterator[bytes], limit: int) -> int:
        """Write chunks as they arrive; over the limit the partial file is removed and it is a 413."""
        path = self.path(namespace, key)
        await asyncio.to_thread(self.fs.makedirs, path.rsplit("/", 1)[0], exist_ok=True)
        handle = await asyncio.to_thread(self.fs.open, path, "wb")
        written = 0
        try:
            async for chunk in chunks:
                written += len(chunk)
                if written > limit:
                    raise ApiError(413, f"upload exceeds the limit of {limit} bytes")
                await asyncio.to_thread(handle.write, chunk)
        except BaseException:
            await asyncio.to_thread(handle.close)
            await asyncio.to_thread(self._remove, path)
            raise
        await asyncio.to_thread(handle.close)
        return written

    def write_text(self, namespace: str, key: str, text: str) -> None:
        path = self.path(namespace, key)
        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        with self.fs.open(path, "w", encoding="utf-8") as handle:
            handle.write(text)

    def exists(self, namespace: str, key: str) -> bool:
        return bool(self.fs.exists(self.path(namespace, key)))

    def remove(self, namespace: str, key: str) -> None:
        self._remove(self.path(namespace, key))

    def _remove(self, path: str) -> None:
        if self.fs.exists(path):
            self.fs.rm(path)

    def read_lines(self, namespace: str, key: str, limit: int | None = None) -> Iterator[str]:
        """The file's lines, read and decoded one at a time (bad UTF-8 raises NotTextError with its line)."""
        with self.fs.open(self.path(namespace, key), "rb") as handle:
            for index, raw in enumerate(handle):
                if limit is not None and index >= limit:
                    return
                try:
                    yield raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise NotTextError(index + 1) from None

    def write_chunks(self, namespace: str, key: str, chunks: Iterable[bytes]) -> int:
        """Write chunks to `<key>.partial`, then move it over `key`: readers never see half a file."""
        path = self.path(namespace, key)
        partial = path + ".partial"
        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        written = 0
        try:
            with self.fs.open(partial, "wb") as handle:
                for chunk in chunks:
                    handle.write(chunk)
                    written += len(chunk)
        except BaseException:
            self._remove(partial)
            raise
        self.fs.mv(partial, path)
        return written

    def read_uri_lines(self, namespace: str, uri: str, limit: int | None = None) -> Iterator[str]:
        """Lines of a uri in the project's prefix (InvalidReference: ApiError 400 otherwise)."""
        try:
            key = resolve(uri, namespace, self.layout(), "uri").key
        except InvalidReference as exc:
            raise ApiError(400, str(exc)) from exc
        with self.fs.open(self.path(namespace, key), "r", encoding="utf-8") as handle:
            for index, line in enumerate(handle):
                if limit is not None and index >= limit:
                    return
                yield line

    def usage_bytes(self) -> int:
        if not self.fs.exists(self.root):
            return 0
        return int(self.fs.du(self.root, total=True))

    def total_bytes(self) -> int | None:
        if not self.local:
            return None
        probe = self.root
        while probe and not self.fs.exists(probe):
            probe = probe.rsplit("/", 1)[0]
        return shutil.disk_usage(probe or "/").total

    def info(self, namespace: str, key: str) -> dict[str, Any]:
        return dict(self.fs.info(self.path(namespace, key)))

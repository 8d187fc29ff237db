"""The S3 endpoint the s3:// tests talk to, with helpers to arrange and inspect buckets."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class S3Endpoint:
    url: str
    fs: Any  # an s3fs filesystem on the endpoint, for arranging and inspecting buckets

    def new_bucket(self) -> str:
        name = f"kt-{uuid.uuid4().hex[:12]}"
        self.fs.mkdir(name)
        return name

    def keys(self, prefix: str) -> set[str]:
        """Every object key under ``bucket/prefix``, relative to it."""
        return {key.removeprefix(prefix.rstrip("/") + "/") for key in self.fs.find(prefix)}

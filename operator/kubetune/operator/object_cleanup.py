"""Artifacts in object storage: which prefix a project or a Training leaves in the bucket, and its removal.

The s3:// side of cleanup.py. The planning (`project_objects`, `training_objects`) is pure and refuses
any prefix that is not below ``<root prefix>/<namespace>/`` of the configured bucket; `delete_prefix`
is the only function that talks to the store. The client is plain botocore (no torch, no asyncio),
given the platform's credentials explicitly, so nothing of the operator's environment leaks in.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubetune.crd.references import InvalidReference, StoreLayout, check_segment, resolve

DELETE_BATCH = 1000  # the most keys one DeleteObjects request takes


class ObjectStoreError(RuntimeError):
    """The store refused or could not be reached; str() is safe to show (no credentials)."""


@dataclass(frozen=True)
class ObjectPrefix:
    """Every key of ``bucket`` starting with ``prefix`` (which ends with '/')."""

    bucket: str
    prefix: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def _project(layout: StoreLayout, namespace: str) -> ObjectPrefix | None:
    if not layout.object_store_root:
        return None
    check_segment(namespace, "namespace")
    if "/" in namespace:
        raise InvalidReference("namespace", namespace, "must be a single name without '/'")
    bucket, _, root = layout.object_store_root.removeprefix("s3://").partition("/")
    prefix = "/".join([*(p for p in root.split("/") if p), namespace]) + "/"
    if not ("/" + prefix).endswith(f"/{namespace}/"):  # belt and braces: one segment, nothing else
        raise InvalidReference("namespace", namespace, "does not make a prefix of its own")
    return ObjectPrefix(bucket, prefix)


def project_objects(layout: StoreLayout, namespace: str) -> ObjectPrefix | None:
    """The project's prefix of the object store; None when none is configured."""
    return _project(layout, namespace)


def training_objects(namespace: str, output: str | None, layout: StoreLayout) -> ObjectPrefix | None:
    """The prefix an s3:// output of a Training covers, when it is in its project's prefix (a file://
    output is cleanup.py's; a catalog or never-validated uri is not the operator's to delete)."""
    if not output:
        return None
    try:
        ref = resolve(output, namespace, layout, "output")
    except InvalidReference:
        return None  # never validated, so never written
    project = _project(layout, namespace)
    if ref.scheme != "s3" or ref.trusted or project is None:
        return None
    target = ObjectPrefix(project.bucket, project.prefix + ref.key.strip("/") + "/")
    assert target.prefix.startswith(project.prefix) and target.prefix != project.prefix
    return target


def credentials(secret: Mapping[str, Any]) -> tuple[str, str]:
    """The access key pair of the platform's Secret (as the API returns it: base64)."""
    data = secret.get("data") or {}
    try:
        return (base64.b64decode(data["AWS_ACCESS_KEY_ID"]).decode(),
                base64.b64decode(data["AWS_SECRET_ACCESS_KEY"]).decode())
    except (KeyError, ValueError) as exc:
        name = (secret.get("metadata") or {}).get("name")
        raise ObjectStoreError(f"object-store Secret {name!r} lacks a valid AWS_ACCESS_KEY_ID or "
                               "AWS_SECRET_ACCESS_KEY") from exc


def store_client(access: tuple[str, str], endpoint: str | None, region: str | None) -> Any:
    """A botocore S3 client with exactly these credentials; short timeouts, the handler retries later."""
    import botocore.session
    from botocore.config import Config

    session = botocore.session.Session()
    config = Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"})
    return session.create_client("s3", region_name=region or "us-east-1", endpoint_url=endpoint,
                                 aws_access_key_id=access[0], aws_secret_access_key=access[1], config=config)


def delete_prefix(client: Any, target: ObjectPrefix) -> int:
    """Delete every object under ``target``; the number deleted. ObjectStoreError on any failure
    (the listing starts again on the next try, so a partial run loses nothing)."""
    from botocore.exceptions import BotoCoreError, ClientError

    deleted = 0
    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=target.bucket, Prefix=target.prefix)
        for page in pages:
            keys = [item["Key"] for item in page.get("Contents") or ()]
            for start in range(0, len(keys), DELETE_BATCH):
                batch = keys[start:start + DELETE_BATCH]
                assert all(key.startswith(target.prefix) for key in batch)
                answer = client.delete_objects(Bucket=target.bucket, Delete={
                    "Objects": [{"Key": key} for key in batch], "Quiet": True})
                errors = answer.get("Errors") or []
                if errors:
                    first = errors[0]
                    raise ObjectStoreError(f"{len(errors)} object(s) under {target.uri} not deleted: "
                                           f"{first.get('Code')} {first.get('Message')}")
                deleted += len(batch)
    except ClientError as exc:
        error = exc.response.get("Error") or {}
        if error.get("Code") == "NoSuchBucket":
            return deleted  # nothing was ever written there
        raise ObjectStoreError(f"{target.uri}: {error.get('Code')} {error.get('Message')}") from exc
    except BotoCoreError as exc:
        raise ObjectStoreError(f"{target.uri}: {exc}") from exc
    return deleted

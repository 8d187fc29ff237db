"""Which prefix of the object store a project's or a Training's cleanup deletes (and never deletes), and
how `delete_prefix` pages, batches and reports failures (a fake client; the real store is in
tests/integration/security/test_object_store_cleanup.py)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from kubetune.crd.references import InvalidReference, StoreLayout
from kubetune.operator.object_cleanup import (
    ObjectPrefix,
    ObjectStoreError,
    credentials,
    delete_prefix,
    project_objects,
    training_objects,
)

LAYOUT = StoreLayout(store_root="/mnt/a", object_store_root="s3://kt-store/projects/v1")


def test_a_project_owns_one_segment_below_the_root() -> None:
    assert project_objects(LAYOUT, "alice") == ObjectPrefix("kt-store", "projects/v1/alice/")
    assert project_objects(StoreLayout(object_store_root="s3://kt-store"), "alice") == ObjectPrefix(
        "kt-store", "alice/")
    assert project_objects(StoreLayout(object_store_root="s3://kt-store/p/"), "alice") == ObjectPrefix(
        "kt-store", "p/alice/")
    assert project_objects(StoreLayout(store_root="/mnt/a"), "alice") is None  # no object store
    for bad in ("", "..", ".", "a/b", "a%2fb", "a\\b", "al\u2215ice"):
        with pytest.raises(InvalidReference):
            project_objects(LAYOUT, bad)


def test_a_training_deletes_its_own_s3_output_only() -> None:
    own = training_objects("alice", "s3://kt-store/projects/v1/alice/trainings/t1", LAYOUT)
    assert own == ObjectPrefix("kt-store", "projects/v1/alice/trainings/t1/")
    assert training_objects("alice", "s3://kt-store/projects/v1/alice/trainings/t1/", LAYOUT) == own
    never = [
        None,
        "file:///mnt/a/alice/trainings/t1",  # the file store's: cleanup.py
        "s3://kt-store/projects/v1/bob/trainings/t1",  # another project
        "s3://kt-store/projects/v1/alice",  # the whole project: only the Namespace's finalizer does that
        "s3://other-bucket/projects/v1/alice/t1",
        "s3://kt-store/projects/v1/alice/../bob/t1",
        "s3://kt-store/projects/v1/alice/%2e%2e/bob",
        "s3://kt-store/projects/alice/t1",  # outside the root prefix
    ]
    for output in never:
        assert training_objects("alice", output, LAYOUT) is None, output
    catalog = LAYOUT.with_trusted({"s3://kt-store/projects/v1/alice/catalog"})
    assert training_objects("alice", "s3://kt-store/projects/v1/alice/catalog", catalog) is None
    assert training_objects("alice", "s3://kt-store/projects/v1/alice/t", StoreLayout(store_root="/mnt/a")) is None


def test_credentials_come_from_the_secret_and_a_broken_one_says_which() -> None:
    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    secret = {"metadata": {"name": "s3"},
              "data": {"AWS_ACCESS_KEY_ID": b64("AKID-7"), "AWS_SECRET_ACCESS_KEY": b64("s3cr3t-9")}}
    assert credentials(secret) == ("AKID-7", "s3cr3t-9")
    with pytest.raises(ObjectStoreError, match="'s3' lacks") as info:
        credentials({"metadata": {"name": "s3"}, "data": {"AWS_ACCESS_KEY_ID": b64("AKID-7")}})
    assert "AKID-7" not in str(info.value)


class FakeS3:
    """list_objects_v2 pages and delete_objects calls, as botocore returns them."""

    def __init__(self, keys: list[str], page: int = 3, errors: list[dict[str, str]] | None = None,
                 fail: Exception | None = None) -> None:
        self.keys, self.page, self.errors, self.fail = keys, page, errors or [], fail
        self.deleted: list[list[str]] = []

    def get_paginator(self, name: str) -> FakeS3:
        assert name == "list_objects_v2"
        return self

    def paginate(self, Bucket: str, Prefix: str) -> list[dict[str, Any]]:  # noqa: N803 -- botocore's names
        if self.fail is not None:
            raise self.fail
        mine = [k for k in self.keys if k.startswith(Prefix)]
        return [{"Contents": [{"Key": k} for k in mine[i:i + self.page]]} for i in range(0, len(mine), self.page)] or [
            {"KeyCount": 0}]

    def delete_objects(self, Bucket: str, Delete: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
        self.deleted.append([o["Key"] for o in Delete["Objects"]])
        return {"Errors": self.errors}


def test_delete_prefix_deletes_every_page_under_the_prefix_only() -> None:
    keys = [f"p/alice/{i}" for i in range(7)] + ["p/alice-2/x", "p/bob/y"]
    fake = FakeS3(keys)
    assert delete_prefix(fake, ObjectPrefix("b", "p/alice/")) == 7
    assert sorted(k for batch in fake.deleted for k in batch) == sorted(keys[:7])
    assert delete_prefix(FakeS3([]), ObjectPrefix("b", "p/alice/")) == 0


def test_store_failures_are_errors_to_retry_never_a_silent_success() -> None:
    target = ObjectPrefix("b", "p/alice/")
    with pytest.raises(ObjectStoreError, match="AccessDenied"):
        delete_prefix(FakeS3(["p/alice/x"], errors=[{"Key": "p/alice/x", "Code": "AccessDenied", "Message": "no"}]),
                      target)
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "ListObjectsV2")
    with pytest.raises(ObjectStoreError, match="AccessDenied"):
        delete_prefix(FakeS3([], fail=denied), target)
    with pytest.raises(ObjectStoreError, match="s3://b/p/alice/"):
        delete_prefix(FakeS3([], fail=EndpointConnectionError(endpoint_url="http://127.0.0.1:1")), target)
    missing = ClientError({"Error": {"Code": "NoSuchBucket", "Message": "none"}}, "ListObjectsV2")
    assert delete_prefix(FakeS3([], fail=missing), target) == 0

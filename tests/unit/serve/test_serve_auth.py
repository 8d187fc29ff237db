"""API keys from a mounted file: parsing, rotation without restart, and the routes they guard."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from serve_helpers import FakeRuntime, serve

from kubetune.serve.auth import ApiKeyFile, bearer_token, parse_keys
from kubetune.serve.settings import ServeSettings

pytestmark = pytest.mark.unit


def test_parse_keys_ignores_blanks_and_comments() -> None:
    assert parse_keys("k1\n\n# old key\n  k2  \n") == frozenset({"k1", "k2"})


def test_bearer_token() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer  abc ") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer ") is None
    assert bearer_token(None) is None


def test_keys_rotate_when_the_secret_is_swapped(tmp_path: Path) -> None:
    # Kubernetes swaps a symlink to a new directory when a mounted Secret changes.
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "keys").write_text("old\n")
    (tmp_path / "v2").mkdir()
    (tmp_path / "v2" / "keys").write_text("new\n")
    (tmp_path / "data").symlink_to(tmp_path / "v1")
    keys = ApiKeyFile(tmp_path / "data" / "keys")
    assert keys.accepts("old") and not keys.accepts("new")
    os.replace(tmp_path / "data", tmp_path / "old-link")
    (tmp_path / "data").symlink_to(tmp_path / "v2")
    assert keys.accepts("new") and not keys.accepts("old")


def test_missing_file_accepts_nobody(tmp_path: Path) -> None:
    keys = ApiKeyFile(tmp_path / "absent")
    assert not keys.accepts("")
    assert not keys.accepts("anything")


async def test_routes_need_a_key_but_probes_do_not(tmp_path: Path) -> None:
    key_file = tmp_path / "keys"
    key_file.write_text("s3cret\n")
    settings = ServeSettings(model_uri="fake", task="sequence-classification", api_key_file=key_file)
    async with serve(settings, lambda _: FakeRuntime()) as (client, _):
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).status_code == 200
        assert (await client.get("/metrics")).status_code == 200

        missing = await client.post("/infer", json={"text": "hi"})
        assert missing.status_code == 401
        assert missing.json()["error"] == "UNAUTHORIZED"
        assert missing.headers["www-authenticate"] == "Bearer"
        wrong = await client.post("/infer", json={"text": "hi"}, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        right = await client.post("/infer", json={"text": "hi"}, headers={"Authorization": "Bearer s3cret"})
        assert right.status_code == 200

        key_file.write_text("rotated-key-2\n")  # a different size, so the change is seen at once
        stale = await client.post("/infer", json={"text": "hi"}, headers={"Authorization": "Bearer s3cret"})
        assert stale.status_code == 401
        fresh = await client.post("/infer", json={"text": "hi"}, headers={"Authorization": "Bearer rotated-key-2"})
        assert fresh.status_code == 200

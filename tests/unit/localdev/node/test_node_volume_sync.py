"""ConfigMap and Secret volumes follow their objects while the pod runs, as a kubelet keeps them."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kubetune.localdev.node import volumes
from kubetune.localdev.node.sandbox import Sandbox
from kubetune.localdev.node.volumes import VolumeFile

pytestmark = pytest.mark.unit


def test_which_volumes_follow_their_objects() -> None:
    assert volumes.is_synced({"name": "a", "configMap": {"name": "cm"}})
    assert volumes.is_synced({"name": "s", "secret": {"secretName": "s"}})
    assert volumes.is_synced({"name": "p", "projected": {"sources": [{"configMap": {"name": "cm"}}]}})
    token = {"name": "t", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}
    assert not volumes.is_synced(token)  # the token refresh re-writes it
    assert not volumes.is_synced({"name": "e", "emptyDir": {}})
    assert not volumes.is_synced({"name": "h", "hostPath": {"path": "/srv"}})


def test_sync_files_rewrites_only_what_changed_and_removes_dropped_keys(tmp_path: Path) -> None:
    volumes.write_files(tmp_path, [VolumeFile("a.json", b"{}", 0o644), VolumeFile("old", b"x", 0o644)], False)
    untouched = (tmp_path / "a.json").stat().st_ino
    assert volumes.sync_files(tmp_path, [VolumeFile("a.json", b"{}", 0o644)], False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]
    assert (tmp_path / "a.json").stat().st_ino == untouched
    assert not volumes.sync_files(tmp_path, [VolumeFile("a.json", b"{}", 0o644)], False)
    assert volumes.sync_files(tmp_path, [VolumeFile("a.json", b'{"x": "y"}', 0o644)], False)
    assert (tmp_path / "a.json").read_bytes() == b'{"x": "y"}'


class FakeKube:
    def __init__(self) -> None:
        self.config_maps: dict[str, dict[str, str] | None] = {}

    def get_config_map(self, namespace: str, name: str) -> dict[str, str] | None:
        return self.config_maps.get(name)

    def get_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        return None


def _sandbox(tmp_path: Path, kube: FakeKube) -> Sandbox:
    ctx: Any = SimpleNamespace(kube=kube, host_ip="127.0.0.1", config=SimpleNamespace(name="node"))
    pod = {"metadata": {"name": "server", "namespace": "team-a"},
           "spec": {"volumes": [{"name": "adapters", "configMap": {"name": "chat-adapters"}},
                                {"name": "scratch", "emptyDir": {}}],
                    "containers": [{"name": "server"}]}}
    sandbox = Sandbox(ctx=ctx, pod=pod, pod_ip="10.244.0.5", directory=tmp_path)
    sandbox.volume_dirs = {"adapters": tmp_path / "adapters", "scratch": tmp_path / "scratch"}
    return sandbox


def test_a_running_pod_sees_its_config_map_change_and_keeps_it_when_deleted(tmp_path: Path) -> None:
    kube = FakeKube()
    kube.config_maps["chat-adapters"] = {"adapters.json": "{}"}
    sandbox = _sandbox(tmp_path, kube)
    assert sandbox.sync_objects() == ["adapters"]
    assert (tmp_path / "adapters" / "adapters.json").read_text() == "{}"
    kube.config_maps["chat-adapters"] = {"adapters.json": '{"sft": "file:///store/sft"}'}
    assert sandbox.sync_objects() == []  # not due yet: one GET per object per OBJECT_SYNC_SECONDS
    sandbox.objects_sync_at = 0.0
    assert sandbox.sync_objects() == ["adapters"]
    assert (tmp_path / "adapters" / "adapters.json").read_text() == '{"sft": "file:///store/sft"}'
    del kube.config_maps["chat-adapters"]
    sandbox.objects_sync_at = 0.0
    assert sandbox.sync_objects() == []
    assert (tmp_path / "adapters" / "adapters.json").read_text() == '{"sft": "file:///store/sft"}'

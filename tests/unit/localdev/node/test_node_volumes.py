"""Volume planning and writing: where each kind of volume lives and what files it holds."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from kubetune.localdev.node import volumes
from kubetune.localdev.node.envvars import PodFacts, Sources

pytestmark = pytest.mark.unit

FACTS = PodFacts(pod_ip="10.244.1.9", host_ip="127.0.0.1", node_name="local-node")
POD: dict[str, Any] = {
    "metadata": {"name": "p", "namespace": "ns", "uid": "u-1", "labels": {"b": "2", "a": "1"}},
    "spec": {},
}


def no_tokens(audience: str | None, seconds: int) -> str:
    raise AssertionError("no token expected")


def test_volume_dirs_by_kind(tmp_path: Path) -> None:
    pod_volumes, data = tmp_path / "pod", tmp_path / "data"
    assert volumes.volume_dir({"name": "h", "hostPath": {"path": "/srv/x"}}, pod_volumes, data, "ns") == Path("/srv/x")
    claim = {"name": "d", "persistentVolumeClaim": {"claimName": "claim"}}
    assert volumes.volume_dir(claim, pod_volumes, data, "ns") == data / "ns" / "claim"
    assert volumes.volume_dir({"name": "e", "emptyDir": {}}, pod_volumes, data, "ns") == pod_volumes / "e"


def test_config_map_volume_all_keys_or_selected_items() -> None:
    sources = Sources(config_maps={"cm": {"run.json": "{}", "other": "x"}})
    every = volumes.volume_files({"name": "v", "configMap": {"name": "cm"}}, POD, FACTS, sources, no_tokens)
    assert {f.path for f in every} == {"run.json", "other"}
    items = {"name": "v", "configMap": {"name": "cm", "items": [{"key": "run.json", "path": "conf/run.json"}]}}
    picked = volumes.volume_files(items, POD, FACTS, sources, no_tokens)
    assert [(f.path, f.content) for f in picked] == [("conf/run.json", b"{}")]


def test_missing_config_map_fails_unless_optional() -> None:
    with pytest.raises(volumes.VolumeError):
        volumes.volume_files({"name": "v", "configMap": {"name": "cm"}}, POD, FACTS, Sources(), no_tokens)
    optional = {"name": "v", "configMap": {"name": "cm", "optional": True}}
    assert volumes.volume_files(optional, POD, FACTS, Sources(), no_tokens) == []


def test_secret_files_are_private() -> None:
    files = volumes.volume_files(
        {"name": "v", "secret": {"secretName": "s"}}, POD, FACTS, Sources(secrets={"s": {"k": "v"}}), no_tokens
    )
    assert [(f.path, f.mode) for f in files] == [("k", 0o600)]


def test_projected_service_account_volume() -> None:
    minted: list[tuple[str | None, int]] = []

    def mint(audience: str | None, seconds: int) -> str:
        minted.append((audience, seconds))
        return "TOKEN"

    volume = {
        "name": "kube-api-access",
        "projected": {
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
            ]
        },
    }
    sources = Sources(config_maps={"kube-root-ca.crt": {"ca.crt": "PEM"}})
    files = {f.path: f for f in volumes.volume_files(volume, POD, FACTS, sources, mint)}
    assert minted == [(None, 3607)]
    assert files["token"].content == b"TOKEN" and files["token"].mode == 0o600
    assert files["ca.crt"].content == b"PEM"
    assert files["namespace"].content == b"ns"
    assert volumes.is_refreshed(volume) and volumes.token_lifetime(volume) == 3607


def test_downward_api_labels_are_sorted_key_value_lines() -> None:
    volume = {"name": "d", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}}
    [file] = volumes.volume_files(volume, POD, FACTS, Sources(), no_tokens)
    assert file.content == b'a="1"\nb="2"\n'


def test_write_files_modes_and_private_directory(tmp_path: Path) -> None:
    target = tmp_path / "secret"
    volumes.write_files(target, [volumes.VolumeFile("a/b", b"x", 0o600)], private=True)
    assert (target / "a" / "b").read_bytes() == b"x"
    assert stat.S_IMODE((target / "a" / "b").stat().st_mode) == 0o600
    assert stat.S_IMODE(target.stat().st_mode) == 0o700


def test_write_files_refuses_paths_that_escape(tmp_path: Path) -> None:
    with pytest.raises(volumes.VolumeError):
        volumes.write_files(tmp_path / "v", [volumes.VolumeFile("../evil", b"x", 0o644)], private=False)
    assert not (tmp_path / "evil").exists()


def test_materialize_empty_dir_and_host_path(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    volumes.materialize({"name": "e", "emptyDir": {}}, empty, POD, FACTS, Sources(), no_tokens)
    assert empty.is_dir()
    host = tmp_path / "host"
    volumes.materialize(
        {"name": "h", "hostPath": {"path": str(host), "type": "DirectoryOrCreate"}},
        host,
        POD,
        FACTS,
        Sources(),
        no_tokens,
    )
    assert host.is_dir()
    with pytest.raises(volumes.VolumeError):
        missing = tmp_path / "missing"
        volumes.materialize(
            {"name": "h", "hostPath": {"path": str(missing), "type": "Directory"}},
            missing,
            POD,
            FACTS,
            Sources(),
            no_tokens,
        )

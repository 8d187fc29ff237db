"""The local node's hosts file: pods with a hostname and a subdomain resolve by their DNS names."""

from __future__ import annotations

from pathlib import Path

from kubetune.localdev.node.hosts import HostsTable, pod_names, wants_hosts
from kubetune.localdev.node.runtime import isolated


def _pod(hostname: str | None = "t-train-0", subdomain: str | None = "t-train") -> dict[str, object]:
    spec = {k: v for k, v in {"hostname": hostname, "subdomain": subdomain}.items() if v}
    return {"metadata": {"name": "t-train-0-abc", "namespace": "team-a"}, "spec": spec}


def test_names_of_a_pod_behind_a_headless_service() -> None:
    assert pod_names(_pod()) == ["t-train-0.t-train.team-a.svc.cluster.local", "t-train-0.t-train.team-a.svc",
                                 "t-train-0.t-train.team-a", "t-train-0.t-train"]
    assert pod_names(_pod(subdomain=None)) == []
    assert wants_hosts(_pod()) and not wants_hosts(_pod(subdomain=None))


def test_the_file_follows_pods_in_place(tmp_path: Path) -> None:
    system = tmp_path / "system-hosts"
    system.write_text("127.0.0.1 localhost\n")
    table = HostsTable(tmp_path / "hosts", system)
    inode = (tmp_path / "hosts").stat().st_ino
    table.add("u0", "10.96.1.5", pod_names(_pod()))
    table.add("u1", "10.96.1.6", pod_names(_pod("t-train-1")))
    text = (tmp_path / "hosts").read_text()
    assert text.startswith("127.0.0.1 localhost\n")
    assert "10.96.1.5\tt-train-0.t-train.team-a.svc.cluster.local t-train-0.t-train.team-a.svc" in text
    assert "10.96.1.6\tt-train-1.t-train.team-a.svc.cluster.local" in text
    table.remove("u0")
    assert "10.96.1.5" not in (tmp_path / "hosts").read_text()
    # Rewritten in place: a bind mount of the file keeps seeing it.
    assert (tmp_path / "hosts").stat().st_ino == inode


def test_only_pods_with_a_hosts_file_get_a_mount_namespace(tmp_path: Path) -> None:
    plain = isolated(["kubetune-train"])
    assert "--mount" not in plain and "--hosts" not in plain
    with_hosts = isolated(["kubetune-train"], tmp_path / "hosts")
    assert "--mount" in with_hosts
    assert with_hosts[-3:] == ["--hosts", str(tmp_path / "hosts"), "kubetune-train"]

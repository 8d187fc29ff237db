"""Probe bookkeeping, pod IP pools, restart rules and the Node object."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from kubetune.localdev.node import heartbeat, ipam, podworker, registration, storage
from kubetune.localdev.node.config import NodeConfig
from kubetune.localdev.node.probes import ProbeTracker, named_port

pytestmark = pytest.mark.unit


def test_probe_waits_for_initial_delay_then_runs_every_period() -> None:
    tracker = ProbeTracker({"initialDelaySeconds": 5, "periodSeconds": 2}, started=100.0, initial=False)
    assert not tracker.due(104.9)
    assert tracker.due(105.0)
    tracker.record(True, 105.0)
    assert not tracker.due(106.9) and tracker.due(107.0)


def test_readiness_needs_success_threshold_and_failure_threshold_to_flip() -> None:
    tracker = ProbeTracker({"successThreshold": 2, "failureThreshold": 2}, started=0.0, initial=False)
    assert tracker.record(True, 1) is False
    assert tracker.record(True, 2) is True
    assert tracker.record(False, 3) is True
    assert tracker.record(False, 4) is False


def test_liveness_starts_passing() -> None:
    tracker = ProbeTracker({}, started=0.0, initial=True)
    assert tracker.result is True
    assert [tracker.record(False, t) for t in (1, 2, 3)] == [True, True, False]


def test_named_ports() -> None:
    container = {"ports": [{"name": "http", "containerPort": 8080}]}
    assert named_port("http", container) == 8080
    assert named_port(9000, container) == 9000
    assert named_port("9001", container) == 9001
    with pytest.raises(ValueError):
        named_port("grpc", container)


def test_restart_policy_rules() -> None:
    assert podworker.should_restart("Always", 0) and podworker.should_restart("Always", 1)
    assert podworker.should_restart("OnFailure", 1) and not podworker.should_restart("OnFailure", 0)
    assert not podworker.should_restart("Never", 1)


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [podworker.backoff_seconds(n, 10, 300) for n in range(7)] == [10, 20, 40, 80, 160, 300, 300]


def test_grace_period_prefers_the_deletion_grace() -> None:
    pod = {"metadata": {"deletionGracePeriodSeconds": 3}, "spec": {"terminationGracePeriodSeconds": 30}}
    assert podworker.grace_seconds(pod) == 3
    assert podworker.grace_seconds({"metadata": {}, "spec": {}}) == 30


def test_loopback_candidates_skip_127_0_0_x_and_edge_octets() -> None:
    first = list(zip(range(3), ipam.candidates("127.0.0.0/16"), strict=False))
    assert [address for _, address in first] == ["127.0.1.1", "127.0.1.2", "127.0.1.3"]


def test_allocator_hands_out_distinct_addresses_across_allocators(tmp_path: Path) -> None:
    one = ipam.PodIPAllocator("loopback", "127.0.0.0/16", tmp_path)
    two = ipam.PodIPAllocator("loopback", "127.0.0.0/16", tmp_path)
    a, b = one.allocate("pod-a"), two.allocate("pod-b")
    assert a != b
    one.release(a, "pod-a")
    assert two.allocate("pod-c") == a
    assert one.allocate("pod-d", preferred=b) != b  # still held by the other allocator


def test_a_stale_release_does_not_free_the_next_owners_address(tmp_path: Path) -> None:
    allocator = ipam.PodIPAllocator("loopback", "127.0.0.0/16", tmp_path)
    first = allocator.allocate("old-pod")
    allocator.release(first, "old-pod")
    assert allocator.allocate("new-pod") == first
    allocator.release(first, "old-pod")  # the old pod's worker cleaning up late
    other = ipam.PodIPAllocator("loopback", "127.0.0.0/16", tmp_path)
    assert other.allocate("third-pod") != first


def test_aliases_in_ip_addr_output() -> None:
    listing = (
        "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever\n"
        "1: lo    inet 10.244.1.1/32 scope global lo\\       valid_lft forever\n"
        "1: lo    inet 10.9.0.1/32 scope global lo\\       valid_lft forever\n"
    )
    assert ipam.aliases_in(listing, ipaddress.ip_network("10.244.0.0/16")) == ["10.244.1.1"]


def test_node_object_labels_and_capacity(tmp_path: Path) -> None:
    config = NodeConfig(
        kubeconfig=tmp_path / "kc", name="n1", gpus=2, cpu=4, memory_bytes=8 * 1024**3, labels={"x": "y"}
    )
    manifest = registration.node_manifest(config)
    labels = manifest["metadata"]["labels"]
    assert labels["kubernetes.io/hostname"] == "n1"
    assert labels["kubetune.io/local-node"] == "true"
    assert labels["x"] == "y"
    status = registration.node_static_status(config, "v1.36.3")
    assert status["allocatable"] == {
        "cpu": "4",
        "memory": "8388608Ki",
        "pods": "110",
        "ephemeral-storage": "100Gi",
        "nvidia.com/gpu": "2",
    }
    assert status["nodeInfo"]["kubeletVersion"] == "v1.36.3"


def test_no_gpu_resource_without_gpus(tmp_path: Path) -> None:
    config = NodeConfig(kubeconfig=tmp_path / "kc", gpus=0)
    assert "nvidia.com/gpu" not in registration.node_capacity(config)


def test_node_conditions_ready_and_pressure() -> None:
    import datetime as dt

    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    conditions = {c["type"]: c for c in heartbeat.node_conditions(True, now, now)}
    assert conditions["Ready"]["status"] == "True" and conditions["Ready"]["reason"] == "KubeletReady"
    assert {conditions[k]["status"] for k in ("MemoryPressure", "DiskPressure", "PIDPressure")} == {"False"}
    stopped = {c["type"]: c for c in heartbeat.node_conditions(False, now, now)}
    assert stopped["Ready"]["status"] == "False"


def claim(**spec: object) -> dict[str, object]:
    return {
        "metadata": {"name": "artifacts", "namespace": "ns", "uid": "u-9"},
        "spec": {"storageClassName": "kubetune-local", **spec},
        "status": {"phase": "Pending"},
    }


def test_only_pending_unbound_claims_of_our_class_get_a_volume() -> None:
    assert storage.wants_volume(claim(), "kubetune-local")
    assert not storage.wants_volume(claim(storageClassName="other"), "kubetune-local")
    assert not storage.wants_volume(claim(volumeName="pv-1"), "kubetune-local")


def test_provisioned_volume_is_prebound_to_the_claim(tmp_path: Path) -> None:
    pending = claim(accessModes=["ReadWriteMany"], resources={"requests": {"storage": "5Gi"}})
    volume = storage.persistent_volume(pending, "kubetune-local", tmp_path / "ns" / "artifacts")
    spec = volume["spec"]
    assert volume["metadata"]["name"] == "pvc-u-9"
    assert spec["claimRef"] == {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "namespace": "ns",
        "name": "artifacts",
        "uid": "u-9",
    }
    assert spec["capacity"] == {"storage": "5Gi"} and spec["accessModes"] == ["ReadWriteMany"]
    assert spec["hostPath"]["path"] == str(tmp_path / "ns" / "artifacts")
    assert spec["persistentVolumeReclaimPolicy"] == "Delete"
    assert storage.claim_dir(tmp_path, pending) == tmp_path / "ns" / "artifacts"


def test_command_line_builds_the_config(tmp_path: Path) -> None:
    from kubetune.localdev.node.cli import parse_args

    argv = ["--kubeconfig", "kc", "--name", "n2", "--gpus", "2", "--state-dir", str(tmp_path), "--label", "a=b=c"]
    config = parse_args([*argv, "--pod-network", "loopback", "--allow-host-mount", "/etc/kubetune"])
    assert (config.name, config.gpus, config.state_dir) == ("n2", 2, tmp_path)
    assert config.labels == {"a": "b=c"}
    assert config.pod_network == "loopback" and config.mount_allowlist == ("/etc/kubetune",)
    assert config.pods_dir == tmp_path / "pods"

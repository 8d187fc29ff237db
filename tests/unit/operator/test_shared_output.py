"""A multi-node Training needs one output all its nodes write to: the operator refuses an s3:// output
or a claim that is not ReadWriteMany, and lets through what it cannot judge (no claim configured)."""

from __future__ import annotations

from typing import Any

import pytest

from kubetune.operator.settings import Settings
from kubetune.operator.shared_output import check, output_claim, refusal

pytestmark = pytest.mark.unit

STORE = "/var/lib/kubetune/artifacts"


def settings(**overrides: Any) -> Settings:
    return Settings(**{"artifact_pvc": "kubetune-artifacts", "artifact_mount_path": STORE,
                       "pod_namespace": "kubetune-system", **overrides})


def test_the_claim_of_an_output() -> None:
    s = settings()
    assert output_claim(f"file://{STORE}/team/trainings/a", s) == "kubetune-artifacts"
    assert output_claim("pvc://scratch/runs/a", s) == "scratch"
    assert output_claim("file:///elsewhere/a", s) is None
    assert output_claim("s3://bucket/team/a", s) is None
    assert output_claim(f"file://{STORE}/team/a", settings(artifact_pvc=None)) is None  # the local node


def test_one_node_is_never_refused() -> None:
    assert refusal(1, "s3://bucket/a", None, None) is None
    assert refusal(1, "pvc://scratch/a", "scratch", ["ReadWriteOnce"]) is None


def test_an_s3_output_is_refused_for_several_nodes_with_the_reason() -> None:
    message = refusal(2, "s3://bucket/team/a", None, None)
    assert message is not None
    assert "nodes: 2" in message and "uploaded from node 0 only" in message and "nodes: 1" in message


def test_a_claim_that_is_not_read_write_many_is_refused() -> None:
    message = refusal(3, "pvc://scratch/a", "scratch", ["ReadWriteOnce"])
    assert message is not None
    assert "claim scratch is ReadWriteOnce, not ReadWriteMany" in message
    assert "storage.pvc.accessModes" in message
    assert refusal(3, "pvc://scratch/a", "scratch", ["ReadWriteOncePod"]) is not None
    assert refusal(3, "pvc://scratch/a", "scratch", ["ReadWriteOnce", "ReadWriteMany"]) is None
    assert refusal(3, "pvc://scratch/a", "scratch", None) is None  # not found: cannot tell


def test_check_reads_the_namespace_claim_then_the_operators_original() -> None:
    claims = {("kubetune-system", "kubetune-artifacts"): {"spec": {"accessModes": ["ReadWriteOnce"]}},
              ("team", "scratch"): {"spec": {"accessModes": ["ReadWriteMany"]}}}
    asked: list[tuple[str, str]] = []

    def get(namespace: str, name: str) -> dict[str, Any] | None:
        asked.append((namespace, name))
        return claims.get((namespace, name))

    refused = check(2, f"file://{STORE}/team/trainings/a", "team", settings(), get)
    assert refused is not None and "kubetune-artifacts is ReadWriteOnce" in refused
    assert asked == [("team", "kubetune-artifacts"), ("kubetune-system", "kubetune-artifacts")]
    assert check(2, "pvc://scratch/a", "team", settings(), get) is None
    asked.clear()
    assert check(1, f"file://{STORE}/team/trainings/a", "team", settings(), get) is None
    assert asked == []  # one node: no API call at all

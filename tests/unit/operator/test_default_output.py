"""Where a Training writes when its spec names no output (Settings.default_output), per storage mode."""

from __future__ import annotations

from kubetune.crd.references import resolve
from kubetune.operator.settings import Settings


def test_pvc_mode_writes_below_the_mount() -> None:
    settings = Settings(artifact_pvc="kubetune-artifacts", artifact_mount_path="/var/lib/kubetune/artifacts")
    assert settings.default_output("alice", "t1") == "file:///var/lib/kubetune/artifacts/alice/trainings/t1"


def test_s3_mode_writes_to_the_project_prefix_of_the_bucket() -> None:
    # The chart's storage.type s3: no artifact claim, an object store root.
    settings = Settings(artifact_pvc="", object_store_root="s3://kubetune-e2e/kubetune/")
    output = settings.default_output("alice", "t1")
    assert output == "s3://kubetune-e2e/kubetune/alice/trainings/t1"
    # ...which the reference rules accept as the project's own, writable output.
    ref = resolve(output, "alice", settings.reference_layout(), "output")
    assert ref.scheme == "s3"


def test_an_object_store_beside_a_claim_keeps_the_claim_default() -> None:
    settings = Settings(artifact_pvc="kubetune-artifacts", object_store_root="s3://kubetune-e2e/kubetune")
    assert settings.default_output("alice", "t1").startswith("file://")

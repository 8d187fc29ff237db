"""Images made without a container engine: a valid OCI layout, the same bytes for the same binary."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from kubetune.cluster.images import BinaryImage, oci_archive

pytestmark = pytest.mark.unit


def _members(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def test_archive_is_an_oci_layout_whose_digests_match(tmp_path: Path) -> None:
    binary = tmp_path / "pause"
    binary.write_bytes(b"\x7fELF not really")
    reference, data = oci_archive(BinaryImage("pause", binary, ["/pause"]))
    files = _members(data)
    index = json.loads(files["index.json"])
    entry = index["manifests"][0]
    assert entry["annotations"]["io.containerd.image.name"] == reference
    manifest = json.loads(files[f"blobs/sha256/{entry['digest'][7:]}"])
    for blob in [manifest["config"], *manifest["layers"]]:
        content = files[f"blobs/sha256/{blob['digest'][7:]}"]
        assert "sha256:" + hashlib.sha256(content).hexdigest() == blob["digest"]
        assert len(content) == blob["size"]
    config = json.loads(files[f"blobs/sha256/{manifest['config']['digest'][7:]}"])
    assert config["config"]["Entrypoint"] == ["/pause"] and config["config"]["User"] == "65532:65532"
    layer = _members(files[f"blobs/sha256/{manifest['layers'][0]['digest'][7:]}"])
    assert layer["pause"] == b"\x7fELF not really"
    assert config["rootfs"]["diff_ids"] == [manifest["layers"][0]["digest"]]


def test_same_binary_same_image_and_a_changed_binary_a_new_tag(tmp_path: Path) -> None:
    binary = tmp_path / "coredns"
    binary.write_bytes(b"one")
    image = BinaryImage("coredns", binary, ["/coredns"])
    first, second = oci_archive(image), oci_archive(image)
    assert first == second
    binary.write_bytes(b"two")
    assert oci_archive(image)[0] != first[0]


def test_load_without_a_running_cluster_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from kubetune.cluster.__main__ import main

    assert main(["load", "--state-dir", str(tmp_path)]) == 1
    assert f"no running cluster under {tmp_path}" in capsys.readouterr().err

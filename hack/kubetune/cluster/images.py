"""Images for the cluster's own pieces (the pod sandbox, CoreDNS), made without a container engine.

Both are single static Go binaries, so an image is one layer holding the binary: written here
as an OCI image layout tar (deterministic: fixed mtimes, sorted entries, so the same binary
gives the same digest) and imported into the node's containerd with `ctr images import`.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

REGISTRY = "kubetune.local"


@dataclass(frozen=True)
class BinaryImage:
    """An image holding `binary` at `entrypoint[0]`, run as `user`."""

    name: str
    binary: Path
    entrypoint: list[str]
    user: str = "65532:65532"
    extra_dirs: list[str] = field(default_factory=list)

    def layer(self) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for directory in sorted({"tmp", *self.extra_dirs}):
                info = tarfile.TarInfo(directory)
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o1777 if directory == "tmp" else 0o755, 0
                tar.addfile(info)
            data = self.binary.read_bytes()
            info = tarfile.TarInfo(self.entrypoint[0].lstrip("/"))
            info.size, info.mode, info.mtime = len(data), 0o755, 0
            tar.addfile(info, io.BytesIO(data))
        return buf.getvalue()


def _blob(data: bytes) -> tuple[str, bytes]:
    return "sha256:" + hashlib.sha256(data).hexdigest(), data


def oci_archive(image: BinaryImage) -> tuple[str, bytes]:
    """(reference, OCI layout tar bytes). The tag is the first 12 hex digits of the layer digest."""
    layer_digest, layer = _blob(image.layer())
    config = json.dumps({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Entrypoint": image.entrypoint, "User": image.user, "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
    }, sort_keys=True).encode()
    config_digest, _ = _blob(config)
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest,
                   "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest,
                    "size": len(layer)}],
    }, sort_keys=True).encode()
    manifest_digest, _ = _blob(manifest)
    reference = f"{REGISTRY}/{image.name}:{layer_digest[7:19]}"
    index = json.dumps({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": len(manifest),
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {"io.containerd.image.name": reference,
                            "org.opencontainers.image.ref.name": reference.rsplit(":", 1)[1]},
        }],
    }, sort_keys=True).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        files = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}', "index.json": index}
        for digest, data in ((layer_digest, layer), (config_digest, config), (manifest_digest, manifest)):
            files[f"blobs/sha256/{digest[7:]}"] = data
        for directory in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
            tar.addfile(info)
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(files[name]), 0o644, 0
            tar.addfile(info, io.BytesIO(files[name]))
    return reference, buf.getvalue()


def import_archive(containerd_socket: Path, archive: Path | None) -> None:
    """Import an image tar (OCI layout or `docker save`) into the CRI namespace of our containerd;
    None reads it from stdin, so `docker save | ...` lands with no archive on disk (4.4 GB for the runtime)."""
    source = "-" if archive is None else str(archive)
    subprocess.run(["ctr", "--address", str(containerd_socket), "--namespace", "k8s.io", "images", "import",
                    source], check=True, capture_output=True)

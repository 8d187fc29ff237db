"""The S3 server the S3-mode cluster e2e runs in the cluster (hack/cluster/s3/), seen from the test.

hack/cluster/e2e.sh (STORAGE=s3) port-forwards the server's Service to 127.0.0.1 and names it in
KUBETUNE_E2E_S3_URL; the bucket, prefix and keys are those of hack/cluster/s3/values.yaml. The pods
reach the same server through cluster DNS (s3.kubetune-s3.svc.cluster.local:5000).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class S3Target:
    url: str  # the server on 127.0.0.1 (port-forward)
    bucket: str
    prefix: str  # storage.s3.prefix: projects live under <bucket>/<prefix>/<namespace>/
    access_key: str
    secret_key: str

    @classmethod
    def from_env(cls) -> S3Target:
        env = os.environ
        if not env.get("KUBETUNE_E2E_S3_URL"):
            raise RuntimeError("the S3-mode cluster e2e needs KUBETUNE_E2E_S3_URL (hack/cluster/e2e.sh STORAGE=s3)")
        return cls(url=env["KUBETUNE_E2E_S3_URL"], bucket=env.get("KUBETUNE_E2E_S3_BUCKET", "kubetune-e2e"),
                   prefix=env.get("KUBETUNE_E2E_S3_PREFIX", "kubetune"),
                   access_key=env.get("KUBETUNE_E2E_S3_ACCESS_KEY", "e2e-access-key"),
                   secret_key=env.get("KUBETUNE_E2E_S3_SECRET_KEY", "e2e-secret-key-moto-accepts-any"))

    def fs(self) -> Any:
        """A fresh s3fs filesystem on the server (no listings cache: every listing asks the server)."""
        import s3fs  # type: ignore[import-untyped]

        return s3fs.S3FileSystem(key=self.access_key, secret=self.secret_key, endpoint_url=self.url,
                                 client_kwargs={"region_name": "us-east-1"}, skip_instance_cache=True,
                                 use_listings_cache=False)

    def upload_dir(self, local: Path, key: str) -> None:
        fs = self.fs()
        for path in sorted(p for p in local.rglob("*") if p.is_file()):
            fs.put_file(str(path), f"{self.bucket}/{key}/{path.relative_to(local).as_posix()}")

    def keys(self, key_prefix: str) -> list[str]:
        """Every object key under <bucket>/<key_prefix>/ (recursive), without the bucket."""
        fs = self.fs()
        root = f"{self.bucket}/{key_prefix.strip('/')}"
        if not fs.exists(root):
            return []
        return sorted(k.removeprefix(f"{self.bucket}/") for k in fs.find(root))

    def project_keys(self, namespace: str) -> list[str]:
        return self.keys(f"{self.prefix}/{namespace}")

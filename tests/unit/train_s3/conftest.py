"""A real S3 endpoint for the s3:// tests: moto's threaded server on 127.0.0.1, on a free port.

The AWS_* variables point botocore (under s3fs) at it, as a pod's environment points it at MinIO or
AWS; the shared ~/.aws files are hidden so that nothing of the machine's own configuration leaks in.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from s3_endpoint import S3Endpoint


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Endpoint]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    aws_home = tmp_path_factory.mktemp("aws")
    with pytest.MonkeyPatch.context() as env:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"):
            env.delenv(name, raising=False)
        env.setenv("AWS_ACCESS_KEY_ID", "kubetune-test")
        env.setenv("AWS_SECRET_ACCESS_KEY", "kubetune-test-secret")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
        env.setenv("AWS_CONFIG_FILE", str(aws_home / "config"))
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(aws_home / "credentials"))
        import s3fs

        fs = s3fs.S3FileSystem(skip_instance_cache=True, use_listings_cache=False)
        try:
            yield S3Endpoint(f"http://{host}:{port}", fs)
        finally:
            server.stop()


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from kubetune.testing.tiny import make_tiny_causal_lm

    return make_tiny_causal_lm(tmp_path_factory.mktemp("models") / "lm")

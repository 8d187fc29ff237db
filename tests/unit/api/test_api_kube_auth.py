"""The facade's real client sends its token whichever kubernetes client release is installed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from kubernetes import client, config

from kubetune.api.cluster.kube import bearer

pytestmark = pytest.mark.unit


def test_token_from_a_kubeconfig_reaches_the_header(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "k", "cluster": {"server": "https://127.0.0.1:6443", "insecure-skip-tls-verify": True}}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        "users": [{"name": "u", "user": {"token": "s3cret"}}],
    }))
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=cfg)
    assert bearer(cfg) == "Bearer s3cret"


def test_either_key_name_and_the_refresh_hook() -> None:
    cfg = client.Configuration()
    assert bearer(cfg) is None
    cfg.api_key = {"BearerToken": "abc"}
    assert bearer(cfg) == "Bearer abc"
    cfg.api_key = {"authorization": "bearer from-file"}
    assert bearer(cfg) == "bearer from-file"
    rotated: list[str] = []

    def refresh(c: client.Configuration) -> None:
        rotated.append("x")
        c.api_key["authorization"] = "Bearer rotated"

    cfg.refresh_api_key_hook = refresh
    assert bearer(cfg) == "Bearer rotated" and rotated

"""The local node's memory limits and its image pull rule (quantities: tests/unit/crd/test_quantity.py)."""

from __future__ import annotations

import pytest

from kubetune.localdev.node import images, limits

pytestmark = pytest.mark.unit


def test_a_container_without_a_memory_limit_is_not_limited() -> None:
    assert limits.memory_limit({"resources": {"requests": {"memory": "1Gi"}}}) is None
    assert limits.memory_limit({"resources": {"limits": {"memory": "64Mi"}}}) == 64 * 2**20
    assert limits.memory_limit({"resources": {"limits": {"memory": "lots"}}}) is None


@pytest.mark.parametrize(
    ("image", "host"),
    [("ubuntu", None), ("library/ubuntu:24.04", None), ("ghcr.io/kubetune/runtime:1", "ghcr.io"),
     ("localhost:5000/x", "localhost"), ("registry.invalid:443/a/b", "registry.invalid")],
)
def test_registry_host_is_split_as_the_runtimes_do(image: str, host: str | None) -> None:
    assert images.registry_host(image) == host


def test_only_the_reserved_invalid_domain_fails_to_pull() -> None:
    assert images.pull_error("ghcr.io/kubetune/runtime:1") is None
    assert images.pull_error("kubetune/runtime:test") is None
    error = images.pull_error("registry.invalid/kubetune/runtime:1")
    assert error is not None and "lookup registry.invalid: no such host" in error

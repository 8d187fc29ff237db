"""Tests of the built images (hack/images/build.sh), run by `make test-images` with Docker.

Collected only when KUBETUNE_IMAGE_TESTS=1 (the make target sets it), so the default `pytest` run neither
collects nor skips them; when asked for, a missing Docker daemon or image fails the session loudly.
KUBETUNE_IMAGE_REGISTRY and KUBETUNE_IMAGE_TAG name the images (default kubetune/<name>:dev).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from docker_harness import Docker, image_ref

ENABLE_ENV = "KUBETUNE_IMAGE_TESTS"
collect_ignore_glob = [] if os.environ.get(ENABLE_ENV) == "1" else ["test_*.py"]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def docker() -> Docker:
    """The Docker client the build uses; a daemon that does not answer fails the whole session."""
    found = subprocess.run([str(REPO / "hack/images/dockerd.sh"), "client"], capture_output=True, text=True)
    if found.returncode != 0:
        pytest.fail(f"no docker client: {found.stderr.strip()}", pytrace=False)
    d = Docker(found.stdout.strip())
    info = d.run("info", check=False, timeout=30)
    if info.returncode != 0:
        pytest.fail(f"Docker daemon not answering (hack/images/dockerd.sh ensure starts one): {info.stderr.strip()}",
                    pytrace=False)
    return d


@pytest.fixture(scope="session")
def images(docker: Docker) -> dict[str, str]:
    refs = {name: image_ref(name) for name in ("operator", "api", "runtime")}
    missing = [ref for ref in refs.values() if docker.run("image", "inspect", ref, check=False).returncode != 0]
    if missing:
        pytest.fail(f"images missing: {', '.join(missing)} (build them: make images-local)", pytrace=False)
    return refs

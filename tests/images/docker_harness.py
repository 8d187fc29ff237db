"""Docker as the image tests drive it: run a container, find its loopback port, wait for an HTTP answer."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Docker:
    binary: str

    def run(self, *args: str, check: bool = True, timeout: float = 300,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """docker ARGS; env adds variables to the client's environment (`-e NAME` passes one on unseen)."""
        result = subprocess.run([self.binary, *args], capture_output=True, text=True, timeout=timeout,
                                env={**os.environ, **(env or {})})
        if check and result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} exited {result.returncode}:\n{result.stdout}{result.stderr}")
        return result

    @contextlib.contextmanager
    def container(self, *args: str, env: dict[str, str] | None = None) -> Iterator[str]:
        """A detached container, removed afterwards; its logs are printed when the test fails."""
        name = f"kubetune-test-{uuid.uuid4().hex[:8]}"
        self.run("run", "-d", "--name", name, *args, env=env)
        try:
            yield name
        finally:
            logs = self.run("logs", "--tail", "40", name, check=False)
            print(f"--- {name} logs ---\n{logs.stdout}{logs.stderr}")
            self.run("rm", "-f", name, check=False)

    def published_port(self, container: str, port: int) -> int:
        out = self.run("port", container, f"{port}/tcp").stdout.split()[0]
        host, _, published = out.rpartition(":")
        assert host == "127.0.0.1", f"published on {host}, not loopback only"
        return int(published)


def image_ref(name: str) -> str:
    registry = os.environ.get("KUBETUNE_IMAGE_REGISTRY", "kubetune")
    return f"{registry}/{name}:{os.environ.get('KUBETUNE_IMAGE_TAG', 'dev')}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 180, container: tuple[Docker, str] | None = None) -> tuple[int, bytes]:
    """GET url until it answers 200 (or the container exits): the server's own readiness, not a fixed delay."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            last = f"HTTP {err.code}"
        except (OSError, urllib.error.URLError) as err:
            last = str(err)
        if container:
            d, name = container
            state = d.run("inspect", "-f", "{{.State.Running}}", name, check=False).stdout.strip()
            if state != "true":
                raise AssertionError(f"{name} exited before {url} answered ({last})")
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer 200 within {timeout} s ({last})")

"""Readiness, liveness and startup probes: httpGet, tcpSocket and exec.

`ProbeTracker` is the pure bookkeeping (timing and thresholds); `check` does
one probe against the pod's address.
"""

from __future__ import annotations

import functools
import http.client
import logging
import socket
import ssl
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubetune.localdev.node import netns
from kubetune.localdev.node.envvars import expand

log = logging.getLogger(__name__)


@dataclass
class ProbeTracker:
    """Consecutive successes and failures against the probe's thresholds.

    `result` starts as `initial`: readiness and startup start failed, liveness
    starts passed, as in the kubelet.
    """

    spec: Mapping[str, Any]
    started: float  # monotonic time the container started
    initial: bool
    result: bool = field(init=False)
    successes: int = 0
    failures: int = 0
    last_run: float | None = None

    def __post_init__(self) -> None:
        self.result = self.initial

    @property
    def period(self) -> float:
        return float(self.spec.get("periodSeconds", 10))

    def due(self, now: float) -> bool:
        if now < self.started + float(self.spec.get("initialDelaySeconds", 0)):
            return False
        return self.last_run is None or now >= self.last_run + self.period

    def record(self, ok: bool, now: float) -> bool:
        """Count one result; returns the (possibly changed) overall result."""
        self.last_run = now
        if ok:
            self.successes, self.failures = self.successes + 1, 0
            if self.successes >= int(self.spec.get("successThreshold", 1)):
                self.result = True
        else:
            self.failures, self.successes = self.failures + 1, 0
            if self.failures >= int(self.spec.get("failureThreshold", 3)):
                self.result = False
        return self.result


def named_port(port: int | str, container: Mapping[str, Any]) -> int:
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for declared in container.get("ports") or []:
        if declared.get("name") == port:
            return int(declared["containerPort"])
    raise ValueError(f"container declares no port named {port!r}")


def _http(spec: Mapping[str, Any], host: str, port: int, timeout: float) -> bool:
    connection: http.client.HTTPConnection
    if spec.get("scheme", "HTTP").upper() == "HTTPS":
        # Like the kubelet: HTTPS probes do not verify the certificate.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    else:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
    headers = {header["name"]: header["value"] for header in spec.get("httpHeaders") or []}
    headers.setdefault("User-Agent", "kube-probe/kubetune-local-node")
    try:
        connection.request("GET", spec.get("path") or "/", headers=headers)
        status = connection.getresponse().status
    finally:
        connection.close()
    return 200 <= status < 400


def _exec(command: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float, netns_fd: int | None) -> bool:
    # In the pod's network namespace, as a kubelet runs exec probes inside the container.
    enter = None if netns_fd is None else functools.partial(netns.setns, netns_fd)
    result = subprocess.run(
        list(command), env=dict(env), cwd=cwd, timeout=timeout, capture_output=True, check=False, preexec_fn=enter
    )
    return result.returncode == 0


def check(
    probe: Mapping[str, Any],
    container: Mapping[str, Any],
    pod_ip: str,
    env: Mapping[str, str],
    cwd: Path,
    netns_fd: int | None = None,
) -> bool:
    """Run the probe once; any error (refused, timeout, bad status) is a failure."""
    timeout = float(probe.get("timeoutSeconds", 1))
    try:
        if "httpGet" in probe:
            spec = probe["httpGet"]
            return _http(spec, spec.get("host") or pod_ip, named_port(spec["port"], container), timeout)
        if "tcpSocket" in probe:
            spec = probe["tcpSocket"]
            port = named_port(spec["port"], container)
            with socket.create_connection((spec.get("host") or pod_ip, port), timeout=timeout):
                return True
        if "exec" in probe:
            command = [expand(part, env) for part in probe["exec"].get("command") or []]
            return _exec(command, env, cwd, timeout, netns_fd)
    except (OSError, ValueError, subprocess.SubprocessError, http.client.HTTPException) as error:
        log.debug("probe failed: %s", error)
        return False
    log.warning("unsupported probe %s: counted as passing", sorted(probe))
    return True

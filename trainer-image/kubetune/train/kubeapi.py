"""A minimal Kubernetes API client for the trainer: merge-patch one status, post Events.

Credentials: the pod's projected service-account token (re-read on every
request, because the kubelet rotates it) and CA, or a kubeconfig (env
KUBECONFIG) for runs on a workstation. Errors keep their HTTP status.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
MERGE_PATCH = "application/merge-patch+json"


USER_AGENT = "kubetune-train"


class ApiError(Exception):
    """A failed API call; ``status`` is the HTTP code, or None when no answer came."""

    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(f"{status or 'unreachable'}: {message}")
        self.status = status

    @property
    def retryable(self) -> bool:
        """Conflicts, throttling, server errors and no answer at all are worth another try."""
        return self.status is None or self.status in (409, 429) or self.status >= 500


@dataclass
class KubeApi:
    """Enough of the API server for the reporter."""

    base_url: str
    token_file: Path | None = None
    token: str | None = None
    verify: str | bool = True
    cert: tuple[str, str] | None = None
    timeout: float = 10.0

    def __post_init__(self) -> None:
        self._http = httpx.Client(base_url=self.base_url, verify=self._tls(), timeout=self.timeout)

    def _tls(self) -> ssl.SSLContext | bool:
        # httpx 0.28 wants an SSLContext for a custom CA or a client certificate.
        if self.verify is False:
            return False
        context = ssl.create_default_context(cafile=self.verify if isinstance(self.verify, str) else None)
        if self.cert is not None:
            context.load_cert_chain(*self.cert)
        return context

    def _headers(self, content_type: str) -> dict[str, str]:
        # The user agent names the field manager, so managedFields show what the trainer wrote.
        headers = {"Content-Type": content_type, "Accept": "application/json", "User-Agent": USER_AGENT}
        token = self.token_file.read_text().strip() if self.token_file else self.token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _send(self, method: str, path: str, body: dict[str, Any], content_type: str) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, json=body, headers=self._headers(content_type))
        except httpx.HTTPError as exc:
            raise ApiError(None, f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 300:
            raise ApiError(response.status_code, response.text[:300])
        result: dict[str, Any] = response.json() if response.content else {}
        return result

    def patch_status(
        self, group_version: str, namespace: str, plural: str, name: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Merge-patch the status subresource of one custom object."""
        path = f"/apis/{group_version}/namespaces/{namespace}/{plural}/{name}/status"
        return self._send("PATCH", path, body, MERGE_PATCH)

    def create_event(self, namespace: str, event: dict[str, Any]) -> dict[str, Any]:
        """Create a core/v1 Event."""
        return self._send("POST", f"/api/v1/namespaces/{namespace}/events", event, "application/json")

    def close(self) -> None:
        self._http.close()


def from_environment() -> KubeApi | None:
    """In-cluster credentials, else a kubeconfig from KUBECONFIG, else None (no reporting)."""
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT")
    if host and port and (SA_DIR / "token").is_file():
        ca = SA_DIR / "ca.crt"
        host = f"[{host}]" if ":" in host else host
        return KubeApi(f"https://{host}:{port}", token_file=SA_DIR / "token", verify=str(ca) if ca.is_file() else True)
    kubeconfig = os.environ.get("KUBECONFIG")
    if kubeconfig:
        from kubernetes import client, config

        configuration = client.Configuration()
        # Name the file: the library's default is KUBECONFIG as it was when kubernetes was imported.
        config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
        auth = configuration.api_key.get("authorization") or configuration.api_key.get("BearerToken")
        token = auth.removeprefix("Bearer ").strip() if auth else None
        cert = (configuration.cert_file, configuration.key_file) if configuration.cert_file else None
        verify: str | bool = configuration.ssl_ca_cert or configuration.verify_ssl
        return KubeApi(configuration.host, token=token, verify=verify, cert=cert)
    return None

"""Thin helpers over the kubernetes client: plain JSON dicts in and out.

The agent works on pods as the API server's JSON (camelCase dicts), which is
what its pure functions take; the generated models are never built.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from kubernetes import client, config
from kubernetes.client.rest import ApiException

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"


def api_client(kubeconfig: Path) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(kubeconfig))


def as_dict(response: Any) -> dict[str, Any]:
    """The JSON body of a call made with _preload_content=False."""
    data: dict[str, Any] = json.loads(response.data)
    return data


def server_address(api: client.ApiClient) -> tuple[str, int]:
    """(host, port) of the API server, for KUBERNETES_SERVICE_HOST/PORT inside pods."""
    url = urlparse(api.configuration.host)
    return url.hostname or "127.0.0.1", url.port or (443 if url.scheme == "https" else 80)


def is_status(error: BaseException, *codes: int) -> bool:
    return isinstance(error, ApiException) and error.status in codes


def decode_secret(secret: dict[str, Any]) -> dict[str, str]:
    data = {key: base64.b64decode(value).decode() for key, value in (secret.get("data") or {}).items()}
    data.update(secret.get("stringData") or {})
    return data


class Kube:
    """The calls the agent makes, each returning the object as a dict."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.core = client.CoreV1Api(api)
        self.coordination = client.CoordinationV1Api(api)
        self.storage = client.StorageV1Api(api)
        self.version = client.VersionApi(api)

    def get_config_map(self, namespace: str, name: str) -> dict[str, str] | None:
        try:
            found = as_dict(self.core.read_namespaced_config_map(name, namespace, _preload_content=False))
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        data: dict[str, str] = dict(found.get("data") or {})
        data.update({key: base64.b64decode(value).decode() for key, value in (found.get("binaryData") or {}).items()})
        return data

    def get_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        try:
            found = as_dict(self.core.read_namespaced_secret(name, namespace, _preload_content=False))
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return decode_secret(found)

    def mint_token(
        self, namespace: str, service_account: str, pod: dict[str, Any], audience: str | None, seconds: int
    ) -> str:
        """TokenRequest bound to the pod, so the token dies with it."""
        body = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {
                "audiences": [audience] if audience else [],
                "expirationSeconds": seconds,
                "boundObjectRef": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "name": pod["metadata"]["name"],
                    "uid": pod["metadata"]["uid"],
                },
            },
        }
        response = self.core.create_namespaced_service_account_token(
            service_account, namespace, body, _preload_content=False
        )
        token: str = as_dict(response)["status"]["token"]
        return token

    def patch_pod_status(self, namespace: str, name: str, status: dict[str, Any]) -> dict[str, Any]:
        response = self.core.patch_namespaced_pod_status(
            name, namespace, {"status": status}, _content_type=MERGE_PATCH, _preload_content=False
        )
        return as_dict(response)

    def delete_pod_now(self, namespace: str, name: str, uid: str) -> None:
        """Finish a graceful deletion, as the kubelet does once the containers are gone."""
        body = {"gracePeriodSeconds": 0, "preconditions": {"uid": uid}}
        try:
            self.core.delete_namespaced_pod(name, namespace, body=body, _preload_content=False)
        except ApiException as error:
            if error.status not in (404, 409):
                raise

    def claim_host_path(self, namespace: str, claim: str) -> str | None:
        """The host directory behind a bound claim whose volume is a hostPath or local PV."""
        try:
            pvc = as_dict(self.core.read_namespaced_persistent_volume_claim(claim, namespace, _preload_content=False))
            volume_name = (pvc.get("spec") or {}).get("volumeName")
            if not volume_name:
                return None
            pv = as_dict(self.core.read_persistent_volume(volume_name, _preload_content=False))
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        spec = pv.get("spec") or {}
        source = spec.get("hostPath") or spec.get("local") or {}
        path = source.get("path")
        return str(path) if path else None

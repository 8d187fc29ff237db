"""Inference servers ask for a key: a call straight to the pod without it is a 401, through the facade it works.

A real kubetune-serve (a tiny causal LM made here) runs on a local node, started by the operator; the
facade runs under its chart identity. The operator gives the server its key Secret (the service's own
key plus the key derived for the facade); the facade derives the same key from the shared serving key
and reads no Secret. A server with `auth: none` is the explicit exception.
"""

from __future__ import annotations

import base64
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_facade import facade
from kube_waits import wait_for
from kubernetes import client
from pydantic import SecretStr

from kubetune.crd import labels as lbl
from kubetune.localdev.controlplane import ControlPlane
from kubetune.localdev.node.agent import NodeAgent
from kubetune.localdev.node.config import NodeConfig
from kubetune.operator.inprocess import OperatorThread
from kubetune.operator.settings import Settings as OperatorSettings

pytestmark = pytest.mark.integration
GROUP, VERSION = "kubetune.io", "v1alpha1"
GENERATE = {"prompt": "hi", "max_tokens": 2}


@pytest.fixture(scope="module")
def serving(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A local node running real servers and the operator, with the platform's serving key."""
    artifacts = tmp_path_factory.mktemp("serving-keys")
    key = uuid.uuid4().hex * 2
    node = NodeConfig(kubeconfig=control_plane.kubeconfig, name=f"serving-keys-{uuid.uuid4().hex[:4]}",
                      state_dir=tmp_path_factory.mktemp("serving-keys-node"), restart_backoff_seconds=1.0)
    settings = OperatorSettings(
        kubeconfig=str(control_plane.kubeconfig), artifact_pvc=None, artifact_mount_path=str(artifacts),
        leader_election=False, metrics_port=0, health_port=0, log_format="text",
        serve_command=[sys.executable, "-m", "kubetune.serve.cli"], serving_key_secret=key)
    with NodeAgent(node), OperatorThread(settings):
        yield artifacts, key


def _server(namespace: str, name: str, model: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "InferenceService", "metadata": {"name": name},
            "spec": {"model": {"baseModel": model}, "task": "causal-lm", **spec}}


def _ready(api_client: client.ApiClient, namespace: str, name: str) -> None:
    wait_for(client.CustomObjectsApi(api_client).list_namespaced_custom_object,
             lambda o: (o.get("status") or {}).get("phase") in ("Ready", "Failed"), GROUP, VERSION, namespace,
             "inferenceservices", field_selector=f"metadata.name={name}", timeout=600)
    got = client.CustomObjectsApi(api_client).get_namespaced_custom_object(GROUP, VERSION, namespace,
                                                                          "inferenceservices", name)
    assert got["status"]["phase"] == "Ready", got["status"]


def _pod_url(api_client: client.ApiClient, namespace: str, name: str) -> str:
    pod = wait_for(client.CoreV1Api(api_client).list_namespaced_pod,
                   lambda p: bool((p.get("status") or {}).get("podIP")), namespace,
                   label_selector=f"{lbl.INFERENCE_SERVICE}={name}")
    port = pod["spec"]["containers"][0]["ports"][0]["containerPort"]
    return f"http://{pod['status']['podIP']}:{port}"


async def test_a_server_refuses_calls_without_its_key_and_answers_the_facade(
        api_client: client.ApiClient, serving: tuple[Path, str]) -> None:
    from kubetune.testing.tiny import make_tiny_causal_lm

    artifacts, platform_key = serving
    custom, core = client.CustomObjectsApi(api_client), client.CoreV1Api(api_client)
    async with facade(api_client, artifacts) as api:
        api.ctx.settings.serving_key_secret = SecretStr(platform_key)  # what the chart's auth Secret gives it
        api.ctx.settings.inference_routing = "pod"  # cluster DNS does not reach the host
        tag = uuid.uuid4().hex[:6]
        tokens, projects = {}, {}
        for user in (f"alice-{tag}", f"bob-{tag}"):
            await api.ctx.users.put_user(user, f"{user}-password")
            tokens[user] = await api.login(user, f"{user}-password")
            made = await api.client.post("/api/v1/projects", json={"name": f"{user} project"},
                                         headers=api.auth(tokens[user]))
            assert made.status_code == 201, made.text
            projects[user] = made.json()
        alice, bob = tokens[f"alice-{tag}"], tokens[f"bob-{tag}"]
        project = projects[f"alice-{tag}"]
        ns = project["namespace"]
        make_tiny_causal_lm(artifacts / ns / "models" / "tiny")
        model = f"file://{artifacts}/{ns}/models/tiny"
        custom.create_namespaced_custom_object(GROUP, VERSION, ns, "inferenceservices", _server(ns, "chat", model))
        custom.create_namespaced_custom_object(GROUP, VERSION, ns, "inferenceservices",
                                               _server(ns, "open", model, auth="none"))
        _ready(api_client, ns, "chat")
        _ready(api_client, ns, "open")

        secret = core.read_namespaced_secret("chat-serving-key", ns)
        assert secret.metadata.owner_references[0].kind == "InferenceService"
        own_key = base64.b64decode(secret.data["api-key"]).decode()
        url = _pod_url(api_client, ns, "chat")
        async with httpx.AsyncClient(timeout=120) as direct:
            assert (await direct.post(f"{url}/generate", json=GENERATE)).status_code == 401
            wrong = await direct.post(f"{url}/generate", json=GENERATE, headers={"Authorization": f"Bearer {alice}"})
            assert wrong.status_code == 401  # a facade token is no server key
            assert (await direct.get(f"{url}/healthz")).status_code == 200  # probes carry no key
            mine = await direct.post(f"{url}/generate", json=GENERATE, headers={"Authorization": f"Bearer {own_key}"})
            assert mine.status_code == 200, mine.text  # a client of the project, with the service's key
            open_url = _pod_url(api_client, ns, "open")
            assert (await direct.post(f"{open_url}/generate", json=GENERATE)).status_code == 200  # auth: none

        through = await api.client.post(f"/api/v1/inference-services/{project['key']}.chat/generate",
                                        json=GENERATE, headers=api.auth(alice))
        assert through.status_code == 200, through.text
        assert through.json()["usage"]["completion_tokens"] >= 1
        generate = await api.client.post("/api/v1/inference/generate", headers=api.auth(alice),
                                         json={"model_id": f"{project['key']}/chat", **GENERATE})
        assert generate.status_code == 200, generate.text
        others = await api.client.post(f"/api/v1/inference-services/{project['key']}.chat/generate",
                                       json=GENERATE, headers=api.auth(bob))
        assert others.status_code in (403, 404), others.text

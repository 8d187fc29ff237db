"""Serving through the facade on the real control plane: an InferenceService made with kubectl answers the
openai SDK through the facade (errors in OpenAI's shape included), scales to zero when idle, and the next
request wakes it and is answered; the project's serving routes list and manage it.

A real kubetune-serve (a tiny causal LM made here) runs on a local node, started by the in-process operator.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from api_facade import facade
from kube_waits import wait_for
from kubernetes import client

from kubetune.localdev.controlplane import ControlPlane
from kubetune.localdev.node.agent import NodeAgent
from kubetune.localdev.node.config import NodeConfig
from kubetune.operator.inprocess import OperatorThread
from kubetune.operator.settings import Settings as OperatorSettings

pytestmark = pytest.mark.integration
GROUP, VERSION = "kubetune.io", "v1alpha1"
CHAT = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="module")
def serving(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    artifacts = tmp_path_factory.mktemp("serving-zero")
    node = NodeConfig(kubeconfig=control_plane.kubeconfig, name=f"serving-zero-{uuid.uuid4().hex[:4]}",
                      state_dir=tmp_path_factory.mktemp("serving-zero-node"), restart_backoff_seconds=1.0)
    settings = OperatorSettings(
        kubeconfig=str(control_plane.kubeconfig), artifact_pvc=None, artifact_mount_path=str(artifacts),
        leader_election=False, metrics_port=0, health_port=0, log_format="text",
        serve_command=[sys.executable, "-m", "kubetune.serve.cli"])
    with NodeAgent(node), OperatorThread(settings):
        yield artifacts


def _phase_is(api_client: client.ApiClient, ns: str, name: str, *phases: str, timeout: int = 300) -> dict[str, Any]:
    return wait_for(client.CustomObjectsApi(api_client).list_namespaced_custom_object,
                    lambda o: (o.get("status") or {}).get("phase") in phases, GROUP, VERSION, ns,
                    "inferenceservices", field_selector=f"metadata.name={name}", timeout=timeout)


async def test_a_kubectl_service_answers_the_openai_sdk_sleeps_when_idle_and_wakes_on_a_request(
        api_client: client.ApiClient, serving: Path) -> None:
    from kubetune.testing.tiny import make_tiny_causal_lm

    custom = client.CustomObjectsApi(api_client)
    async with facade(api_client, serving) as api:
        api.ctx.settings.inference_routing = "pod"  # cluster DNS does not reach the host
        user = f"carol-{uuid.uuid4().hex[:6]}"
        await api.ctx.users.put_user(user, f"{user}-password")
        token = await api.login(user, f"{user}-password")
        made = await api.client.post("/api/v1/projects", json={"name": f"{user} project"}, headers=api.auth(token))
        assert made.status_code == 201, made.text
        project = made.json()
        ns = project["namespace"]
        make_tiny_causal_lm(serving / ns / "models" / "tiny")
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "InferenceService", "metadata": {"name": "chat"},
                "spec": {"model": {"baseModel": f"file://{serving}/{ns}/models/tiny"}, "task": "causal-lm",
                         "auth": "none", "autoscaling": {"scaleToZero": True, "idleSeconds": 10}}}
        custom.create_namespaced_custom_object(GROUP, VERSION, ns, "inferenceservices", body)  # as kubectl would
        ready = _phase_is(api_client, ns, "chat", "Ready", "Failed")
        assert ready["status"]["phase"] == "Ready", ready["status"]

        listed = await api.client.get(f"/api/v1/projects/{project['id']}/inference-services", headers=api.auth(token))
        assert listed.status_code == 200, listed.text
        (item,) = listed.json()["items"]
        assert (item["name"], item["managed_by"], item["phase"]) == ("chat", "kubernetes", "Ready")

        sdk = openai.AsyncOpenAI(base_url=f"http://facade{item['openai_base_url']}", api_key=token,
                                 http_client=api.client, max_retries=0, timeout=300)
        reply = await sdk.chat.completions.create(model="tiny", messages=CHAT, max_tokens=3, temperature=0)
        assert reply.choices[0].message.role == "assistant"
        with pytest.raises(openai.BadRequestError) as refused:
            await sdk.chat.completions.create(model="tiny", messages=CHAT, response_format={"type": "json_object"})
        assert refused.value.param == "response_format"  # the server's refusal, through the facade

        asleep = _phase_is(api_client, ns, "chat", "ScaledToZero", timeout=120)
        assert asleep["status"]["readyReplicas"] == 0 or asleep["status"]["phase"] == "ScaledToZero"
        apps = client.AppsV1Api(api_client)
        assert apps.read_namespaced_deployment("chat-server", ns).spec.replicas == 0
        models = (await api.client.get("/api/v1/inference/models", headers=api.auth(token))).json()["models"]
        assert [m["status"] for m in models if m["id"].endswith("/chat")] == ["scaled_to_zero"]

        # The request waits in the facade while the operator scales the service up and the model loads.
        woken = await sdk.chat.completions.create(model="tiny", messages=CHAT, max_tokens=3, temperature=0)
        assert woken.choices[0].message.content == reply.choices[0].message.content
        assert apps.read_namespaced_deployment("chat-server", ns).spec.replicas == 1

        deleted = await api.client.delete(f"/api/v1/projects/{project['id']}/inference-services/chat",
                                          headers=api.auth(token))
        assert deleted.status_code == 204

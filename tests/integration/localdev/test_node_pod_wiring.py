"""What a program inside a local-node pod sees: env from fieldRef/ConfigMap/Secret, mounted
ConfigMap and Secret files, its working directory, and a service-account token that the
API server accepts (minted by TokenRequest, read through the in-cluster loader)."""

from __future__ import annotations

import json

import pytest
from kubernetes import client
from node_waits import Obj, container_state, log_of, wait_for

from kubetune.localdev.node.agent import NodeAgent

pytestmark = pytest.mark.integration

# Runs in the pod with the host's Python; everything it reports goes to the termination message.
PROGRAM = """
import json, os, stat, sys
from pathlib import Path
from kubernetes import client
from kubetune.localdev.node import paths

NAMES = ("POD_NAME", "POD_NS", "POD_UID", "NODE", "SA", "LEVEL", "PASSWORD", "POD_IP", "MY_IP")
paths.load_incluster_config()
review = client.AuthenticationV1Api().create_self_subject_review(
    {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
)
# Clients that fall back to a kubeconfig work unmodified: KUBECONFIG holds the pod's token.
from kubernetes import config
fallback = client.ApiClient(config.new_client_from_config().configuration)
review_through_kubeconfig = client.AuthenticationV1Api(fallback).create_self_subject_review(
    {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
)
secret_file = Path(paths.resolve("/etc/secret/password"))
report = {
    "user": review.status.user_info.username,
    "user_through_kubeconfig": review_through_kubeconfig.status.user_info.username,
    "run": json.loads(Path(paths.resolve("/etc/kubetune/run.json")).read_text()),
    # Unmodified programs: a mounted path passed as an argument or env value arrives rewritten.
    "run_from_argument": json.loads(Path(sys.argv[2]).read_text()),
    "run_from_env": json.loads(Path(os.environ["RUN_CONFIG"]).read_text()),
    "password_file": secret_file.read_text(),
    "password_mode": oct(stat.S_IMODE(secret_file.stat().st_mode)),
    "namespace_file": Path(paths.resolve("/var/run/secrets/kubernetes.io/serviceaccount/namespace")).read_text(),
    "env": {k: os.environ.get(k) for k in NAMES},
    "cwd": os.getcwd(),
}
Path(paths.resolve("/dev/termination-log")).write_text(json.dumps(report))
print("reported")
"""


def wired_pod() -> Obj:
    def field(name: str, path: str) -> Obj:
        return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}

    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "wired"},
        "spec": {
            "restartPolicy": "Never",
            "volumes": [
                {"name": "run", "configMap": {"name": "run-config"}},
                {"name": "secret", "secret": {"secretName": "creds"}},
                {"name": "work", "emptyDir": {}},
            ],
            "containers": [
                {
                    "name": "main",
                    "image": "kubetune/trainer:dev",
                    "command": ["python", "-c", PROGRAM],
                    "args": ["--config", "/etc/kubetune/run.json"],
                    "workingDir": "/workspace",
                    "env": [
                        field("POD_NAME", "metadata.name"),
                        field("POD_NS", "metadata.namespace"),
                        field("POD_UID", "metadata.uid"),
                        field("NODE", "spec.nodeName"),
                        field("SA", "spec.serviceAccountName"),
                        field("MY_IP", "status.podIP"),
                        {"name": "RUN_CONFIG", "value": "/etc/kubetune/run.json"},
                        {"name": "LEVEL", "valueFrom": {"configMapKeyRef": {"name": "run-config", "key": "level"}}},
                        {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}},
                    ],
                    "volumeMounts": [
                        {"name": "run", "mountPath": "/etc/kubetune"},
                        {"name": "secret", "mountPath": "/etc/secret", "readOnly": True},
                        {"name": "work", "mountPath": "/workspace"},
                    ],
                }
            ],
        },
    }


def test_pod_sees_its_env_mounts_and_a_working_token(
    core: client.CoreV1Api, namespace: str, local_node: NodeAgent
) -> None:
    core.create_namespaced_config_map(
        namespace,
        {"metadata": {"name": "run-config"}, "data": {"run.json": '{"epochs": 3}', "level": "debug"}},
    )
    core.create_namespaced_secret(namespace, {"metadata": {"name": "creds"}, "stringData": {"password": "hunter2"}})
    core.create_namespaced_pod(namespace, wired_pod())

    pod = wait_for(
        core.list_namespaced_pod,
        lambda p: "terminated" in container_state(p),
        namespace,
        field_selector="metadata.name=wired",
    )
    state = container_state(pod)["terminated"]
    assert state["exitCode"] == 0, log_of(local_node, pod, "main")
    report = json.loads(state["message"])

    assert report["user"] == report["user_through_kubeconfig"] == f"system:serviceaccount:{namespace}:default"
    assert report["run"] == report["run_from_argument"] == report["run_from_env"] == {"epochs": 3}
    assert report["password_file"] == "hunter2"
    assert report["password_mode"] == "0o600"
    assert report["namespace_file"] == namespace
    pod_ip = pod["status"]["podIP"]
    assert report["env"] == {
        "POD_NAME": "wired",
        "POD_NS": namespace,
        "POD_UID": pod["metadata"]["uid"],
        "NODE": "local-node",
        "SA": "default",
        "LEVEL": "debug",
        "PASSWORD": "hunter2",
        "POD_IP": pod_ip,
        "MY_IP": pod_ip,
    }
    assert report["cwd"].endswith("/volumes/work")  # workingDir /workspace is the emptyDir mounted there

"""A real cluster as the e2e target: the chart installed, the api reachable (`make e2e-kind`).

Selected by KUBETUNE_E2E_KUBECONFIG; hack/kind/e2e.sh sets every variable below. The model is
the same tiny Llama-style model the embedded platform builds, written into the cluster's
artifact store by a Job on the runtime image, so nothing is downloaded.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from typing import Any

from kubernetes import client, config, watch

from kubetune.localdev.platform import password_token

MODEL_ID = "tiny-llama"  # the catalog entry hack/kind/values.yaml adds to the default Trainers
# The chart's Trainers default to 2048-token sequences; the tiny model has 512 positions.
HYPERPARAMETERS = {"max_seq_length": 256}
RUNTIME_UID = 10001


@dataclass(frozen=True)
class ClusterTarget:
    kubeconfig: str
    api_url: str
    admin_username: str
    admin_password: str
    namespace: str  # the chart's release namespace
    runtime_image: str
    artifact_claim: str
    artifact_mount: str

    @classmethod
    def from_env(cls) -> ClusterTarget:
        env = os.environ
        missing = [k for k in ("KUBETUNE_E2E_KUBECONFIG", "KUBETUNE_E2E_API_URL", "KUBETUNE_E2E_ADMIN_PASSWORD")
                   if not env.get(k)]
        if missing:
            raise RuntimeError(f"the cluster e2e target needs {', '.join(missing)} (hack/kind/e2e.sh sets them)")
        return cls(
            kubeconfig=env["KUBETUNE_E2E_KUBECONFIG"],
            api_url=env["KUBETUNE_E2E_API_URL"].rstrip("/"),
            admin_username=env.get("KUBETUNE_E2E_ADMIN_USERNAME", "admin"),
            admin_password=env["KUBETUNE_E2E_ADMIN_PASSWORD"],
            namespace=env.get("KUBETUNE_E2E_NAMESPACE", "kubetune-system"),
            runtime_image=env.get("KUBETUNE_E2E_RUNTIME_IMAGE", "kubetune/runtime:dev"),
            artifact_claim=env.get("KUBETUNE_E2E_ARTIFACT_CLAIM", "kubetune-artifacts"),
            artifact_mount=env.get("KUBETUNE_E2E_ARTIFACT_MOUNT", "/var/lib/kubetune/artifacts"),
        )

    def api_client(self) -> client.ApiClient:
        return config.new_client_from_config(config_file=self.kubeconfig)

    def admin_token(self) -> str:
        return password_token(self.api_url, self.admin_username, self.admin_password)

    @property
    def model_dir(self) -> str:
        return f"{self.artifact_mount}/models/{MODEL_ID}"


def _wait_job(api: client.ApiClient, namespace: str, name: str, timeout: int) -> None:
    w = watch.Watch()
    for event in w.stream(client.BatchV1Api(api).list_namespaced_job, namespace,
                          field_selector=f"metadata.name={name}", timeout_seconds=timeout):
        status = event["object"].status
        if status.succeeded:
            w.stop()
            return
        if status.failed:
            w.stop()
            raise AssertionError(f"Job {namespace}/{name} failed: kubectl -n {namespace} logs job/{name}")
    raise TimeoutError(f"Job {namespace}/{name} did not finish in {timeout}s")


def run_store_job(target: ClusterTarget, api: client.ApiClient, prefix: str, script: str,
                  env: dict[str, str] | None = None, timeout: int = 600) -> None:
    """Run a Python script on the runtime image, as the runtime's user, with the artifact store mounted
    where the platform's pods see it; returns when its Job succeeded."""
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    job: dict[str, Any] = {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": target.namespace},
        "spec": {"backoffLimit": 0, "ttlSecondsAfterFinished": 600, "template": {"spec": {
            "restartPolicy": "Never",
            "securityContext": {"runAsNonRoot": True, "runAsUser": RUNTIME_UID, "runAsGroup": RUNTIME_UID,
                                "fsGroup": RUNTIME_UID},
            "containers": [{
                "name": prefix, "image": target.runtime_image, "imagePullPolicy": "IfNotPresent",
                "command": ["python", "-c", script],
                "env": [{"name": k, "value": v} for k, v in (env or {}).items()],
                "volumeMounts": [{"name": "artifacts", "mountPath": target.artifact_mount}],
            }],
            "volumes": [{"name": "artifacts", "persistentVolumeClaim": {"claimName": target.artifact_claim}}],
        }}},
    }
    client.BatchV1Api(api).create_namespaced_job(target.namespace, job)
    _wait_job(api, target.namespace, name, timeout)


def write_tiny_model(target: ClusterTarget, api: client.ApiClient, timeout: int = 600) -> None:
    """Build the tiny model into the artifact store with a Job on the runtime image."""
    script = f"from kubetune.testing.tiny import make_tiny_causal_lm; make_tiny_causal_lm({target.model_dir!r})"
    run_store_job(target, api, "e2e-tiny-model", script, env={"HF_HUB_OFFLINE": "1"}, timeout=timeout)


def release_artifact_claim(target: ClusterTarget, api: client.ApiClient, namespace: str) -> None:
    """Remove the copy of the artifact volume the operator made for a deleted project namespace.

    The copy keeps the shared data (reclaim policy Retain); only the PersistentVolume object goes."""
    core = client.CoreV1Api(api)
    volume = core.read_namespaced_persistent_volume_claim(target.artifact_claim, target.namespace).spec.volume_name
    try:
        core.delete_persistent_volume(f"{volume}-{namespace}")
    except client.ApiException as exc:
        if exc.status != 404:
            raise

"""The whole flow on the embedded platform, through REST alone (what `make demo` runs).

A tiny Llama-style model is made here; the trainer and the server really run as pods of the
local node. Asserts: the loss fell; the trainer pod wrote its status fields under its own
restricted service account; the InferenceService became Ready and answered; deleting the project
removed everything; no process is left behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import psutil
from kubernetes import client, watch

from kubetune.crd import GROUP, VERSION
from kubetune.crd import labels as lbl
from kubetune.localdev.clients import client_configuration
from kubetune.localdev.demo import run_flow
from kubetune.localdev.platform import LocalPlatform

TRAINER_FIELDS = {"f:progress", "f:history", "f:summary", "f:output", "f:metrics"}


def _can(auth: client.AuthorizationV1Api, user: str, namespace: str, verb: str, resource: str,
         name: str, subresource: str = "", group: str = GROUP) -> bool:
    review = auth.create_subject_access_review({
        "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {"user": user, "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"],
                 "resourceAttributes": {"namespace": namespace, "verb": verb, "group": group,
                                        "resource": resource, "subresource": subresource, "name": name}}})
    return bool(review.status.allowed)


def _trainer_owned_fields(training: dict[str, Any]) -> set[str]:
    owned: set[str] = set()
    for entry in training["metadata"].get("managedFields", []):
        if entry.get("manager") == "kubetune-train" and entry.get("subresource") == "status":
            owned |= set(entry["fieldsV1"].get("f:status", {}))
    return owned


def test_dataset_to_served_model(tmp_path: Path) -> None:
    me = psutil.Process()
    with LocalPlatform.start(tmp_path) as platform:
        seen = run_flow(platform, tmp_path)
        ns = seen["project"]["namespace"]
        name = seen["training"]["resource_name"]

        # The loss fell, on the curve the API serves and in the PNG written from it.
        metrics = seen["curve"]["metrics"]
        assert metrics["final_loss"] < metrics["initial_loss"]
        assert Path(seen["png"]).stat().st_size > 1000
        # The server answered both the seed 002 scorer and seed 003's generate.
        assert 0.0 <= seen["infer"]["score"] <= 1.0
        assert seen["generate"]["usage"]["completion_tokens"] >= 1

        with client.ApiClient(client_configuration(platform.control_plane.kubeconfig)) as api:
            objs = client.CustomObjectsApi(api)
            training = objs.get_namespaced_custom_object(GROUP, VERSION, ns, "trainings", name)
            # The trainer pod wrote its fields, as the field manager "kubetune-train"...
            owned = _trainer_owned_fields(training)
            assert owned >= TRAINER_FIELDS, training["metadata"]["managedFields"]
            # ...using the Training's own service account, which may patch only this Training's status.
            job = client.BatchV1Api(api).read_namespaced_job(lbl.training_job_name(name), ns)
            account = job.spec.template.spec.service_account_name
            assert account == lbl.training_service_account_name(name)
            user = f"system:serviceaccount:{ns}:{account}"
            auth = client.AuthorizationV1Api(api)
            assert _can(auth, user, ns, "patch", "trainings", name, "status")
            assert not _can(auth, user, ns, "patch", "trainings", "another-training", "status")
            assert not _can(auth, user, ns, "patch", "trainings", name)  # not the spec
            assert not _can(auth, user, ns, "get", "secrets", "", group="")

            isvc = objs.get_namespaced_custom_object(GROUP, VERSION, ns, "inferenceservices",
                                                     seen["model_id"].split("/", 1)[1])
            assert isvc["status"]["phase"] == "Ready"
            pods_before = [p for p in platform.node.processes() if psutil.pid_exists(p)]
            assert pods_before, "the inference server should be running as a pod process"

            # Deleting the project deletes its namespace and, through garbage collection, everything.
            token = platform.admin_token()
            resp = httpx.delete(f"{platform.api_url}/api/v1/projects/{seen['project']['id']}",
                                headers={"Authorization": f"Bearer {token}"}, timeout=60)
            assert resp.status_code in (200, 204), resp.text
            core = client.CoreV1Api(api)
            w = watch.Watch()
            for event in w.stream(core.list_namespace, field_selector=f"metadata.name={ns}", timeout_seconds=300):
                if event["type"] == "DELETED":
                    w.stop()
                    break
            else:
                raise AssertionError(f"namespace {ns} was not deleted")
            _, alive = psutil.wait_procs([psutil.Process(p) for p in pods_before if psutil.pid_exists(p)],
                                         timeout=60)
            assert alive == [], "pod processes outlived their namespace"

    # Nothing of the platform outlives it: no control-plane component, no pod process.
    leftovers = [p for p in me.children(recursive=True) if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert leftovers == [], [(p.pid, p.name()) for p in leftovers]

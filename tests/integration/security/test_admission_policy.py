"""The chart's ValidatingAdmissionPolicies on the real API server: the platform's own accounts stay in projects.

The chart's policies and ServiceAccounts are rendered with helm and applied to the local control
plane. Both accounts are then granted broad RBAC on purpose (a test-only ClusterRole): whatever is
refused below is refused by the admission policy alone, with its message, and what passes shows
the policy lets the platform do its work in project namespaces. Every write is a server-side dry
run: admission runs in full, nothing is stored.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from admission_checks import assert_refused, refusal, until_enforced
from kube_waits import wait_for
from kubernetes import client

from kubetune.chart.helm import helm_path, template
from kubetune.crd import labels as lbl
from kubetune.localdev.controlplane import ControlPlane
from kubetune.localdev.facade_identity import service_account_client

pytestmark = pytest.mark.integration
DRY = "All"
NOTHING = f"kubetune-test-nothing-{uuid.uuid4().hex[:8]}"  # a Role that grants nothing
WRITES = {  # what the test-only ClusterRole lets both accounts try
    "": ["namespaces", "configmaps", "serviceaccounts", "persistentvolumes", "resourcequotas"],
    "batch": ["jobs"], "apps": ["deployments"], "rbac.authorization.k8s.io": ["rolebindings"],
}


@dataclass
class Setup:
    release: str
    system: str  # the release namespace
    project: str  # labelled kubetune.io/project
    other: str  # an ordinary namespace
    operator: client.ApiClient
    api: client.ApiClient
    claim: str


def _create(admin: client.ApiClient, doc: dict[str, Any]) -> None:
    admission = client.AdmissionregistrationV1Api(admin)
    if doc["kind"] == "ServiceAccount":
        client.CoreV1Api(admin).create_namespaced_service_account(doc["metadata"]["namespace"], doc)
    elif doc["kind"] == "ValidatingAdmissionPolicy":
        admission.create_validating_admission_policy(doc)
    else:
        admission.create_validating_admission_policy_binding(doc)


@pytest.fixture(scope="module")
def setup(control_plane: ControlPlane, api_client: client.ApiClient) -> Iterator[Setup]:
    tag = uuid.uuid4().hex[:8]
    release, system, project, other = f"vap{tag}", f"vap-sys-{tag}", f"vap-proj-{tag}", f"vap-other-{tag}"
    core, rbac = client.CoreV1Api(api_client), client.RbacAuthorizationV1Api(api_client)
    admission = client.AdmissionregistrationV1Api(api_client)
    core.create_namespace({"metadata": {"name": system}})
    core.create_namespace({"metadata": {"name": project, "labels": {lbl.PROJECT: project}}})
    core.create_namespace({"metadata": {"name": other}})
    rendered = [d for d in yaml.safe_load_all(template(release, system, helm=helm_path())) if d]
    wanted = [d for d in rendered if d["kind"] in ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")
              or (d["kind"] == "ServiceAccount")]
    assert {d["kind"] for d in wanted} == {"ServiceAccount", "ValidatingAdmissionPolicy",
                                           "ValidatingAdmissionPolicyBinding"}
    for doc in wanted:
        _create(api_client, doc)
    accounts = {d["metadata"]["labels"]["app.kubernetes.io/component"]: d["metadata"]["name"]
                for d in wanted if d["kind"] == "ServiceAccount"}
    broad = f"{release}-test-broad"
    rbac.create_cluster_role({"metadata": {"name": broad}, "rules": [
        {"apiGroups": [group], "resources": resources, "verbs": ["create", "update", "patch", "delete"]}
        for group, resources in WRITES.items()]})
    rbac.create_cluster_role_binding({"metadata": {"name": broad},
                                      "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                                  "name": broad},
                                      "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": system}
                                                   for sa in accounts.values()]})
    for ns in (project, other, "kube-system"):  # a RoleBinding may grant only what its writer holds: nothing
        rbac.create_namespaced_role(ns, {"metadata": {"name": NOTHING}, "rules": []})
    policies = [d["metadata"]["name"] for d in wanted if d["kind"] == "ValidatingAdmissionPolicy"]
    for name in policies:  # type-checked by the API server
        wait_for(admission.list_validating_admission_policy, lambda o: (o.get("status") or {}).get(
            "observedGeneration") == o["metadata"]["generation"], field_selector=f"metadata.name={name}")
    operator = service_account_client(api_client, system, accounts["operator"])
    api = service_account_client(api_client, system, accounts["api"])
    claim = f"{release}-kubetune-artifacts"
    state = Setup(release, system, project, other, operator, api, claim)
    until_enforced(lambda: client.BatchV1Api(operator).create_namespaced_job(other, _job(), dry_run=DRY))
    until_enforced(lambda: client.CoreV1Api(api).delete_namespace(other, dry_run=DRY))
    yield state
    operator.close()
    api.close()
    for name in policies:
        admission.delete_validating_admission_policy_binding(name)
        admission.delete_validating_admission_policy(name)
    rbac.delete_cluster_role_binding(broad)
    rbac.delete_cluster_role(broad)
    rbac.delete_namespaced_role(NOTHING, "kube-system")
    for ns in (system, project, other):
        core.delete_namespace(ns)


def _job() -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "train"},
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                                           "containers": [{"name": "t", "image": "busybox"}]}}}}


def _deployment() -> dict[str, Any]:
    labels = {"app": "server"}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "server"},
            "spec": {"selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "s", "image": "busybox"}]}}}}


def _volume(name: str, namespace: str, claim: str, labels: dict[str, str] | None = None,
            source: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": name, "labels": labels or {}},
            "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteMany"],
                     "persistentVolumeReclaimPolicy": "Retain",
                     **(source or {"nfs": {"server": "10.0.0.5", "path": "/exports/kubetune"}}),
                     "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": namespace,
                                  "name": claim}}}


CHILD_WRITES: dict[str, Callable[[client.ApiClient, str], Any]] = {
    "jobs": lambda c, ns: client.BatchV1Api(c).create_namespaced_job(ns, _job(), dry_run=DRY),
    "deployments": lambda c, ns: client.AppsV1Api(c).create_namespaced_deployment(ns, _deployment(), dry_run=DRY),
    "serviceaccounts": lambda c, ns: client.CoreV1Api(c).create_namespaced_service_account(
        ns, {"metadata": {"name": "trainer"}}, dry_run=DRY),
    "resourcequotas": lambda c, ns: client.CoreV1Api(c).create_namespaced_resource_quota(
        ns, {"metadata": {"name": "kubetune"}, "spec": {"hard": {"pods": "10"}}}, dry_run=DRY),
    "rolebindings": lambda c, ns: client.RbacAuthorizationV1Api(c).create_namespaced_role_binding(ns, {
        "metadata": {"name": "trainer"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": NOTHING},
        "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": ns}]}, dry_run=DRY),
}


@pytest.mark.parametrize("resource", sorted(CHILD_WRITES))
def test_the_operator_writes_children_only_in_project_namespaces(setup: Setup, resource: str) -> None:
    write = CHILD_WRITES[resource]
    assert_refused(lambda: write(setup.operator, setup.other),
                   f"the operator may write {resource} only in project namespaces")
    assert_refused(lambda: write(setup.operator, "kube-system"), "kube-system is not one")
    assert refusal(lambda: write(setup.operator, setup.project)) is None


def test_the_policy_leaves_other_accounts_to_their_rbac(setup: Setup, api_client: client.ApiClient) -> None:
    assert refusal(lambda: CHILD_WRITES["jobs"](api_client, setup.other)) is None


def test_the_operator_may_create_only_artifact_volume_copies(setup: Setup) -> None:
    core = client.CoreV1Api(setup.operator)
    copy_labels = {lbl.MANAGED_BY: lbl.MANAGER, lbl.COMPONENT: "artifacts"}
    copy = _volume(f"pv-abc-{setup.project}", setup.project, setup.claim, copy_labels)
    assert refusal(lambda: core.create_persistent_volume(copy, dry_run=DRY)) is None
    message = "may write PersistentVolumes only as copies of the artifact volume"
    host_root = _volume(f"steal-{setup.project}", setup.project, setup.claim, source={"hostPath": {"path": "/"}})
    assert_refused(lambda: core.create_persistent_volume(host_root, dry_run=DRY), message)  # no labels
    other_claim = _volume(f"pv-abc-{setup.project}", setup.project, "someone-elses-claim", copy_labels)
    assert_refused(lambda: core.create_persistent_volume(other_claim, dry_run=DRY), message)
    misnamed = _volume("pv-abc-elsewhere", setup.project, setup.claim, copy_labels)
    assert_refused(lambda: core.create_persistent_volume(misnamed, dry_run=DRY), message)
    deleting = _volume(f"pv-abc-{setup.project}", setup.project, setup.claim, copy_labels)
    deleting["spec"]["persistentVolumeReclaimPolicy"] = "Delete"
    assert_refused(lambda: core.create_persistent_volume(deleting, dry_run=DRY), message)


def test_the_operator_patches_only_project_namespaces_and_creates_or_deletes_none(setup: Setup) -> None:
    core = client.CoreV1Api(setup.operator)
    message = "the operator may change only project namespaces"
    finalizer = {"metadata": {"finalizers": ["kubetune.io/artifacts"]}}
    assert refusal(lambda: core.patch_namespace(setup.project, finalizer, dry_run=DRY)) is None
    assert_refused(lambda: core.patch_namespace(setup.other, finalizer, dry_run=DRY), message)
    assert_refused(lambda: core.patch_namespace(setup.project, {"metadata": {"labels": {lbl.PROJECT: None}}},
                                                dry_run=DRY), message)
    assert_refused(lambda: core.delete_namespace(setup.project, dry_run=DRY), message)


def test_the_api_deletes_and_patches_only_project_namespaces(setup: Setup) -> None:
    core = client.CoreV1Api(setup.api)
    message = "the api may create, change or delete only project namespaces"
    assert_refused(lambda: core.delete_namespace(setup.other, dry_run=DRY), message)
    assert_refused(lambda: core.delete_namespace(setup.system, dry_run=DRY), message)  # its own, too
    assert_refused(lambda: core.patch_namespace(setup.other, {"metadata": {"annotations": {"x": "y"}}},
                                                dry_run=DRY), message)
    # Labelling a namespace as a project would make it the api's to delete: that is a change to a non-project.
    assert_refused(lambda: core.patch_namespace(setup.other, {"metadata": {"labels": {lbl.PROJECT: "mine"}}},
                                                dry_run=DRY), message)
    assert_refused(lambda: core.create_namespace({"metadata": {"name": f"plain-{setup.release}"}}, dry_run=DRY),
                   message)
    assert refusal(lambda: core.patch_namespace(setup.project, {"metadata": {"annotations": {lbl.NUMERIC_ID: "7"}}},
                                                dry_run=DRY)) is None  # its one change (test_project_namespace_policy)
    assert refusal(lambda: core.delete_namespace(setup.project, dry_run=DRY)) is None
    assert refusal(lambda: core.create_namespace(
        {"metadata": {"name": f"new-{setup.release}", "labels": {lbl.PROJECT: "new"}}}, dry_run=DRY)) is None
    # Nor may it strip the label from a project (making it a namespace nobody governs).
    assert_refused(lambda: core.patch_namespace(setup.project, {"metadata": {"labels": {lbl.PROJECT: None}}},
                                                dry_run=DRY), message)


def test_the_api_writes_no_config_map_in_kube_system(setup: Setup) -> None:
    core = client.CoreV1Api(setup.api)

    def config_map(ns: str) -> Callable[[], Any]:
        return lambda: core.create_namespaced_config_map(ns, {"metadata": {"name": "kubetune-ids"}}, dry_run=DRY)

    assert_refused(config_map("kube-system"), "the api may write ConfigMaps only in project namespaces")
    assert_refused(config_map(setup.other), "not in " + setup.other)
    assert refusal(config_map(setup.project)) is None
    assert refusal(config_map(setup.system)) is None  # its own ids and counters


def test_the_control_plane_serves_admission_policies(api_client: client.ApiClient) -> None:
    groups = client.AdmissionregistrationV1Api(api_client).get_api_resources().resources
    assert {"validatingadmissionpolicies", "validatingadmissionpolicybindings"} <= {r.name for r in groups}

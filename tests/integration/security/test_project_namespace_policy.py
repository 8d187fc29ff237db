"""The chart's admission policies on the real API server: a project's Namespace metadata is the platform's.

A project admin (the chart's kubetune-project-admin role, bound as the operator binds an owner) may patch
their own Namespace, and the admission policy leaves them the display name and description only; the
platform's labels, annotations and finalizers are refused with the policy's message, while a platform
admin may change them. The facade's own account may only add the numeric-id annotation, to a Namespace or
a kubetune object. Writes are server-side dry runs where nothing needs to be stored.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from admission_checks import POLICY, assert_refused, impersonating, refusal, until_enforced
from kube_waits import wait_for
from kubernetes import client

from kubetune.chart.helm import helm_path, template
from kubetune.crd import labels as lbl
from kubetune.crd import project_roles as pr
from kubetune.crd.project_quota import REVISION_ANNOTATION
from kubetune.localdev.controlplane import ControlPlane
from kubetune.localdev.facade_identity import apply_project_roles, service_account_client
from kubetune.operator.cleanup import PROJECT_FINALIZER

pytestmark = pytest.mark.integration
DRY = "All"
PSA = "pod-security.kubernetes.io/enforce"


@dataclass
class Setup:
    project: str
    alice: client.ApiClient  # kubetune:user:alice, the project's admin
    root: client.ApiClient  # a platform admin (group kubetune:admins)
    facade: client.ApiClient  # the facade's ServiceAccount token


def _training(name: str) -> dict[str, Any]:
    return {"apiVersion": "kubetune.io/v1alpha1", "kind": "Training", "metadata": {"name": name},
            "spec": {"trainerRef": "any", "baseModel": "tiny",
                     "dataset": {"uri": "file:///data/chat.jsonl", "format": "openai_chat_jsonl"}}}


@pytest.fixture(scope="module")
def setup(control_plane: ControlPlane, api_client: client.ApiClient) -> Iterator[Setup]:
    tag = uuid.uuid4().hex[:8]
    release, system, project = f"nsp{tag}", f"nsp-sys-{tag}", f"nsp-proj-{tag}"
    core, rbac = client.CoreV1Api(api_client), client.RbacAuthorizationV1Api(api_client)
    admission = client.AdmissionregistrationV1Api(api_client)
    core.create_namespace({"metadata": {"name": system}})
    core.create_namespace({"metadata": {
        "name": project, "labels": {lbl.PROJECT: project, PSA: "baseline"},
        "annotations": {lbl.OWNER: "alice", lbl.NUMERIC_ID: "41", REVISION_ANNOTATION: "1",
                        lbl.DISPLAY_NAME: "Demo", lbl.DESCRIPTION: "before"}}})
    rendered = [d for d in yaml.safe_load_all(template(release, system, helm=helm_path())) if d]
    policies = [d for d in rendered if d["kind"] == POLICY]
    bindings = [d for d in rendered if d["kind"] == "ValidatingAdmissionPolicyBinding"]
    accounts = {d["metadata"]["labels"]["app.kubernetes.io/component"]: d["metadata"]["name"]
                for d in rendered if d["kind"] == "ServiceAccount"}
    core.create_namespaced_service_account(system, {"metadata": {"name": accounts["api"]}})
    for doc in policies:
        admission.create_validating_admission_policy(doc)
    for doc in bindings:
        admission.create_validating_admission_policy_binding(doc)
    # RBAC as a real install has it: the project roles, the owner bound as admin, and the facade's patch
    # right on Namespaces and kubetune objects (a test-only ClusterRole with just that).
    apply_project_roles(api_client)
    rbac.create_namespaced_role_binding(project, pr.role_binding(project, "admin", [pr.user_subject("alice")]))
    patcher = f"{release}-test-patch"
    rbac.create_cluster_role({"metadata": {"name": patcher}, "rules": [
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["patch"]},
        {"apiGroups": ["kubetune.io"], "resources": ["trainings"], "verbs": ["patch"]}]})
    rbac.create_cluster_role_binding({"metadata": {"name": patcher}, "roleRef": {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": patcher},
        "subjects": [{"kind": "ServiceAccount", "name": accounts["api"], "namespace": system}]})
    for name in (d["metadata"]["name"] for d in policies):  # type-checked by the API server
        wait_for(admission.list_validating_admission_policy, lambda o: (o.get("status") or {}).get(
            "observedGeneration") == o["metadata"]["generation"], field_selector=f"metadata.name={name}")
        checked = admission.read_validating_admission_policy(name).status
        assert not (checked.type_checking and checked.type_checking.expression_warnings), checked
    state = Setup(project, impersonating(control_plane, pr.USER_PREFIX + "alice", "kubetune:users"),
                  impersonating(control_plane, pr.USER_PREFIX + "root", pr.ADMINS_GROUP),
                  service_account_client(api_client, system, accounts["api"]))
    alice_core = client.CoreV1Api(state.alice)
    until_enforced(lambda: alice_core.patch_namespace(project, {"metadata": {"labels": {PSA: "privileged"}}},
                                                      dry_run=DRY))
    until_enforced(lambda: client.CoreV1Api(state.facade).patch_namespace(
        project, {"metadata": {"annotations": {lbl.OWNER: "mallory"}}}, dry_run=DRY))
    yield state
    for api in (state.alice, state.root, state.facade):
        api.close()
    for doc in bindings:
        admission.delete_validating_admission_policy_binding(doc["metadata"]["name"])
    for doc in policies:
        admission.delete_validating_admission_policy(doc["metadata"]["name"])
    rbac.delete_cluster_role_binding(patcher)
    rbac.delete_cluster_role(patcher)
    for ns in (system, project):
        core.delete_namespace(ns)


def _labels(**changes: str | None) -> dict[str, Any]:
    return {"metadata": {"labels": dict(changes)}}


def _annotations(changes: dict[str, str | None]) -> dict[str, Any]:
    return {"metadata": {"annotations": changes}}


@pytest.mark.parametrize("patch, named", [
    ({"metadata": {"labels": {lbl.PROJECT: None}}}, lbl.PROJECT),
    ({"metadata": {"labels": {lbl.PROJECT: "someone-elses"}}}, lbl.PROJECT),
    ({"metadata": {"labels": {PSA: "privileged"}}}, PSA),
    ({"metadata": {"labels": {PSA: None}}}, PSA),
    ({"metadata": {"labels": {"team": "mine"}}}, "team"),  # a label other namespaces' policies may select on
], ids=["project-removed", "project-changed", "psa-changed", "psa-removed", "label-added"])
def test_a_project_admin_may_not_change_the_namespaces_labels(setup: Setup, patch: dict[str, Any],
                                                              named: str) -> None:
    core = client.CoreV1Api(setup.alice)
    assert_refused(lambda: core.patch_namespace(setup.project, patch, dry_run=DRY),
                   "belong to the platform", named)


@pytest.mark.parametrize("changes", [
    {REVISION_ANNOTATION: "2"},
    {"kubetune.io/quota": '{"gpus": 64}'},
    {lbl.OWNER: "mallory"},
    {lbl.NUMERIC_ID: "1"},
    {lbl.NUMERIC_ID: None},
], ids=["quota-revision", "quota", "owner", "id-changed", "id-removed"])
def test_a_project_admin_may_not_change_the_platforms_annotations(setup: Setup, changes: dict[str, str | None]
                                                                  ) -> None:
    core = client.CoreV1Api(setup.alice)
    [key] = changes
    assert_refused(lambda: core.patch_namespace(setup.project, _annotations(changes), dry_run=DRY),
                   "may change only the annotations kubetune.io/display-name, kubetune.io/description", key)


def test_a_project_admin_may_not_drop_the_cleanup_finalizer(setup: Setup, api_client: client.ApiClient) -> None:
    client.CoreV1Api(api_client).patch_namespace(setup.project, {"metadata": {"finalizers": [PROJECT_FINALIZER]}})
    core = client.CoreV1Api(setup.alice)
    assert_refused(lambda: core.patch_namespace(setup.project, {"metadata": {"finalizers": None}}, dry_run=DRY),
                   "the finalizers and owners of project namespace")
    client.CoreV1Api(api_client).patch_namespace(setup.project, {"metadata": {"finalizers": None}})


def test_a_project_admin_renames_and_describes_the_project(setup: Setup, api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(setup.alice)
    changed = core.patch_namespace(setup.project, _annotations({lbl.DISPLAY_NAME: "Renamed",
                                                                lbl.DESCRIPTION: "after"}))
    assert changed.metadata.annotations[lbl.DESCRIPTION] == "after"
    stored = client.CoreV1Api(api_client).read_namespace(setup.project).metadata
    assert stored.annotations[lbl.DISPLAY_NAME] == "Renamed" and stored.annotations[lbl.OWNER] == "alice"
    assert stored.labels[PSA] == "baseline"


def test_a_platform_admin_may_change_them(setup: Setup) -> None:
    core = client.CoreV1Api(setup.root)
    for patch in (_labels(**{PSA: "restricted"}), _annotations({REVISION_ANNOTATION: "2", lbl.OWNER: "bob"}),
                  _labels(**{lbl.PROJECT: None})):
        assert refusal(lambda: core.patch_namespace(setup.project, patch, dry_run=DRY)) is None  # noqa: B023


def test_the_facade_may_only_add_the_numeric_id(setup: Setup, api_client: client.ApiClient) -> None:
    facade = client.CoreV1Api(setup.facade)
    message = f"the api may only add the annotation {lbl.NUMERIC_ID}"
    for patch in (_annotations({lbl.OWNER: "mallory"}), _annotations({REVISION_ANNOTATION: "9"}),
                  _annotations({lbl.DESCRIPTION: "x"}), _labels(**{PSA: "privileged"}),
                  _annotations({lbl.NUMERIC_ID: "7"}),  # an id once given never changes
                  {"metadata": {"finalizers": ["example.com/stuck"]}}):
        assert_refused(lambda: facade.patch_namespace(setup.project, patch, dry_run=DRY), message)  # noqa: B023

    custom_admin, custom = client.CustomObjectsApi(api_client), client.CustomObjectsApi(setup.facade)
    name = f"tr-{uuid.uuid4().hex[:6]}"
    custom_admin.create_namespaced_custom_object("kubetune.io", "v1alpha1", setup.project, "trainings", _training(name))

    def patch_training(body: dict[str, Any]) -> Callable[[], Any]:
        return lambda: custom.patch_namespaced_custom_object("kubetune.io", "v1alpha1", setup.project, "trainings",
                                                             name, body, dry_run=DRY)

    assert_refused(patch_training({"spec": {"baseModel": "other"}}), message, f"trainings {name}")
    assert_refused(patch_training(_annotations({lbl.OWNER: "mallory"})), message)
    assert_refused(patch_training(_labels(**{lbl.PROJECT: "elsewhere"})), message)
    assert refusal(patch_training(_annotations({lbl.NUMERIC_ID: "42"}))) is None
    custom_admin.delete_namespaced_custom_object("kubetune.io", "v1alpha1", setup.project, "trainings", name)

    plain = f"{setup.project}-unnumbered"
    client.CoreV1Api(api_client).create_namespace({"metadata": {"name": plain, "labels": {lbl.PROJECT: plain}}})
    try:
        assert refusal(lambda: facade.patch_namespace(plain, _annotations({lbl.NUMERIC_ID: "43"}),
                                                      dry_run=DRY)) is None
    finally:
        client.CoreV1Api(api_client).delete_namespace(plain)

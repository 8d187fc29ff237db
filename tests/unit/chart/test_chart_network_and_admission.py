"""The chart's NetworkPolicy settings, the operator RBAC they need, and the admission policy (helm template)."""

from __future__ import annotations

import base64
import json

import pytest
from chart_helpers import Render, env_of, find, one

from kubetune.operator.builders.network_policy import ProjectNetwork

pytestmark = pytest.mark.unit
OPERATOR_SA = "system:serviceaccount:kubetune-system:kt-kubetune-operator"
API_SA = "system:serviceaccount:kubetune-system:kt-kubetune-api"


def _operator_env(objects: list[dict[str, object]]) -> dict[str, object]:
    deployment = one(objects, "Deployment", "kt-kubetune-operator")
    return env_of(deployment["spec"]["template"]["spec"]["containers"][0])  # type: ignore[index]


def test_network_policies_are_on_by_default_and_the_operator_learns_the_facades_pods(render: Render) -> None:
    objects = render()
    assert {p["metadata"]["name"] for p in find(objects, "NetworkPolicy")} == {
        "kt-kubetune-operator", "kt-kubetune-api"}
    network = ProjectNetwork.model_validate_json(str(_operator_env(objects)["KUBETUNE_OPERATOR_PROJECT_NETWORK"]))
    api = one(objects, "Deployment", "kt-kubetune-api")
    assert network.facade_namespace == "kubetune-system"
    assert network.facade_pod_labels == api["spec"]["selector"]["matchLabels"]
    pod_labels = api["spec"]["template"]["metadata"]["labels"]
    assert all(pod_labels[k] == v for k, v in network.facade_pod_labels.items())
    assert network.api_server.cidrs == [] and network.api_server.ports == [443, 6443]
    assert network.hub.rule() is None and network.store.rule() is None and network.dns


def test_hub_and_store_targets_reach_the_operator(render: Render) -> None:
    objects = render({"networkPolicy.projects.hub.cidrs[0]": "203.0.113.0/24",
                      "networkPolicy.projects.hub.ports[0]": "443",
                      "networkPolicy.projects.apiServer.cidrs[0]": "172.18.0.2/32",
                      "networkPolicy.projects.dns": "false"})
    network = ProjectNetwork.model_validate_json(str(_operator_env(objects)["KUBETUNE_OPERATOR_PROJECT_NETWORK"]))
    assert network.hub.rule() == {"to": [{"ipBlock": {"cidr": "203.0.113.0/24"}}],
                                  "ports": [{"protocol": "TCP", "port": 443}]}
    assert network.api_server.cidrs == ["172.18.0.2/32"] and not network.dns


def test_operator_rbac_for_project_policies(render: Render) -> None:
    rules = one(render(), "ClusterRole", "kt-kubetune-operator")["rules"]
    policies = [r for r in rules if "networkpolicies" in r["resources"]]
    assert policies and set(policies[0]["verbs"]) == {"get", "create", "update"}
    lookup = [r for r in rules if "endpoints" in r["resources"]]
    assert lookup[0]["resourceNames"] == ["kubernetes"] and lookup[0]["verbs"] == ["get"]
    assert any(r["resources"] == ["namespaces"] and set(r["verbs"]) == {"get", "list", "watch"} for r in rules)
    secrets = [r for r in rules if "secrets" in r["resources"]]
    assert [r["verbs"] for r in secrets] == [["create"]]  # server key Secrets: created, never read


def test_switched_off_there_are_no_policies_no_settings_and_no_rights(render: Render) -> None:
    objects = render({"networkPolicy.enabled": "false"})
    assert find(objects, "NetworkPolicy") == []
    assert "KUBETUNE_OPERATOR_PROJECT_NETWORK" not in _operator_env(objects)
    rules = one(objects, "ClusterRole", "kt-kubetune-operator")["rules"]
    assert not [r for r in rules if "networkpolicies" in r["resources"] or "endpoints" in r["resources"]]


def test_the_serving_key_is_in_the_auth_secret_shared_by_operator_and_api(render: Render) -> None:
    objects = render()
    secret = one(objects, "Secret", "kt-kubetune-auth")
    assert len(base64.b64decode(secret["data"]["serving-key"])) == 64
    ref = {"secretKeyRef": {"name": "kt-kubetune-auth", "key": "serving-key", "optional": True}}
    assert _operator_env(objects)["KUBETUNE_OPERATOR_SERVING_KEY_SECRET"] == ref
    api = one(objects, "Deployment", "kt-kubetune-api")
    assert env_of(api["spec"]["template"]["spec"]["containers"][0])["KUBETUNE_API_SERVING_KEY_SECRET"] == ref
    mine = render({"auth.existingSecret": "corp-auth"})
    assert _operator_env(mine)["KUBETUNE_OPERATOR_SERVING_KEY_SECRET"]["secretKeyRef"]["name"] == "corp-auth"  # type: ignore[index]


def test_admission_policies_match_exactly_the_platforms_service_accounts(render: Render) -> None:
    objects = render()
    accounts = {f"system:serviceaccount:kubetune-system:{sa['metadata']['name']}"
                for sa in find(objects, "ServiceAccount")}
    policies = {p["metadata"]["name"]: p for p in find(objects, "ValidatingAdmissionPolicy")}
    assert set(policies) == {"kt-kubetune-operator-scope", "kt-kubetune-api-scope", "kt-kubetune-project-namespaces",
                             "kt-kubetune-training-fit"}  # the last: tests/integration/crd/test_training_admission.py
    for name, user in (("kt-kubetune-operator-scope", OPERATOR_SA), ("kt-kubetune-api-scope", API_SA)):
        spec = policies[name]["spec"]
        assert user in accounts
        [condition] = spec["matchConditions"]
        assert condition["expression"] == f"request.userInfo.username == '{user}'"
        assert spec["failurePolicy"] == "Fail"
        assert all(v["reason"] == "Forbidden" for v in spec["validations"])
        binding = one(objects, "ValidatingAdmissionPolicyBinding", name)
        assert binding["spec"] == {"policyName": name, "validationActions": ["Deny"]}


def test_the_operator_policy_covers_every_child_kind_it_writes(render: Render) -> None:
    spec = one(render(), "ValidatingAdmissionPolicy", "kt-kubetune-operator-scope")["spec"]
    covered = {r for rule in spec["matchConstraints"]["resourceRules"] for r in rule["resources"]}
    assert {"jobs", "deployments", "serviceaccounts", "rolebindings", "roles", "secrets", "services",
            "configmaps", "persistentvolumeclaims", "persistentvolumes", "poddisruptionbudgets",
            "networkpolicies", "namespaces", "resourcequotas", "limitranges"} <= covered
    namespace_rule, volume_rule, projects_rule = (v["expression"] for v in spec["validations"])
    assert "namespaceObject" in namespace_rule and "'kubetune.io/project' in" in namespace_rule
    assert "object.spec.claimRef.name == 'kt-kubetune-artifacts'" in volume_rule
    assert "request.operation == 'UPDATE'" in projects_rule and "oldObject.metadata.labels" in projects_rule


def test_with_an_object_store_the_operator_may_write_no_persistent_volume(render: Render) -> None:
    spec = one(render({"storage.type": "s3", "storage.s3.bucket": "b"}), "ValidatingAdmissionPolicy",
               "kt-kubetune-operator-scope")["spec"]
    volume_rule = spec["validations"][1]["expression"]
    assert "(false) && (request.operation == 'CREATE' || (false))" in volume_rule


def test_the_api_policy_names_its_own_namespace_and_kube_system(render: Render) -> None:
    spec = one(render(), "ValidatingAdmissionPolicy", "kt-kubetune-api-scope")["spec"]
    namespaces, config_maps, ids_only = (v["expression"] for v in spec["validations"])
    assert "'kubetune.io/id'" in ids_only and "variables.sameSpec" in ids_only
    assert "oldObject.metadata.labels" in namespaces and "object.metadata.labels" in namespaces
    assert "request.namespace != 'kube-system'" in config_maps
    assert "request.namespace == 'kubetune-system'" in config_maps


def test_project_namespaces_keep_their_platform_metadata_for_all_but_the_platform(render: Render) -> None:
    spec = one(render(), "ValidatingAdmissionPolicy", "kt-kubetune-project-namespaces")["spec"]
    project, not_platform = (c["expression"] for c in spec["matchConditions"])
    assert "'kubetune.io/project' in oldObject.metadata.labels" in project
    assert OPERATOR_SA in not_platform and API_SA in not_platform and "'kubetune:admins'" in not_platform
    editable = next(v["expression"] for v in spec["variables"] if v["name"] == "editable")
    assert editable == "['kubetune.io/display-name', 'kubetune.io/description']"
    assert spec["matchConstraints"]["resourceRules"] == [
        {"apiGroups": [""], "apiVersions": ["*"], "resources": ["namespaces"], "operations": ["UPDATE"]}]


def test_admission_policy_can_be_switched_off(render: Render) -> None:
    objects = render({"admissionPolicy.enabled": "false"})
    assert [p["metadata"]["name"] for p in find(objects, "ValidatingAdmissionPolicy")] == ["kt-kubetune-training-fit"]
    none = render({"admissionPolicy.enabled": "false", "admissionPolicy.trainingFit": "false"})
    assert find(none, "ValidatingAdmissionPolicy") == [] and find(none, "ValidatingAdmissionPolicyBinding") == []
    # The operator works outside projects only when no policy would refuse its children there.
    assert _operator_env(objects)["KUBETUNE_OPERATOR_PROJECTS_ONLY"] == "false"
    assert _operator_env(render())["KUBETUNE_OPERATOR_PROJECTS_ONLY"] == "true"


def test_the_rendered_settings_json_is_what_the_operator_parses(render: Render) -> None:
    raw = json.loads(str(_operator_env(render())["KUBETUNE_OPERATOR_PROJECT_NETWORK"]))
    assert set(raw) == {"facadeNamespace", "facadePodLabels", "apiServer", "store", "hub", "tracking", "dns",
                        "metricsScrapers"}
    network = ProjectNetwork.model_validate(raw)
    # KEDA's operator, where its release puts it, may read the servers' metrics by default.
    assert network.metrics_scrapers == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}},
                                         "podSelector": {"matchLabels": {"app": "keda-operator"}}}]

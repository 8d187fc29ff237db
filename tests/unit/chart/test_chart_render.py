"""`helm template` with the values a platform team changes: what comes out, and what is refused."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from chart_helpers import Render, env_of, find, helm_template, one

from kubetune.crd.crd_yaml import crd_for
from kubetune.crd.kinds import ALL_KINDS
from kubetune.crd.trainer import TrainerSpec
from kubetune.operator.settings import Settings as OperatorSettings

pytestmark = pytest.mark.unit


def test_defaults_render_every_component(render: Render) -> None:
    objects = render()
    kinds = sorted({o["kind"] for o in objects})
    assert kinds == ["ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "Deployment",
                     "NetworkPolicy", "PersistentVolumeClaim", "Role", "RoleBinding", "Secret", "Service",
                     "ServiceAccount", "Trainer", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
                     "ValidatingWebhookConfiguration"]
    assert {o["metadata"]["name"] for o in find(objects, "Deployment")} == {"kt-kubetune-operator", "kt-kubetune-api"}
    assert not find(objects, "Ingress")


def test_crds_are_the_generated_ones_with_the_keep_policy(render: Render) -> None:
    crds = {o["metadata"]["name"]: o for o in find(render(), "CustomResourceDefinition")}
    assert sorted(crds) == sorted(k.crd_name for k in ALL_KINDS)
    for kind in ALL_KINDS:
        assert crds[kind.crd_name]["spec"] == crd_for(kind)["spec"]
        assert crds[kind.crd_name]["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}


def test_crds_can_be_left_out_or_left_to_helm(render: Render) -> None:
    assert find(render({"crds.enabled": "false"}), "CustomResourceDefinition") == []
    for crd in find(render({"crds.keep": "false"}), "CustomResourceDefinition"):
        assert "annotations" not in crd["metadata"]


def test_operator_pod_is_locked_down_and_probed(render: Render) -> None:
    deploy = one(render(), "Deployment", "kt-kubetune-operator")
    pod = deploy["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"metrics": 9090, "health": 8081,
                                                                           "webhook": 9443}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["port"] == "metrics"
    assert container["resources"]["limits"]["memory"] == "1Gi"
    assert pod["serviceAccountName"] == "kt-kubetune-operator"
    # The artifact store is writable: the project and Training finalizers remove artifacts.
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert not mounts["artifacts"].get("readOnly", False)
    # ... and so is the claim: a read-only claim makes every mount read-only (seen on real kubelets).
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert not volumes["artifacts"]["persistentVolumeClaim"].get("readOnly", False)


def test_operator_env_is_read_by_its_settings(render: Render, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every KUBETUNE_OPERATOR_* the chart sets parses into the operator's own Settings."""
    container = one(render({"operator.watchNamespaces[0]": "team-a",
                            "operator.defaultTtlSecondsAfterFinished": "600"}),
                    "Deployment", "kt-kubetune-operator")["spec"]["template"]["spec"]["containers"][0]
    env = env_of(container)
    for name, value in env.items():
        if isinstance(value, str):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("KUBETUNE_OPERATOR_POD_NAMESPACE", "kubetune-system")  # a fieldRef in the pod
    settings = OperatorSettings()
    known = {f"KUBETUNE_OPERATOR_{name.upper()}" for name in OperatorSettings.model_fields}
    assert set(env) <= known, set(env) - known
    assert settings.namespaces == ["team-a"]
    assert settings.runtime_image == "ghcr.io/kubetune/runtime:0.1.0"
    assert settings.artifact_pvc == "kt-kubetune-artifacts"
    assert settings.lease_name == "kt-kubetune-operator"
    assert settings.default_ttl_seconds_after_finished == 600
    assert settings.run_as_user == 10001


def test_more_replicas_need_leader_election(helm: Path, render: Render) -> None:
    deploy = one(render({"operator.replicas": "3"}), "Deployment", "kt-kubetune-operator")
    assert deploy["spec"]["replicas"] == 3
    assert env_of(deploy["spec"]["template"]["spec"]["containers"][0])["KUBETUNE_OPERATOR_LEADER_ELECTION"] == "true"
    done = helm_template(helm, {"operator.replicas": "2", "operator.leaderElection.enabled": "false"})
    assert done.returncode != 0 and "needs operator.leaderElection.enabled=true" in done.stderr
    single = one(render({"operator.leaderElection.enabled": "false"}), "Deployment", "kt-kubetune-operator")
    assert single["spec"]["strategy"]["type"] == "Recreate"


def test_lease_role_is_limited_to_the_operators_lease(render: Render) -> None:
    role = one(render(), "Role", "kt-kubetune-operator")
    named = [r for r in role["rules"] if "resourceNames" in r]
    assert named == [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                      "resourceNames": ["kt-kubetune-operator"], "verbs": ["get", "update"]}]


def test_ingress(render: Render) -> None:
    objects = render({"api.ingress.enabled": "true", "api.ingress.host": "tune.example.org",
                      "api.ingress.className": "nginx", "api.ingress.tls.enabled": "true"})
    ingress = one(objects, "Ingress")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["rules"][0]["host"] == "tune.example.org"
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "kt-kubetune-api", "port": {"name": "http"}}
    assert ingress["spec"]["tls"] == [{"hosts": ["tune.example.org"], "secretName": "kt-kubetune-api-tls"}]


def test_s3_storage_replaces_the_volume(render: Render) -> None:
    objects = render({"storage.type": "s3", "storage.s3.bucket": "models", "storage.s3.prefix": "/team/",
                      "storage.s3.endpoint": "http://minio:9000", "storage.s3.accessKeyId": "AKIA",
                      "storage.s3.secretAccessKey": "shh"})
    assert find(objects, "PersistentVolumeClaim") == []
    secret = one(objects, "Secret", "kt-kubetune-s3")
    assert base64.b64decode(secret["data"]["AWS_ACCESS_KEY_ID"]) == b"AKIA"
    api = one(objects, "Deployment", "kt-kubetune-api")["spec"]["template"]["spec"]
    env = env_of(api["containers"][0])
    assert env["KUBETUNE_API_STORAGE_ROOT"] == "s3://models/team"
    assert env["AWS_ENDPOINT_URL"] == "http://minio:9000"
    assert env["AWS_SECRET_ACCESS_KEY"] == {"secretKeyRef": {"name": "kt-kubetune-s3", "key": "AWS_SECRET_ACCESS_KEY"}}
    assert all(v["name"] != "artifacts" for v in api["volumes"])
    operator = one(objects, "Deployment", "kt-kubetune-operator")["spec"]["template"]["spec"]["containers"][0]
    assert env_of(operator)["KUBETUNE_OPERATOR_ARTIFACT_PVC"] == ""
    # The operator copies these credentials next to each Training (pods cannot read other namespaces').
    assert env_of(operator)["KUBETUNE_OPERATOR_OBJECT_STORE_SECRET"] == "kt-kubetune-s3"
    # The operator confines s3:// references to the same root the facade writes under.
    assert env_of(operator)["KUBETUNE_OPERATOR_OBJECT_STORE_ROOT"] == "s3://models/team"
    assert env_of(operator)["KUBETUNE_OPERATOR_OBJECT_STORE_ENDPOINT"] == "http://minio:9000"
    for trainer in find(objects, "Trainer"):
        assert {"name": "AWS_ENDPOINT_URL", "value": "http://minio:9000"} in trainer["spec"]["env"]


@pytest.mark.parametrize("values, message", [
    ({"storage.type": "s3"}, "needs storage.s3.bucket"),
    ({"storage.type": "s3", "storage.s3.bucket": "b", "storage.s3.existingSecret": "s",
      "storage.s3.accessKeyId": "a", "storage.s3.secretAccessKey": "b"}, "not both"),
    ({"storage.type": "s3", "storage.s3.bucket": "b", "storage.s3.accessKeyId": "a"}, "go together"),
    ({"auth.existingSecret": "mine", "auth.adminPassword": "a-long-password"}, "not both"),
    ({"auth.adminPassword": "short"}, "at least 12 characters"),
    ({"api.enabled": "false", "api.ingress.enabled": "true"}, "needs api.enabled"),
    ({"trainers.lora.enabled": "false"}, "api.defaultTrainer is lora"),
    ({"operator.metricsPort": "8081"}, "must differ"),
])
def test_contradictory_values_fail_with_a_reason(helm: Path, values: dict[str, str], message: str) -> None:
    done = helm_template(helm, values)
    assert done.returncode != 0
    assert message in done.stderr


def test_generated_auth_secret_and_existing_secret(render: Render) -> None:
    secret = one(render(), "Secret", "kt-kubetune-auth")
    assert len(base64.b64decode(secret["data"]["jwt-secret"])) == 64
    assert len(base64.b64decode(secret["data"]["admin-password"])) == 24
    chosen = one(render({"auth.adminPassword": "correct-horse-battery"}), "Secret", "kt-kubetune-auth")
    assert base64.b64decode(chosen["data"]["admin-password"]) == b"correct-horse-battery"

    objects = render({"auth.existingSecret": "corp-auth"})
    assert [s["metadata"]["name"] for s in find(objects, "Secret")] == ["kt-kubetune-operator-webhook-tls"]
    env = env_of(one(objects, "Deployment", "kt-kubetune-api")["spec"]["template"]["spec"]["containers"][0])
    assert env["KUBETUNE_API_JWT_SECRET"] == {"secretKeyRef": {"name": "corp-auth", "key": "jwt-secret"}}
    assert env["KUBETUNE_API_BOOTSTRAP_ADMIN_PASSWORD"]["secretKeyRef"]["name"] == "corp-auth"


def test_default_trainers_are_valid_trainer_specs(render: Render) -> None:
    trainers = {t["metadata"]["name"]: t for t in find(render(), "Trainer")}
    assert sorted(trainers) == ["full", "lora", "qlora"]
    specs = {name: TrainerSpec.model_validate(t["spec"]) for name, t in trainers.items()}
    assert specs["qlora"].tasks == ["causal-lm"]
    assert {m.task for m in specs["qlora"].models} == {"causal-lm"}
    assert {m.task for m in specs["lora"].models} == {"causal-lm", "sequence-classification",
                                                      "image-classification"}
    names = {name: {p.name for p in spec.parameters} for name, spec in specs.items()}
    assert "lora_rank" in names["lora"] and "lora_rank" not in names["full"]
    assert all(spec.image == "ghcr.io/kubetune/runtime:0.1.0" for spec in specs.values())
    assert find(render({"trainers.enabled": "false", "api.defaultTrainer": "custom"}), "Trainer") == []


def test_service_monitor_and_network_policies(render: Render) -> None:
    objects = render({"metrics.serviceMonitor.enabled": "true", "metrics.serviceMonitor.labels.release": "prom",
                      "networkPolicy.enabled": "true"})
    monitor = one(objects, "ServiceMonitor", "kt-kubetune-operator")  # and the api's: test_chart_monitoring.py
    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    service = one(objects, "Service", "kt-kubetune-operator-metrics")
    assert all(service["spec"]["selector"][k] == v for k, v in monitor["spec"]["selector"]["matchLabels"].items())
    policies = {p["metadata"]["name"]: p for p in find(objects, "NetworkPolicy")}
    assert sorted(policies) == ["kt-kubetune-api", "kt-kubetune-operator"]
    assert policies["kt-kubetune-operator"]["spec"]["ingress"] == [{"ports": [{"port": "metrics"}]},
                                                                   {"ports": [{"port": "webhook"}]}]
    assert policies["kt-kubetune-api"]["spec"]["ingress"] == [{"ports": [{"port": "http"}]},
                                                             {"ports": [{"port": "metrics"}]}]


def test_names_fit_in_63_characters(render: Render) -> None:
    release = "a-release-name-as-long-as-helm-allows-fifty-three-chr"  # helm's limit is 53
    assert len(release) == 53
    objects = render(release=release) + render({"fullnameOverride": "f" * 63})
    for obj in objects:
        assert len(obj["metadata"]["name"]) <= 63, obj["metadata"]["name"]
    names = {o["metadata"]["name"] for o in find(objects, "Deployment")}
    assert all(n.endswith(("-operator", "-api")) for n in names) and len(names) == 4


def test_api_without_ingress_or_api(render: Render) -> None:
    objects = render({"api.enabled": "false"})
    assert [d["metadata"]["name"] for d in find(objects, "Deployment")] == ["kt-kubetune-operator"]
    assert [s["metadata"]["name"] for s in find(objects, "Secret")] == ["kt-kubetune-operator-webhook-tls"]


def test_api_env_is_read_by_its_settings(render: Render, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every KUBETUNE_API_* the chart sets is a real setting, and production settings accept them."""
    from kubetune.api.core.config import Settings as ApiSettings

    objects = render({"storage.type": "s3", "storage.s3.bucket": "models"})
    container = one(objects, "Deployment", "kt-kubetune-api")["spec"]["template"]["spec"]["containers"][0]
    env = env_of(container)
    known = {f"KUBETUNE_API_{name.upper()}" for name in ApiSettings.model_fields}
    api_env = {k: v for k, v in env.items() if k.startswith("KUBETUNE_API_")}
    assert set(api_env) <= known, set(api_env) - known
    for name, value in api_env.items():
        monkeypatch.setenv(name, value if isinstance(value, str) else "")
    # What the kubelet fills in from the auth Secret and the pod's namespace.
    monkeypatch.setenv("KUBETUNE_API_JWT_SECRET", "j" * 64)
    monkeypatch.setenv("KUBETUNE_API_BOOTSTRAP_ADMIN_PASSWORD", "p" * 24)
    monkeypatch.setenv("KUBETUNE_API_SYSTEM_NAMESPACE", "kubetune-system")
    settings = ApiSettings()
    assert settings.environment == "production"
    assert settings.storage_root == "s3://models/kubetune"
    assert settings.users_secret == "kt-kubetune-api-users"
    assert settings.max_upload_bytes == 1 << 30


def test_disruption_budgets_only_with_replicas(render: Render) -> None:
    assert find(render(), "PodDisruptionBudget") == []
    budgets = find(render({"operator.replicas": "2", "api.replicas": "3"}), "PodDisruptionBudget")
    assert sorted(b["metadata"]["name"] for b in budgets) == ["kt-kubetune-api", "kt-kubetune-operator"]
    assert all(b["spec"]["maxUnavailable"] == 1 for b in budgets)
    assert find(render({"api.replicas": "2", "api.enabled": "false"}), "PodDisruptionBudget") == []

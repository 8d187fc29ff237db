"""values.mlflow: the optional MLflow tracking server renders only when enabled, as a non-root one-replica
Deployment with its Service and a kept PVC holding the SQLite database and the proxied artifacts."""

from __future__ import annotations

from typing import Any

import pytest
from chart_helpers import Render, env_of, find, one

from kubetune.operator.builders.network_policy import Egress, ProjectNetwork, build_trainers_policy

pytestmark = pytest.mark.unit
ON = {"mlflow.enabled": "true"}


def _mlflow(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in find(objects, kind) if o["metadata"]["labels"].get("app.kubernetes.io/component") == "mlflow"]


def _args(deployment: dict[str, Any]) -> dict[str, str]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["mlflow"] and container["args"][0] == "server"
    return dict(a.removeprefix("--").split("=", 1) if "=" in a else (a.removeprefix("--"), "")
                for a in container["args"][1:])


def test_off_by_default(render: Render) -> None:
    objects = render()
    assert not [o for o in objects if "mlflow" in o["metadata"]["name"]]


def test_enabled_renders_a_non_root_server_with_service_and_kept_volume(render: Render) -> None:
    objects = render(ON)
    deployment, service, claim = (one(_mlflow(objects, k), k) for k in ("Deployment", "Service",
                                                                       "PersistentVolumeClaim"))
    name = deployment["metadata"]["name"]
    assert service["metadata"]["name"] == claim["metadata"]["name"] == name and name.endswith("-mlflow")
    spec = deployment["spec"]
    assert spec["replicas"] == 1 and spec["strategy"]["type"] == "Recreate"  # SQLite: one writer
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 1000
    assert pod["automountServiceAccountToken"] is False
    container = pod["containers"][0]
    assert container["image"] == "ghcr.io/mlflow/mlflow:v3.17.2"
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts == {"data": "/mlflow", "tmp": "/tmp"}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == name

    args = _args(deployment)
    assert args["backend-store-uri"] == "sqlite:////mlflow/mlflow.db"  # on the volume, not the image
    assert args["artifacts-destination"] == "/mlflow/artifacts" and "serve-artifacts" in args
    assert args["port"] == "5000" and args["host"] == "0.0.0.0"
    hosts = args["allowed-hosts"].split(",")
    assert {f"{name}.kubetune-system.svc:*", f"{name}:*", name, "localhost:*", "127.0.0.1:*"} <= set(hosts)
    assert {"10.*", "192.168.*", "172.16.*", "172.31.*"} <= set(hosts) and "172.32.*" not in hosts  # pod IPs
    assert not [h for h in hosts if h.endswith(".*") and not h[0].isdigit()]  # no name.* (any domain)
    assert container["readinessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(5000, "http")]
    assert container["ports"] == [{"name": "http", "containerPort": 5000}]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert claim["spec"]["resources"]["requests"]["storage"] == "10Gi"


def test_existing_claim_port_and_extra_hosts(render: Render) -> None:
    objects = render({**ON, "mlflow.persistence.existingClaim": "runs", "mlflow.port": "8080",
                      "mlflow.allowedHosts[0]": "mlflow.example.com"})
    assert not _mlflow(objects, "PersistentVolumeClaim")
    deployment = one(_mlflow(objects, "Deployment"), "Deployment")
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == "runs"
    args = _args(deployment)
    assert args["port"] == "8080" and args["allowed-hosts"].split(",")[-1] == "mlflow.example.com"
    assert one(_mlflow(objects, "Service"), "Service")["spec"]["ports"][0]["port"] == 8080


def test_a_typo_in_mlflow_values_fails_the_render(helm: Any) -> None:
    from chart_helpers import helm_template

    done = helm_template(helm, {**ON, "mlflow.persistance.size": "1Gi"})
    assert done.returncode != 0 and "persistance" in done.stderr


def _project_network(objects: list[dict[str, Any]]) -> ProjectNetwork:
    operator = next(d for d in find(objects, "Deployment")
                    if d["metadata"]["labels"].get("app.kubernetes.io/component") == "operator")
    value = env_of(operator["spec"]["template"]["spec"]["containers"][0])["KUBETUNE_OPERATOR_PROJECT_NETWORK"]
    return ProjectNetwork.model_validate_json(value)


def test_trainers_under_network_policies_may_reach_the_charts_mlflow(render: Render) -> None:
    objects = render(ON)
    pods = one(_mlflow(objects, "Deployment"), "Deployment")["spec"]["template"]["metadata"]["labels"]
    tracking = _project_network(objects).tracking
    [peer] = tracking.peers
    assert peer["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "kubetune-system"}}
    assert peer["podSelector"]["matchLabels"].items() <= pods.items()  # selects the MLflow pods
    assert tracking.ports == [5000] and not tracking.cidrs
    # the operator's trainer policy then carries the rule
    rules = build_trainers_policy("p", _project_network(objects), Egress(cidrs=["10.0.0.1/32"]))["spec"]["egress"]
    assert {"to": [peer], "ports": [{"protocol": "TCP", "port": 5000}]} in rules
    # off by default: no tracker target at all; the user's own tracker keeps its addresses beside the chart's
    assert _project_network(render()).tracking.rule() is None
    both = _project_network(render({**ON, "networkPolicy.projects.tracking.cidrs[0]": "10.9.0.5/32",
                                    "networkPolicy.projects.tracking.ports[0]": "443"})).tracking
    assert both.cidrs == ["10.9.0.5/32"] and both.peers == [peer] and both.ports == [443, 5000]

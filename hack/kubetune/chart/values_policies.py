"""values for what keeps projects apart: network policies, admission, quotas and the project roles."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kubetune.chart.values_base import K8sObject, Quantity, ValuesModel
from kubetune.crd.project_quota import MAX_QUOTA_COUNT


class EgressTarget(ValuesModel):
    cidrs: list[str] = Field(default_factory=list, description="IP blocks trainer pods may reach.")
    peers: list[K8sObject] = Field(
        default_factory=list, description="NetworkPolicy peers (namespaceSelector/podSelector) trainers may reach."
    )
    ports: list[int] = Field(default_factory=list, description="TCP ports; empty: every port.")


def _api_server() -> EgressTarget:
    return EgressTarget(ports=[443, 6443])


def _keda_operator() -> list[K8sObject]:
    return [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}},
             "podSelector": {"matchLabels": {"app": "keda-operator"}}}]


class ProjectNetworkPolicies(ValuesModel):
    api_server: EgressTarget = Field(
        default_factory=_api_server,
        description="The API server trainers report to; empty cidrs and peers: the operator uses the "
        "addresses of default/kubernetes.",
    )
    store: EgressTarget = Field(default_factory=EgressTarget, description="The object store (storage.type s3).")
    hub: EgressTarget = Field(default_factory=EgressTarget, description="The model hub (hf://); empty: no access.")
    tracking: EgressTarget = Field(
        default_factory=EgressTarget,
        description="The experiment tracker trainers log to (spec.tracking.mlflow); with mlflow.enabled the "
        "chart adds its own MLflow's pods and port.",
    )
    dns: bool = Field(default=True, description="Trainers may resolve names through kube-dns.")
    metrics_scrapers: list[K8sObject] = Field(
        default_factory=_keda_operator,
        description="NetworkPolicy peers that may read the inference servers' /metrics (their http port, "
        "with the service's key): KEDA's operator, which sums their gauges to autoscale, or your Prometheus.",
    )


class NetworkPolicy(ValuesModel):
    enabled: bool = Field(
        default=True, description="Restrict ingress to the operator and api pods, and give every project "
        "NetworkPolicies for its servers and trainers."
    )
    api_from: list[K8sObject] = Field(
        default_factory=list, description="NetworkPolicy peers allowed to reach the api; empty: everyone."
    )
    metrics_from: list[K8sObject] = Field(
        default_factory=list, description="Peers allowed to scrape operator metrics; empty: everyone."
    )
    projects: ProjectNetworkPolicies = Field(default_factory=ProjectNetworkPolicies)


class AdmissionPolicy(ValuesModel):
    enabled: bool = Field(
        default=True, description="Keep the operator and api ServiceAccounts inside project namespaces "
        "(ValidatingAdmissionPolicy, Kubernetes >= 1.30)."
    )
    training_fit: bool = Field(
        default=True, description="kubectl apply refuses a Training its Trainer cannot run (task, method, "
        "catalog model), with the operator's words (ValidatingAdmissionPolicy with the Trainer as parameter).")


class AdmissionWebhook(ValuesModel):
    enabled: bool = Field(
        default=True, description="The operator's validating admission webhook: kubectl apply refuses a Training "
        "the operator would fail (hyperparameter bounds, references, Dataset format, task, method, catalog "
        "model), with the operator's words. Its certificate is made by helm and kept with lookup: set false "
        "where the chart is rendered with helm template (Argo CD, the kustomize base).")
    port: int = Field(default=9443, ge=1024, le=65535, description="The webhook's HTTPS port in operator pods.")
    failure_policy: Literal["Ignore", "Fail"] = Field(
        default="Ignore", description="What the API server does when no operator answers: Ignore admits (the "
        "operator still validates the Training later), Fail refuses every Training until one answers.")
    timeout_seconds: int = Field(default=5, ge=1, le=30, description="How long the API server waits for an answer.")
    certificate_validity_days: int = Field(
        default=3650, ge=31, le=36500, description="Validity of the generated CA and certificate; an upgrade "
        "makes new ones when fewer than 30 days are left.")


class ProjectQuotaLimits(ValuesModel):
    gpus: int | None = Field(default=8, ge=0, le=MAX_QUOTA_COUNT,
                             description="GPUs requested at once (requests.nvidia.com/gpu).")
    pods: int | None = Field(default=50, ge=0, le=MAX_QUOTA_COUNT, description="Pods at once, training and serving.")
    cpu: Quantity | None = Field(default="64", description="CPU requested at once (requests.cpu).")
    memory: Quantity | None = Field(default="512Gi", description="Memory requested at once (requests.memory).")
    storage: Quantity | None = Field(default="1Ti", description="Storage requested by PVCs (requests.storage).")
    persistent_volume_claims: int | None = Field(default=20, ge=0, le=MAX_QUOTA_COUNT, description="PVCs.")


class ProjectDefaultRequests(ValuesModel):
    cpu: Quantity | None = Field(default="100m", description="CPU request of containers that name none.")
    memory: Quantity | None = Field(default="256Mi", description="Memory request of containers that name none.")


class ProjectQuota(ValuesModel):
    enabled: bool = Field(default=True, description="A ResourceQuota and LimitRange in every project Namespace.")
    limits: ProjectQuotaLimits = Field(default_factory=ProjectQuotaLimits)
    default_requests: ProjectDefaultRequests = Field(default_factory=ProjectDefaultRequests)


class ProjectRoles(ValuesModel):
    enabled: bool = Field(
        default=True, description="Install the project roles (kubetune-project-viewer/-editor/-admin, "
        "kubetune-platform-admin for the group kubetune:admins, kubetune-trainer-reader). Cluster-scoped "
        "with fixed names: one release per cluster holds them; set false for any other.")

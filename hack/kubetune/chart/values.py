"""The chart's values as a pydantic model: the source of values.schema.json.

values.yaml is written by hand for its comments; a unit test checks that it
validates against this model and carries exactly the model's defaults, and the
generated schema (additionalProperties: false on every object) makes a typo'd
value fail `helm install` instead of being silently ignored.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from kubetune.chart.values_base import K8sMap, K8sObject, Quantity, ValuesModel
from kubetune.chart.values_policies import (
    AdmissionPolicy,
    AdmissionWebhook,
    NetworkPolicy,
    ProjectQuota,
    ProjectRoles,
)

__all__ = ["ContainerResources", "Image", "K8sMap", "K8sObject", "Quantity", "ResourceList", "Values",
           "ValuesModel", "default_values"]


class Image(ValuesModel):
    repository: str = Field(min_length=1, description="Image repository.")
    tag: str = Field(default="", description="Image tag; empty means the chart's appVersion.")
    pull_policy: Literal["Always", "IfNotPresent", "Never"] = Field(
        default="IfNotPresent", description="Kubernetes imagePullPolicy."
    )


class ResourceList(ValuesModel):
    cpu: Quantity | None = Field(default=None, description="CPU, e.g. 100m.")
    memory: Quantity | None = Field(default=None, description="Memory, e.g. 256Mi.")


class ContainerResources(ValuesModel):
    requests: ResourceList = Field(default_factory=ResourceList, description="Guaranteed resources.")
    limits: ResourceList = Field(default_factory=ResourceList, description="Upper bounds.")


class ServiceAccount(ValuesModel):
    create: bool = Field(default=True, description="Create the ServiceAccount.")
    name: str = Field(default="", description="Name; empty derives it from the release.")
    annotations: K8sMap = Field(default_factory=dict, description="e.g. workload identity bindings.")


class Scheduling(ValuesModel):
    """Where and how a component's pods run (shared shape of operator and api)."""

    node_selector: K8sMap = Field(default_factory=dict, description="Pod nodeSelector.")
    tolerations: list[K8sObject] = Field(default_factory=list, description="Pod tolerations.")
    affinity: K8sObject = Field(default_factory=dict, description="Pod affinity.")
    priority_class_name: str = Field(default="", description="Pod priorityClassName.")
    pod_annotations: K8sMap = Field(default_factory=dict, description="Extra pod annotations.")
    pod_labels: K8sMap = Field(default_factory=dict, description="Extra pod labels.")
    extra_env: list[K8sObject] = Field(default_factory=list, description="Extra container env entries.")


class LeaderElection(ValuesModel):
    enabled: bool = Field(default=True, description="Only the Lease holder reconciles; required when replicas > 1.")
    lease_duration_seconds: float = Field(default=15, gt=0, description="How long a leader's claim lasts.")
    renew_seconds: float = Field(default=5, gt=0, description="How often the leader renews it.")


class Operator(Scheduling):
    image: Image = Field(default_factory=lambda: Image(repository="ghcr.io/kubetune/operator"))
    replicas: int = Field(default=1, ge=1, le=10, description="Pods; more than one needs leader election.")
    leader_election: LeaderElection = Field(default_factory=LeaderElection)
    watch_namespaces: list[str] = Field(default_factory=list, description="Namespaces to watch; empty: all.")
    workers: int = Field(default=16, ge=1, le=256, description="Threads for synchronous handlers.")
    log_format: Literal["json", "text"] = Field(default="json", description="Log line format.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", description="Log level.")
    metrics_port: int = Field(default=9090, ge=1, le=65535, description="Prometheus metrics port.")
    health_port: int = Field(default=8081, ge=1, le=65535, description="Liveness probe port.")
    default_backoff_limit: int = Field(default=2, ge=0, description="Pod retries before a Training fails.")
    default_ttl_seconds_after_finished: int | None = Field(
        default=None, ge=0, description="Delete finished Jobs after this long; null keeps them."
    )
    resources: ContainerResources = Field(
        default_factory=lambda: ContainerResources(
            requests=ResourceList(cpu="100m", memory="256Mi"), limits=ResourceList(memory="1Gi")
        )
    )
    service_account: ServiceAccount = Field(default_factory=ServiceAccount)


class ModelCache(ValuesModel):
    """One Hugging Face cache (HF_HOME) for every training pod, so base weights download once."""

    claim_name: str = Field(default="", description="A ReadWriteMany PVC of this name in each project namespace; "
                            "wins over hostPath.")
    host_path: str = Field(default="", description="A node-local directory instead (each node keeps a copy).")
    mount_path: str = Field(default="/var/cache/kubetune/huggingface", min_length=1,
                            description="Where it is mounted, and HF_HOME.")


class Runtime(ValuesModel):
    image: Image = Field(default_factory=lambda: Image(repository="ghcr.io/kubetune/runtime"))
    run_as_user: int = Field(
        default=10001, ge=1,
        description="Non-root uid and gid of every kubetune pod (the images' user): one owner on the artifact store.",
    )
    report_interval_seconds: float = Field(default=5, ge=0, description="Trainer status patch interval.")
    serve_port: int = Field(default=8080, ge=1, le=65535, description="Port of inference servers.")
    model_cache: ModelCache = Field(default_factory=ModelCache, description="Shared model cache of training pods.")
    llm_runtime: Literal["kubetune", "vllm"] = Field(
        default="kubetune",
        description="Runtime of causal-lm InferenceServices that name none: kubetune (its own transformers "
        "server) or vllm (vLLM behind kubetune's server, from vllmImage).",
    )
    vllm_image: Image = Field(
        default_factory=lambda: Image(repository="ghcr.io/kubetune/runtime-vllm"),
        description="The vLLM runtime image (trainer-image/Dockerfile.vllm).",
    )


class Tls(ValuesModel):
    enabled: bool = Field(default=False, description="Terminate TLS at the Ingress.")
    secret_name: str = Field(default="", description="TLS Secret; empty: <fullname>-api-tls.")


class Ingress(ValuesModel):
    enabled: bool = Field(default=False, description="Expose the api through an Ingress.")
    class_name: str = Field(default="", description="ingressClassName; empty: the cluster default.")
    host: str = Field(default="kubetune.example.com", min_length=1, description="Host name.")
    path: str = Field(default="/", pattern=r"^/", description="Path prefix.")
    annotations: K8sMap = Field(default_factory=dict, description="Ingress annotations.")
    tls: Tls = Field(default_factory=Tls)


class Service(ValuesModel):
    type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = Field(default="ClusterIP", description="Service type.")
    port: int = Field(default=80, ge=1, le=65535, description="Service port.")
    annotations: K8sMap = Field(default_factory=dict, description="Service annotations.")


class Api(Scheduling):
    enabled: bool = Field(default=True, description="Install the REST facade.")
    image: Image = Field(default_factory=lambda: Image(repository="ghcr.io/kubetune/api"))
    replicas: int = Field(default=1, ge=1, le=20, description="api pods (stateless; each keeps a watch cache).")
    port: int = Field(default=8080, ge=1, le=65535, description="Container port.")
    metrics_port: int = Field(default=9090, ge=1, le=65535, description="Prometheus metrics port (no authentication: "
                              "keep it inside the cluster; networkPolicy.metricsFrom limits who scrapes it).")
    log_level: Literal["debug", "info", "warning", "error"] = Field(default="info", description="Log level.")
    project_namespace_prefix: str = Field(
        default="kt-", pattern=r"^[a-z0-9][a-z0-9-]{0,15}$", description="Prefix of project Namespaces."
    )
    max_upload_bytes: int = Field(default=1 << 30, ge=1, description="Largest dataset upload.")
    max_request_bytes: int = Field(
        default=1 << 20, ge=1024,
        description="Largest request body elsewhere; refused with 413 before parsing and authentication.")
    max_proxy_request_bytes: int = Field(
        default=64 << 20, ge=1024, description="Largest body passed through to an inference server.")
    jwt_expiry_seconds: int = Field(default=86400, ge=60, le=30 * 86400, description="Token lifetime.")
    serve_by_default: bool = Field(default=True, description="REST-submitted trainings also serve the result.")
    default_trainer: str = Field(default="lora", min_length=1, description="Trainer used when a request names none.")
    token_review: bool = Field(default=True, description="Accept Kubernetes service-account tokens.")
    resources: ContainerResources = Field(
        default_factory=lambda: ContainerResources(
            requests=ResourceList(cpu="100m", memory="256Mi"), limits=ResourceList(memory="1Gi")
        )
    )
    service: Service = Field(default_factory=Service)
    ingress: Ingress = Field(default_factory=Ingress)
    service_account: ServiceAccount = Field(default_factory=ServiceAccount)


class Auth(ValuesModel):
    existing_secret: str = Field(
        default="",
        description="Secret with keys jwt-secret, admin-password and serving-key; empty: the chart makes one.",
    )
    admin_username: str = Field(default="admin", min_length=1, max_length=64, description="Bootstrap admin user.")
    admin_email: str = Field(default="admin@kubetune.local", max_length=256, description="Bootstrap admin e-mail.")
    admin_password: str = Field(
        default="", description="Bootstrap admin password (>= 12 chars); empty: generated once, kept."
    )


AccessMode = Literal["ReadWriteOnce", "ReadWriteMany", "ReadWriteOncePod"]


def _read_write_many() -> list[AccessMode]:
    return ["ReadWriteMany"]


class Pvc(ValuesModel):
    existing_claim: str = Field(default="", description="Use this PVC instead of creating one.")
    size: Quantity = Field(default="100Gi", description="Requested size of the created PVC.")
    storage_class_name: str | None = Field(default=None, description="StorageClass; null: the default.")
    access_modes: list[AccessMode] = Field(
        default_factory=_read_write_many, min_length=1,
        description="The api, operator and every runtime pod mount it: ReadWriteMany across nodes.",
    )
    annotations: K8sMap = Field(default_factory=dict, description="PVC annotations (keep policy always added).")


class S3(ValuesModel):
    bucket: str = Field(default="", description="Bucket name (required with type s3).")
    prefix: str = Field(default="kubetune", description="Key prefix inside the bucket.")
    endpoint: str = Field(default="", description="Endpoint URL for S3-compatible stores; empty: AWS.")
    region: str = Field(default="", description="Region.")
    existing_secret: str = Field(
        default="", description="Secret with keys AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."
    )
    access_key_id: str = Field(default="", description="Access key; the chart stores it in a Secret.")
    secret_access_key: str = Field(default="", description="Secret key; the chart stores it in a Secret.")


class Storage(ValuesModel):
    type: Literal["pvc", "s3"] = Field(default="pvc", description="Artifact store kind.")
    mount_path: str = Field(default="/var/lib/kubetune/artifacts", pattern=r"^/", description="PVC mount path.")
    pvc: Pvc = Field(default_factory=Pvc)
    s3: S3 = Field(default_factory=S3)


class TrainerResources(ValuesModel):
    gpus: int = Field(ge=0, le=16, description="GPUs per training pod.")
    gpu_product: str | None = Field(default=None, description="Required nvidia.com/gpu.product label.")
    min_gpu_memory: Quantity | None = Field(default=None, description="Shown to users, e.g. 16Gi.")
    cpu: Quantity | None = Field(default=None, description="CPU request per pod.")
    memory: Quantity | None = Field(default=None, description="Memory request (and limit) per pod.")


class DefaultTrainer(ValuesModel):
    enabled: bool = Field(default=True, description="Install this Trainer.")
    resources: TrainerResources


class CatalogModel(ValuesModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=128)
    name: str = Field(max_length=256)
    uri: str = Field(pattern=r"^(hf|pvc|s3|file)://[^\s@]+$")
    size: str = Field(default="")
    type: Literal["base", "chat", "instruct", "classifier", "vision"] = Field(default="base")
    provider: str = Field(default="")
    task: Literal["causal-lm", "sequence-classification", "image-classification"] = Field(default="causal-lm")


def _default_models() -> list[CatalogModel]:
    return [
        CatalogModel(id="qwen2.5-0.5b-instruct", name="Qwen2.5-0.5B-Instruct",
                     uri="hf://Qwen/Qwen2.5-0.5B-Instruct", size="0.5B", type="instruct", provider="qwen"),
        CatalogModel(id="llama-3.2-1b-instruct", name="Llama-3.2-1B-Instruct",
                     uri="hf://meta-llama/Llama-3.2-1B-Instruct", size="1B", type="instruct", provider="meta"),
        CatalogModel(id="mistral-7b-instruct", name="Mistral-7B-Instruct-v0.3",
                     uri="hf://mistralai/Mistral-7B-Instruct-v0.3", size="7B", type="instruct",
                     provider="mistralai"),
        CatalogModel(id="distilbert-base-uncased", name="DistilBERT base uncased",
                     uri="hf://distilbert/distilbert-base-uncased", size="66M", type="classifier",
                     provider="distilbert", task="sequence-classification"),
        CatalogModel(id="vit-base-patch16-224", name="ViT base patch16 224",
                     uri="hf://google/vit-base-patch16-224", size="86M", type="vision", provider="google",
                     task="image-classification"),
    ]


class Trainers(ValuesModel):
    enabled: bool = Field(default=True, description="Install the default Trainers.")
    models: list[CatalogModel] = Field(default_factory=_default_models, description="Base-model catalog.")
    tolerations: list[K8sObject] = Field(default_factory=list, description="Training pod tolerations.")
    priority_class_name: str = Field(default="", description="PriorityClass of training pods.")
    lora: DefaultTrainer = Field(
        default_factory=lambda: DefaultTrainer(resources=TrainerResources(
            gpus=1, min_gpu_memory="16Gi", cpu="4", memory="32Gi")))
    qlora: DefaultTrainer = Field(
        default_factory=lambda: DefaultTrainer(resources=TrainerResources(
            gpus=1, min_gpu_memory="8Gi", cpu="4", memory="24Gi")))
    full: DefaultTrainer = Field(
        default_factory=lambda: DefaultTrainer(resources=TrainerResources(
            gpus=1, min_gpu_memory="40Gi", cpu="8", memory="64Gi")))


class ServiceMonitor(ValuesModel):
    enabled: bool = Field(default=False, description="Create a prometheus-operator ServiceMonitor.")
    interval: str = Field(default="30s", description="Scrape interval.")
    labels: K8sMap = Field(default_factory=dict, description="Labels your Prometheus selects on.")


class PrometheusRule(ValuesModel):
    enabled: bool = Field(default=False, description="Create a PrometheusRule with kubetune's alerts "
                          "(docs/operations.md; needs the prometheus-operator CRDs).")
    labels: K8sMap = Field(default_factory=dict, description="Labels your Prometheus' ruleSelector matches.")


class GrafanaDashboard(ValuesModel):
    enabled: bool = Field(default=False, description="A ConfigMap holding kubetune's Grafana dashboard.")
    labels: K8sMap = Field(default_factory=lambda: {"grafana_dashboard": "1"},
                           description="Labels Grafana's dashboard sidecar looks for.")


class Metrics(ValuesModel):
    service_monitor: ServiceMonitor = Field(default_factory=ServiceMonitor)
    prometheus_rule: PrometheusRule = Field(default_factory=PrometheusRule)
    grafana_dashboard: GrafanaDashboard = Field(default_factory=GrafanaDashboard)


class Kueue(ValuesModel):
    enabled: bool = Field(
        default=False, description="Trainings may name a Kueue LocalQueue (spec.queue or the label "
        "kueue.x-k8s.io/queue-name): their Jobs start when Kueue admits all their pods. Needs Kueue with its "
        "batch/job integration on the cluster; the operator may then read Workloads and (de)activate them "
        "for a user's stop and start.")


class Crds(ValuesModel):
    enabled: bool = Field(default=True, description="Install the CRDs with the chart.")
    keep: bool = Field(default=True, description="Keep the CRDs (and so every resource) on helm uninstall.")


class Values(ValuesModel):
    """The whole of values.yaml."""

    global_: K8sObject = Field(default_factory=dict, alias="global", description="Helm global values.")
    name_override: str = Field(default="", max_length=63, description="Replaces the chart name in names.")
    fullname_override: str = Field(default="", max_length=63, description="Replaces <release>-<chart>.")
    common_labels: K8sMap = Field(default_factory=dict, description="Labels added to every object.")
    image_pull_secrets: list[K8sObject] = Field(default_factory=list, description="Pull secrets of chart pods.")
    crds: Crds = Field(default_factory=Crds)
    operator: Operator = Field(default_factory=Operator)
    runtime: Runtime = Field(default_factory=Runtime)
    api: Api = Field(default_factory=Api)
    auth: Auth = Field(default_factory=Auth)
    storage: Storage = Field(default_factory=Storage)
    trainers: Trainers = Field(default_factory=Trainers)
    project_roles: ProjectRoles = Field(default_factory=ProjectRoles)
    metrics: Metrics = Field(default_factory=Metrics)
    network_policy: NetworkPolicy = Field(default_factory=NetworkPolicy)
    project_quota: ProjectQuota = Field(default_factory=ProjectQuota)
    admission_policy: AdmissionPolicy = Field(default_factory=AdmissionPolicy)
    admission_webhook: AdmissionWebhook = Field(default_factory=AdmissionWebhook)
    kueue: Kueue = Field(default_factory=Kueue)
    mlflow: Mlflow = Field(default_factory=lambda: Mlflow())


def default_values() -> dict[str, Any]:
    """The defaults as values.yaml spells them (options that default to unset are left out)."""
    return Values().model_dump(by_alias=True, mode="json", exclude_none=True)


# values.mlflow lives in its own module, built from the classes above: imported once they exist.
from kubetune.chart.values_mlflow import Mlflow  # noqa: E402

Values.model_rebuild()

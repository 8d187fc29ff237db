"""The operator's configuration: environment variables prefixed KUBETUNE_OPERATOR_.

One pydantic-settings model, so the chart documents every knob in one place and
tests build a Settings(...) directly instead of patching the environment.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from kubetune.crd.references import StoreLayout
from kubetune.operator.builders.network_policy import ProjectNetwork
from kubetune.operator.builders.quota import ProjectQuota


class Settings(BaseSettings):
    """Everything the operator reads at start-up."""

    model_config = SettingsConfigDict(env_prefix="KUBETUNE_OPERATOR_", extra="ignore")

    # Where the operator runs and what it watches.
    kubeconfig: str | None = Field(default=None, description="Kubeconfig file; in-cluster config when unset.")
    namespaces: list[str] = Field(
        default_factory=list, description="Namespaces to watch; empty means the whole cluster."
    )
    pod_namespace: str = Field(default="kubetune-system", description="Namespace of the operator's own pod.")

    # The runtime image and its two entrypoints.
    runtime_image: str = Field(default="ghcr.io/kubetune/runtime:0.1.0", description="Runtime image.")
    image_pull_policy: str = Field(default="IfNotPresent", description="Pull policy of runtime pods.")
    serve_command: list[str] = Field(
        default_factory=lambda: ["kubetune-serve"], description="Server entrypoint."
    )
    serve_port: int = Field(default=8080, ge=1, le=65535, description="Port the inference server listens on.")
    # vLLM (InferenceService.spec.runtime vllm): its image holds vLLM and kubetune's server, which starts it.
    llm_runtime: Literal["kubetune", "vllm"] = Field(
        default="kubetune", description="Runtime of causal-lm InferenceServices that do not name one."
    )
    vllm_image: str = Field(default="ghcr.io/kubetune/runtime-vllm:0.1.0", description="Image of runtime vllm.")
    vllm_command: list[str] = Field(
        default_factory=lambda: ["/opt/vllm/bin/python", "-m", "vllm.entrypoints.openai.api_server", "--model"],
        description="How kubetune's server starts vLLM in that image (the model directory follows).",
    )

    # The artifact store: a PVC mounted into every runtime pod (file:// paths below the mount).
    artifact_pvc: str | None = Field(
        default="kubetune-artifacts",
        description="PVC holding datasets, checkpoints and adapters; none: no volume.",
    )
    artifact_mount_path: str = Field(
        default="/var/lib/kubetune/artifacts",
        description="Where the artifact PVC is mounted in runtime pods.",
    )
    artifact_local_root: str | None = Field(
        default=None,
        description="Where the operator itself sees the artifact store (for Dataset validation); "
        "defaults to artifact_mount_path.",
    )

    # Defaults for Training Jobs when the spec leaves them out.
    object_store_secret: str | None = Field(
        default=None,
        description="Secret in pod_namespace with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for s3:// uris; "
        "each Training and InferenceService gets its own copy, owned by it.",
    )
    object_store_endpoint: str | None = Field(default=None, description="S3-compatible endpoint URL; unset: AWS.")
    object_store_region: str | None = Field(default=None, description="Object store region.")
    object_store_root: str | None = Field(
        default=None, pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[A-Za-z0-9._-]+)*/?$",
        description="s3://bucket[/prefix] that s3:// references must lie in (below <prefix>/<namespace>/); "
        "unset: s3:// references are refused.",
    )
    allow_hub: bool = Field(default=True, description="Accept hf:// model references (downloads from the hub).")
    # One model cache (HF_HOME) shared by attempts, trials and replicas, so that weights download once.
    model_cache_pvc: str | None = Field(
        default=None, description="PVC (ReadWriteMany) mounted at model_cache_mount_path in training pods; "
        "wins over model_cache_host_path.")
    model_cache_host_path: str | None = Field(
        default=None, description="Node-local directory mounted there instead (each node keeps its own copy).")
    model_cache_mount_path: str = Field(
        default="/var/cache/kubetune/huggingface", description="HF_HOME of training pods when a cache is set.")
    default_backoff_limit: int = Field(default=2, ge=0, description="Pod retries before a Training fails.")
    default_ttl_seconds_after_finished: int | None = Field(
        default=None,
        ge=0,
        description="Delete finished Jobs after this long (the Training keeps its status).",
    )
    run_as_user: int = Field(default=10001, ge=1, description="Non-root uid of runtime pods.")
    project_network: ProjectNetwork | None = Field(
        default=None, description="NetworkPolicies for every project Namespace (JSON); unset: none are made."
    )
    serving_key_secret: SecretStr | None = Field(
        default=None, description="HMAC key (shared with the facade) from which each server's facade key is "
        "derived; unset: servers get only their random key, and the facade cannot call them.",
    )
    project_quota: ProjectQuota | None = Field(
        default=None, description="ResourceQuota and LimitRange of every project Namespace (JSON); unset: none.")
    projects_only: bool = Field(
        default=False, description="Create children only in project Namespaces (label kubetune.io/project); "
        "elsewhere Trainings and InferenceServices wait Pending, reason NotAProject. The chart sets it with "
        "admissionPolicy.enabled, whose policy refuses the operator's children outside projects.")
    report_interval_seconds: float = Field(default=5.0, ge=0, description="Trainer status patch interval.")
    kueue_enabled: bool = Field(
        default=False, description="Trainings may name a Kueue LocalQueue (spec.queue or the "
        "kueue.x-k8s.io/queue-name label): their Jobs start when Kueue admits them. Needs Kueue on the cluster "
        "and the operator's RBAC on workloads.kueue.x-k8s.io (the chart's kueue.enabled).")

    # Serving.
    cluster_domain: str = Field(default="cluster.local", description="DNS suffix of Services.")

    # Operations.
    metrics_port: int = Field(default=9090, ge=0, le=65535, description="Prometheus port; 0 disables it.")
    health_port: int = Field(default=8081, ge=0, le=65535, description="Liveness port; 0 disables it.")
    leader_election: bool = Field(default=True, description="Run only while holding the Lease.")
    lease_name: str = Field(default="kubetune-operator", description="Name of the leader-election Lease.")
    lease_duration_seconds: float = Field(default=15, gt=0, description="How long a leader's claim lasts.")
    lease_renew_seconds: float = Field(default=5, gt=0, description="How often the leader renews.")
    workers: int = Field(default=16, ge=1, le=256, description="Threads for synchronous handlers.")
    memory_trim_seconds: float = Field(
        default=30, ge=0, description="Return freed memory to the OS this often after bursts; 0 disables."
    )
    webhook_port: int = Field(
        default=0, ge=0, le=65535, description="HTTPS port of the validating admission webhook (every replica "
        "serves it, leader or not); 0 disables it.")
    webhook_address: str = Field(default="0.0.0.0", description="Address the webhook listens on "  # noqa: S104
                                 "(in a pod: every interface, the API server comes through the Service).")
    webhook_cert_file: str | None = Field(default=None, description="The webhook's TLS certificate (PEM); "
                                          "read again when the file changes.")
    webhook_key_file: str | None = Field(default=None, description="The webhook's TLS private key (PEM).")
    log_format: str = Field(default="json", pattern="^(json|text)$", description="json or text logs.")
    log_level: str = Field(default="INFO", description="Root log level.")

    @property
    def artifact_root(self) -> str:
        """The artifact store as the operator process sees it."""
        return self.artifact_local_root or self.artifact_mount_path

    def reference_layout(self, trusted: frozenset[str] = frozenset()) -> StoreLayout:
        """What kubetune.crd.references checks uris against; ``trusted``: the admin's catalog uris."""
        return StoreLayout(store_root=self.artifact_mount_path, local_root=self.artifact_local_root,
                           artifact_claim=self.artifact_pvc, object_store_root=self.object_store_root,
                           allow_hub=self.allow_hub, trusted=trusted)

    def default_output(self, namespace: str, training: str) -> str:
        """Where a Training writes when its spec names no output: the project's part of the artifact volume,
        or, with no volume and an object store (the chart's storage.type s3), the project's prefix of the
        bucket. (A file:// default there pointed into a directory no pod mounts: the trainer failed with
        PermissionError on /var/lib/kubetune, seen on the real cluster in S3 mode.)"""
        if not self.artifact_pvc and self.object_store_root:
            return f"{self.object_store_root.rstrip('/')}/{namespace}/trainings/{training}"
        return f"file://{self.artifact_mount_path}/{namespace}/trainings/{training}"

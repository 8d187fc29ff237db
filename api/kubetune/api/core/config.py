"""The facade's settings: one pydantic-settings model, read from KUBETUNE_API_* variables.

Outside development the settings refuse the defaults that would be unsafe in a
cluster: a built-in JWT secret, a built-in admin password, a storage root in /tmp.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-0123456789"  # noqa: S105 - refused outside development
DEV_ADMIN_PASSWORD = "admin123"  # noqa: S105 - seed 003's example login, refused outside development


class Settings(BaseSettings):
    """Everything the facade reads from its environment (the chart sets these from values and Secrets)."""

    model_config = SettingsConfigDict(env_prefix="KUBETUNE_API_", env_nested_delimiter="__", extra="ignore")

    environment: Literal["development", "production"] = Field(
        default="production", description="development allows built-in secrets for local runs and tests."
    )
    jwt_secret: SecretStr = Field(
        default=SecretStr(""), description="HMAC key for issued tokens; mounted from a Secret."
    )
    jwt_expiry_seconds: int = Field(default=86400, ge=60, le=30 * 86400, description="Token lifetime.")
    bootstrap_admin_username: str = Field(default="admin", min_length=1, max_length=64)
    bootstrap_admin_password: SecretStr = Field(default=SecretStr(""), description="From the chart's Secret.")
    bootstrap_admin_email: str = Field(default="admin@kubetune.local", max_length=256)
    system_namespace: str = Field(default="kubetune-system", description="Where users, keys and counters live.")
    users_secret: str = Field(default="kubetune-api-users", description="Secret holding users and API keys.")
    ids_config_map: str = Field(default="kubetune-api-ids", description="ConfigMap holding the id counter.")
    project_namespace_prefix: str = Field(default="kt-", pattern=r"^[a-z0-9][a-z0-9-]{0,15}$")
    storage_root: str = Field(default="file:///var/lib/kubetune/artifacts", description="fsspec root url.")
    max_upload_bytes: int = Field(default=1 << 30, ge=1, description="Largest dataset upload.")
    max_request_bytes: int = Field(
        default=1 << 20, ge=1024,
        description="Largest request body on every route without its own limit; refused with 413 before "
        "the body is parsed or the caller authenticated (1 MiB keeps any one write below etcd's 1.5 MiB).")
    max_proxy_request_bytes: int = Field(
        default=64 << 20, ge=1024, description="Largest body passed through to an inference server (images, batches).")
    metrics_port: int = Field(
        default=0, ge=0, le=65535,
        description="Port of the Prometheus metrics (core/metrics.py), apart from the API port; 0: not served.")
    max_model_size_gb: float = Field(default=50, ge=0, description="Shown by /api/v1/settings/storage.")
    storage_total_gb: float | None = Field(default=None, description="Quota shown when the store has no size.")
    serve_by_default: bool = Field(default=True, description="REST-submitted trainings set spec.serve.")
    default_trainer: str = Field(default="lora", description="Trainer used when a request names none.")
    provider_aliases: dict[str, str] = Field(
        default_factory=lambda: {"TOGETHER_AI": "lora", "FIREWORKS_AI": "lora"},
        description="Seed 001 provider names that resolve to a Trainer.",
    )
    token_review: bool = Field(default=True, description="Accept service-account tokens through TokenReview.")
    token_audience: str = Field(
        default="kubetune", min_length=1, max_length=253,
        description="Audience a service-account token must be minted for (`kubectl create token <sa> "
        "--audience kubetune`); a pod's default token (the API server's audience) is refused.")
    login_window_seconds: int = Field(default=300, ge=1, le=86400,
                                      description="Sliding window of the login throttle.")
    login_failures_per_user: int = Field(default=10, ge=1, le=100000,
                                         description="Failed logins per username in the window before 429.")
    login_failures_per_address: int = Field(default=50, ge=1, le=100000,
                                            description="Failed logins per client address in the window before 429.")
    token_review_failures_per_address: int = Field(
        default=100, ge=1, le=1000000,
        description="Bearer tokens TokenReview refused per client address in the login window before 429 "
        "(the rest are refused without asking the API server).")
    password_hash_workers: int = Field(default=2, ge=1, le=64,
                                       description="Threads that run bcrypt (kept off the event loop).")
    password_hash_queue: int = Field(default=16, ge=0, le=10000,
                                     description="Password checks that may wait for a worker; more get 503.")
    inference_api_key: SecretStr | None = Field(
        default=None, description="Sent to inference servers when no serving_key_secret is set (one key for all).")
    serving_key_secret: SecretStr | None = Field(
        default=None, description="The platform's serving key (shared with the operator): the key sent to each "
        "inference server is derived from it (kubetune.crd.serving_keys), so no Secret is read.")
    inference_routing: Literal["service", "pod"] = Field(
        default="service",
        description="service: call status.url (cluster DNS); pod: call a ready server pod's IP directly "
        "(the local platform, where cluster DNS does not reach the host).")
    scale_from_zero_timeout_seconds: float = Field(
        default=120, gt=0, le=3600,
        description="How long a request for an InferenceService scaled to zero waits for it to be Ready "
        "(the model loads meanwhile) before 503.")
    sse_keepalive_seconds: float = Field(default=15, gt=0, le=300)
    proxy_timeout_seconds: float = Field(default=60, gt=0, le=3600)
    site_name: str = Field(default="kubetune")
    site_description: str = Field(default="Kubernetes-native fine-tuning and serving")
    language: str = Field(default="en")
    theme: str = Field(default="light")
    version: str = Field(default="0.1.0")
    bcrypt_rounds: int = Field(default=12, ge=4, le=16, description="Cost of password hashes (tests use 4).")
    max_api_metrics: int = Field(default=500, ge=1, le=5000, description="User metrics kept per training.")

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> Settings:
        if self.environment == "development":
            if not self.jwt_secret.get_secret_value():
                self.jwt_secret = SecretStr(DEV_JWT_SECRET)
            if not self.bootstrap_admin_password.get_secret_value():
                self.bootstrap_admin_password = SecretStr(DEV_ADMIN_PASSWORD)
            return self
        problems = []
        secret = self.jwt_secret.get_secret_value()
        if len(secret) < 32 or secret == DEV_JWT_SECRET:
            problems.append("jwt_secret must be set from a Secret and be at least 32 characters")
        password = self.bootstrap_admin_password.get_secret_value()
        if len(password) < 12 or password == DEV_ADMIN_PASSWORD:
            problems.append("bootstrap_admin_password must be set and be at least 12 characters")
        if self.storage_root.startswith(("file:///tmp", "/tmp")):  # noqa: S108 - refusing it
            problems.append("storage_root must not live in /tmp outside development")
        if problems:
            raise ValueError("; ".join(problems))
        return self

"""spec.tracking: where a Training's parameters, per-step metrics and artifacts are also recorded (MLflow)."""

from __future__ import annotations

from pydantic import Field

from kubetune.crd.base import CamelModel
from kubetune.crd.distributed import HubTokenRef

# MLflow's own variable names, so the trainer's client reads them as MLflow's tools do.
URI_ENV = "MLFLOW_TRACKING_URI"
USERNAME_ENV = "MLFLOW_TRACKING_USERNAME"
PASSWORD_ENV = "MLFLOW_TRACKING_PASSWORD"  # noqa: S105  (a variable name)
TOKEN_ENV = "MLFLOW_TRACKING_TOKEN"  # noqa: S105  (a variable name)


class MlflowTracking(CamelModel):
    """An MLflow tracking server. The URI is plain or read from a Secret key; credentials come from a Secret."""

    uri: str | None = Field(default=None, max_length=1024, pattern=r"^https?://[^\s]+$",
                            description="The tracking server's http(s) URI; or uriSecret.")
    uri_secret: HubTokenRef | None = Field(
        default=None, description="A Secret key holding the URI (MLFLOW_TRACKING_URI in the pod).")
    experiment: str = Field(default="kubetune", min_length=1, max_length=256,
                            description="The MLflow experiment (created when missing).")
    credentials_secret: str | None = Field(
        default=None, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        description="A Secret in the Training's namespace whose keys MLFLOW_TRACKING_USERNAME and "
        "MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN, reach the pod as secretKeyRefs (each optional).")


class TrackingSpec(CamelModel):
    """Experiment tracking for one Training: MLflow (parameters, per-step metrics, model card, adapter)."""

    mlflow: MlflowTracking | None = Field(default=None, description="Log the run to an MLflow server.")
    tensorboard: bool = Field(default=False, description="Also write TensorBoard event files (every step's "
                              "metrics) under the run's output, in tensorboard/.")


class RunTracking(CamelModel):
    """What the trainer gets in run.json (no secret values: those reach the pod as env)."""

    mlflow_uri: str | None = Field(default=None, description="Tracking URI; else MLFLOW_TRACKING_URI from env.")
    experiment: str = "kubetune"
    run_name: str | None = None
    mlflow: bool = True
    tensorboard: bool = False


def tracking_env(spec: TrackingSpec | None) -> list[dict[str, object]]:
    """The pod's env for tracking: secretKeyRefs only (optional keys), never a value from the spec."""
    if spec is None or spec.mlflow is None:
        return []
    env: list[dict[str, object]] = []
    m = spec.mlflow
    if m.uri_secret is not None:
        env.append({"name": URI_ENV, "valueFrom": {"secretKeyRef": {"name": m.uri_secret.name,
                                                                     "key": m.uri_secret.key}}})
    if m.credentials_secret:
        for key in (USERNAME_ENV, PASSWORD_ENV, TOKEN_ENV):
            env.append({"name": key, "valueFrom": {"secretKeyRef": {
                "name": m.credentials_secret, "key": key, "optional": True}}})
    return env


def run_tracking(spec: TrackingSpec | None, name: str) -> RunTracking | None:
    if spec is None or (spec.mlflow is None and not spec.tensorboard):
        return None
    if spec.mlflow is None:
        return RunTracking(mlflow=False, tensorboard=True, run_name=name)
    return RunTracking(mlflow_uri=spec.mlflow.uri, experiment=spec.mlflow.experiment, run_name=name,
                       tensorboard=spec.tensorboard)

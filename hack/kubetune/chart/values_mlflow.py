"""values.mlflow: an optional MLflow tracking server installed with the chart (off by default).

One replica of MLflow's own server: SQLite on a PVC (so one writer, a Recreate rollout), artifacts in
the same volume and proxied by the server (`mlflow-artifacts:`), which is what the trainer's MLflow
client uploads through. Trainings point at it with spec.tracking.mlflow.uri (see NOTES.txt).
"""

from __future__ import annotations

from pydantic import Field

from kubetune.chart.values import ContainerResources, Image, Quantity, ResourceList, ValuesModel


def _image() -> Image:
    return Image(repository="ghcr.io/mlflow/mlflow", tag="v3.17.2")


def _resources() -> ContainerResources:
    return ContainerResources(requests=ResourceList(cpu="100m", memory="512Mi"), limits=ResourceList(memory="2Gi"))


class MlflowPersistence(ValuesModel):
    existing_claim: str = Field(default="", description="Use this PVC instead of creating <fullname>-mlflow.")
    size: Quantity = Field(default="10Gi", description="Size of the created PVC (SQLite database and artifacts).")
    storage_class_name: str | None = Field(default=None, description="StorageClass; null: the default.")


class Mlflow(ValuesModel):
    enabled: bool = Field(default=False, description="Install an MLflow tracking server.")
    image: Image = Field(default_factory=_image, description="MLflow's image (its `mlflow` command is run).")
    port: int = Field(default=5000, ge=1, le=65535, description="The Service's and the server's port.")
    workers: int = Field(default=1, ge=1, le=16, description="Server worker processes.")
    run_as_user: int = Field(default=1000, ge=1, description="Non-root uid (and gid, fsGroup) of the server.")
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Extra Host headers the server accepts (an Ingress's host); the Service's names always are.")
    persistence: MlflowPersistence = Field(default_factory=MlflowPersistence)
    resources: ContainerResources = Field(default_factory=_resources)

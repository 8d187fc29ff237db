"""The chart's default Trainers (lora, qlora, full), applied to the local platform.

Their one definition is the Helm chart (charts/kubetune/templates/trainers.yaml with the
parameter files generated from kubetune.chart.trainer_parameters). The kustomize base
manifests/base/kubetune.yaml is that chart rendered by `helm template` and kept current by
`python -m kubetune.chart.generate --check`, so the local platform reads the Trainers from
there and needs no helm binary at start-up.

The local node is not a GPU cluster: pods are host processes on a machine whose CPU count
and memory are those of a laptop. So each Trainer's resources are scaled to the node (GPU
count capped by the node's, no CPU or memory request, no GPU product label); the image is
unused there and `kubetune-train` resolves on the environment's PATH. Nothing else changes.
"""

from __future__ import annotations

from copy import deepcopy
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kubetune.crd import GROUP, VERSION
from kubetune.crd.trainer import TrainerSpec

Obj = dict[str, Any]
RENDERED_CHART = Path(__file__).resolve().parents[3] / "manifests" / "base" / "kubetune.yaml"
MANAGED_BY = "app.kubernetes.io/managed-by"


def chart_trainers(rendered: Path = RENDERED_CHART) -> list[Obj]:
    """The Trainer objects of the rendered chart, in chart order."""
    docs = yaml.safe_load_all(rendered.read_text())
    return [doc for doc in docs if doc and doc.get("kind") == "Trainer"]


def for_local_node(trainer: Obj, node_gpus: int) -> Obj:
    """The Trainer with resources a local node can schedule; validated against the model."""
    local = deepcopy(trainer)
    local["metadata"]["labels"] = {**local["metadata"].get("labels", {}), MANAGED_BY: "kubetune-dev"}
    resources = local["spec"].get("resources") or {}
    scaled: Obj = {"gpus": min(int(resources.get("gpus", 1)), node_gpus)}
    if "minGpuMemory" in resources:
        scaled["minGpuMemory"] = resources["minGpuMemory"]  # informational only
    local["spec"]["resources"] = scaled
    TrainerSpec.model_validate(local["spec"])  # a stale or hand-edited base fails here, not in the operator
    return local


def default_trainers(node_gpus: int, rendered: Path = RENDERED_CHART) -> list[Obj]:
    return [for_local_node(t, node_gpus) for t in chart_trainers(rendered)]


def apply_default_trainers(api: client.ApiClient, node_gpus: int, rendered: Path = RENDERED_CHART) -> list[str]:
    """Create each default Trainer, or replace its spec when it exists; returns their names."""
    custom = client.CustomObjectsApi(api)
    names = []
    for trainer in default_trainers(node_gpus, rendered):
        name = trainer["metadata"]["name"]
        try:
            custom.create_cluster_custom_object(GROUP, VERSION, "trainers", trainer)
        except ApiException as err:
            if err.status != 409:
                raise
            custom.patch_cluster_custom_object(GROUP, VERSION, "trainers", name, {"spec": trainer["spec"]})
        names.append(name)
    return names

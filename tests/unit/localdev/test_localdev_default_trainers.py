"""The local platform's default Trainers are the chart's, sized for the local node."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from kubetune.chart.trainer_parameters import parameters_for
from kubetune.localdev.trainers import chart_trainers, default_trainers, for_local_node

pytestmark = pytest.mark.unit


def test_the_chart_defines_lora_qlora_and_full() -> None:
    assert [t["metadata"]["name"] for t in chart_trainers()] == ["lora", "qlora", "full"]


def test_only_resources_and_the_manager_label_differ_from_the_chart() -> None:
    for chart, local in zip(chart_trainers(), default_trainers(node_gpus=0), strict=True):
        assert {k: v for k, v in local["spec"].items() if k != "resources"} == \
            {k: v for k, v in chart["spec"].items() if k != "resources"}
        assert local["spec"]["resources"] == {"gpus": 0, "minGpuMemory": chart["spec"]["resources"]["minGpuMemory"]}
        assert local["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kubetune-dev"


def test_parameters_come_from_the_generated_definitions() -> None:
    for trainer in default_trainers(node_gpus=0):
        method = trainer["spec"]["methods"][0]
        assert [p["name"] for p in trainer["spec"]["parameters"]] == [p.name for p in parameters_for(method)]


def test_gpus_are_capped_by_the_node_not_raised() -> None:
    trainer = chart_trainers()[0]
    assert for_local_node(trainer, node_gpus=4)["spec"]["resources"]["gpus"] == trainer["spec"]["resources"]["gpus"]
    assert for_local_node(trainer, node_gpus=0)["spec"]["resources"]["gpus"] == 0
    assert "cpu" in trainer["spec"]["resources"]  # the source keeps its requests; the copy drops them


def test_an_invalid_rendered_trainer_is_rejected(tmp_path: Path) -> None:
    broken = chart_trainers()[0]
    broken["spec"]["methods"] = ["dreambooth"]
    rendered = tmp_path / "kubetune.yaml"
    rendered.write_text(yaml.safe_dump_all([{"kind": "ConfigMap"}, broken]))
    with pytest.raises(ValidationError):
        default_trainers(node_gpus=0, rendered=rendered)


"""The default LoRA and QLoRA Trainers declare `merge` (a Trainer refuses hyperparameters it does not declare)."""

from __future__ import annotations

from kubetune.chart.trainer_parameters import parameters_for
from kubetune.localdev.trainers import chart_trainers


def test_lora_trainers_declare_merge_and_full_does_not() -> None:
    for method in ("lora", "qlora"):
        merge = [p for p in parameters_for(method) if p.name == "merge"]
        assert [(p.type, p.default) for p in merge] == [("bool", False)]
    assert "merge" not in {p.name for p in parameters_for("full")}  # full weights are the model already


def test_the_rendered_chart_carries_it() -> None:
    declared = {t["metadata"]["name"]: {p["name"] for p in t["spec"]["parameters"]} for t in chart_trainers()}
    assert "merge" in declared["lora"] and "merge" in declared["qlora"]

"""The ConfigMap holding a Training's run config, mounted into its pod."""

from __future__ import annotations

import json
from typing import Any

from kubetune.crd import labels as lbl
from kubetune.crd.runconfig import RUN_CONFIG_FILE, TrainRunConfig
from kubetune.operator.owner import Owner, child_metadata


def build_run_config_map(owner: Owner, config: TrainRunConfig) -> dict[str, Any]:
    """run.json as the only key; the trainer reads it with TrainRunConfig.load."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": child_metadata(
            owner,
            lbl.training_config_map_name(owner.name),
            {lbl.TRAINING: owner.name, lbl.COMPONENT: "trainer"},
        ),
        "data": {RUN_CONFIG_FILE: json.dumps(config.to_wire(), indent=2, sort_keys=True)},
    }

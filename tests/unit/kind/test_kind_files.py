"""hack/kind/: the chart renders with the kind values, and the script, the storage manifest and
the values agree on names and paths (the kind path cannot run here, so its pieces are checked)."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest
import yaml

from kubetune.chart.helm import REPO_ROOT, helm_path, template
from kubetune.crd.trainer import TrainerSpec

pytestmark = pytest.mark.unit

KIND = REPO_ROOT / "hack" / "kind"
SCRIPT = KIND / "e2e.sh"


def _script_value(name: str) -> str:
    match = re.search(rf"^{name}=(.+)$", SCRIPT.read_text(), re.MULTILINE)
    assert match, f"{name}= not found in {SCRIPT}"
    return match.group(1)


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    text = template(_script_value("RELEASE"), _script_value("NAMESPACE"), values_files=[KIND / "values.yaml"],
                    helm=helm_path())
    return [doc for doc in yaml.safe_load_all(text) if doc]


@pytest.fixture(scope="module")
def storage() -> dict[str, dict[str, Any]]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all((KIND / "storage.yaml").read_text())}


def test_script_parses_and_is_strict() -> None:
    assert subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True).returncode == 0
    assert "set -euo pipefail" in SCRIPT.read_text()
    assert SCRIPT.stat().st_mode & 0o111, "hack/kind/e2e.sh must be executable (make e2e-kind runs it)"


def test_images_are_the_loaded_dev_images(rendered: list[dict[str, Any]]) -> None:
    loaded = set(re.findall(r"kubetune/\w+:dev", _script_value("IMAGES")))
    containers = [c for o in rendered if o["kind"] == "Deployment"
                  for c in o["spec"]["template"]["spec"]["containers"]]
    assert {c["image"] for c in containers} <= loaded
    assert all(c["imagePullPolicy"] == "Never" for c in containers)
    trainers = [o for o in rendered if o["kind"] == "Trainer"]
    assert {t["spec"]["image"] for t in trainers} <= loaded


def test_the_chart_uses_the_claim_storage_yaml_binds(rendered: list[dict[str, Any]],
                                                     storage: dict[str, dict[str, Any]]) -> None:
    claim, volume = storage["PersistentVolumeClaim"], storage["PersistentVolume"]
    assert not [o for o in rendered if o["kind"] == "PersistentVolumeClaim"]  # existingClaim: none created
    claims = {v["persistentVolumeClaim"]["claimName"] for o in rendered if o["kind"] == "Deployment"
              for v in o["spec"]["template"]["spec"].get("volumes", []) if "persistentVolumeClaim" in v}
    assert claims == {claim["metadata"]["name"]}
    assert claim["metadata"]["namespace"] == _script_value("NAMESPACE")
    assert volume["spec"]["claimRef"] == {"namespace": claim["metadata"]["namespace"],
                                          "name": claim["metadata"]["name"]}
    assert claim["spec"]["volumeName"] == volume["metadata"]["name"]
    assert volume["spec"]["hostPath"]["path"] == _script_value("NODE_ARTIFACTS")


def test_trainers_run_on_cpu_and_offer_the_tiny_model(rendered: list[dict[str, Any]]) -> None:
    trainers = {o["metadata"]["name"]: o for o in rendered if o["kind"] == "Trainer"}
    assert set(trainers) == {"lora", "qlora", "full"}
    for trainer in trainers.values():
        spec = TrainerSpec.model_validate(trainer["spec"])
        assert spec.resources.gpus == 0
    lora = TrainerSpec.model_validate(trainers["lora"]["spec"])
    tiny = next(m for m in lora.models if m.id == "tiny-llama")
    mount = yaml.safe_load((REPO_ROOT / "charts" / "kubetune" / "values.yaml").read_text())["storage"]["mountPath"]
    assert tiny.uri == f"file://{mount}/models/tiny-llama"


def test_make_target_runs_the_script() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert re.search(r"^e2e-kind:.*\n\thack/kind/e2e\.sh$", makefile, re.MULTILINE)


def test_cluster_config_is_one_node() -> None:
    config = yaml.safe_load((KIND / "cluster.yaml").read_text())
    assert config["kind"] == "Cluster"
    assert [n["role"] for n in config["nodes"]] == ["control-plane"]


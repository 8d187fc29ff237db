"""SFT then DPO on the local platform: a Training whose baseModel is training://sft waits for sft, then
runs DPO on sft's adapter; a checkpoint of it is served by an InferenceService and answers.

The whole platform (control plane, node, operator, facade); the admin registers a CPU Trainer for a
tiny model built here, the project is made through REST, the data files are put in the project's
prefix of the store, and the Trainings and the InferenceService are created as kubectl would.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from kube_waits import Obj, wait_for
from kubernetes import client

from kubetune.crd import GROUP, VERSION
from kubetune.localdev.clients import client_configuration
from kubetune.localdev.demo import local_trainer
from kubetune.localdev.platform import LocalPlatform
from kubetune.operator.builders.serving_runtime import adapters_config_map_name
from kubetune.testing.chat_data import memorisable_chat_jsonl
from kubetune.testing.preference_data import preference_jsonl

pytestmark = pytest.mark.integration
RUN_SECONDS = 600


def _phase(*want: str) -> Any:
    def check(obj: Obj) -> bool:
        status = obj.get("status") or {}
        if status.get("phase") == "Failed" and "Failed" not in want:
            raise AssertionError(f"{obj['kind']} {obj['metadata']['name']} failed: {status.get('message')}")
        return status.get("phase") in want

    return check


def _training(name: str, base: str, data: str, fmt: str, objective: str, **hp: Any) -> Obj:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Training",
        "metadata": {"name": name},
        "spec": {
            "trainerRef": "lora-cpu",
            "baseModel": base,
            "objective": objective,
            "dataset": {"uri": data, "format": fmt, "validationSplit": "validation"},
            "hyperparameters": {"batchSize": 4, "learningRate": 5e-3, "seed": 1, "loraDropout": 0.0, **hp},
        },
    }


def test_sft_then_dpo_on_its_adapter_and_a_served_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    from kubetune.testing.tiny import make_tiny_causal_lm

    with LocalPlatform.start(tmp_path / "platform") as platform:
        model_dir = platform.artifacts / "models" / "tiny-llama"
        make_tiny_causal_lm(model_dir)
        headers = {"Authorization": f"Bearer {platform.admin_token()}"}
        with httpx.Client(base_url=platform.api_url, headers=headers, timeout=60) as http:
            assert http.post("/api/v1/trainers", json=local_trainer(model_dir)).status_code == 201
            project = http.post("/api/v1/projects", json={"name": "chains", "description": "sft then dpo"})
            assert project.status_code == 201, project.text
        namespace = project.json()["namespace"]
        store = platform.artifacts / namespace
        for folder, train, validation in (
            ("chat", memorisable_chat_jsonl(), memorisable_chat_jsonl()),
            ("pairs", preference_jsonl(16), preference_jsonl(8, offset=60)),
        ):
            (store / folder).mkdir(parents=True)
            (store / folder / "train.jsonl").write_text(train)
            (store / folder / "validation.jsonl").write_text(validation)

        with client.ApiClient(client_configuration(platform.control_plane.kubeconfig)) as api:
            core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
            trainings = (GROUP, VERSION, namespace, "trainings")
            # The DPO Training first: it must wait for sft, which does not exist yet.
            custom.create_namespaced_custom_object(
                *trainings,
                _training(
                    "dpo",
                    "training://sft",
                    f"file://{store}/pairs",
                    "preference",
                    "dpo",
                    maxSteps=6,
                    saveSteps=3,
                    evalSteps=6,
                    beta=0.1,
                ),
            )
            waiting = wait_for(
                custom.list_namespaced_custom_object,
                lambda o: "waiting for Training sft" in str((o.get("status") or {}).get("message")),
                *trainings,
                field_selector="metadata.name=dpo",
            )
            assert waiting["status"]["phase"] == "Pending"
            assert any(c.get("reason") == "WaitingForBaseTraining" for c in waiting["status"]["conditions"])
            custom.create_namespaced_custom_object(
                *trainings,
                _training("sft", "tiny-llama", f"file://{store}/chat", "openai_chat_jsonl", "supervised", maxSteps=6),
            )

            sft = wait_for(
                custom.list_namespaced_custom_object,
                _phase("Succeeded"),
                *trainings,
                field_selector="metadata.name=sft",
                timeout=RUN_SECONDS,
            )
            dpo = wait_for(
                custom.list_namespaced_custom_object,
                _phase("Succeeded"),
                *trainings,
                field_selector="metadata.name=dpo",
                timeout=RUN_SECONDS,
            )
            run = json.loads(core.read_namespaced_config_map("dpo-run", namespace).data["run.json"])
            assert run["objective"] == "dpo" and run["baseModel"] == f"file://{model_dir}"
            assert run["adapter"] == sft["status"]["output"]  # DPO continued sft's adapter
            status = dpo["status"]
            for key in (
                "rewards/chosen",
                "rewards/rejected",
                "rewards/margin",
                "rewards/accuracy",
                "eval_rewards/margin",
                "eval_rewards/accuracy",
            ):
                assert key in status["metrics"], status["metrics"]
            assert status["metrics"]["eval_rewards/margin"] > 0, status["metrics"]
            assert any("rewardMargin" in point for point in status["history"]), status["history"]
            assert [c["step"] for c in status["checkpoints"]] == [3, 6]

            # Checkpoint 3 of dpo, served: sft's base with dpo's adapter as it was at step 3.
            custom.create_namespaced_custom_object(
                GROUP,
                VERSION,
                namespace,
                "inferenceservices",
                {
                    "apiVersion": f"{GROUP}/{VERSION}",
                    "kind": "InferenceService",
                    "metadata": {"name": "dpo-step-3"},
                    "spec": {"model": {"baseModel": "training://dpo/checkpoints/3"}, "auth": "none"},
                },
            )
            served = wait_for(
                custom.list_namespaced_custom_object,
                _phase("Ready"),
                GROUP,
                VERSION,
                namespace,
                "inferenceservices",
                field_selector="metadata.name=dpo-step-3",
                timeout=RUN_SECONDS,
            )
            assert served["status"]["readyReplicas"] == 1, served["status"]
            deployment = client.AppsV1Api(api).read_namespaced_deployment(
                served["status"]["deploymentName"], namespace)
            env = {e.name: e.value for e in deployment.spec.template.spec.containers[0].env}
            # The server loads the chain's first weights (the catalog model) and dpo's adapter as of step 3.
            assert env["KUBETUNE_SERVE_MODEL_URI"] == f"file://{model_dir}"
            assert env["KUBETUNE_SERVE_DEFAULT_ADAPTER"] == "dpo-step-3"
            adapters = core.read_namespaced_config_map(adapters_config_map_name("dpo-step-3"), namespace).data
            assert f"{store}/trainings/dpo/checkpoints/step-00000003/adapter" in json.dumps(adapters), adapters

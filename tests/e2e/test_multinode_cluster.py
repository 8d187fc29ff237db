"""Multi-node Trainings on a real cluster. LoRA: two pods of the chart's `lora` Trainer (the CPU runtime
image, one gloo process each) find each other through kubelet, CoreDNS and the headless Service
(`<job>-0.<job>.<ns>.svc:<the Training's port>`), train together to Succeeded, and the last
checkpoint says world size 2. Full fine-tuning: FSDP2 on 2 pods x 2 processes, one pod lost mid-run, the group
restarted from its checkpoint. Collected only in the cluster's PVC mode (conftest.py): its artifact
claim is ReadWriteMany, which a multi-node output needs (docs/operator.md, "Multi-node output")."""

from __future__ import annotations

from typing import Any

import pytest
from cluster_resilience import create_training, project_with_dataset, wait_training
from cluster_target import MODEL_ID, ClusterTarget, run_store_job, write_tiny_model
from kubernetes import client

pytestmark = pytest.mark.e2e

STEPS = 6
FULL_STEPS = 8


def succeeded(obj: dict[str, Any]) -> bool:
    return (obj.get("status") or {}).get("phase") == "Succeeded"


def assert_last_checkpoint(target: ClusterTarget, api: client.ApiClient, status: dict[str, Any], step: int,
                           world_size: int) -> None:
    """Every node wrote its shard of the last checkpoint into the shared store; its state.json (read by a Job
    on the store) names the step and the world size."""
    last = max(status["checkpoints"], key=lambda c: c["step"])
    assert last["step"] == step
    state = last["uri"].removeprefix("file://") + "/state.json"
    run_store_job(target, api, f"e2e-world-size-{world_size}",
                  f"import json, sys; s = json.load(open({state!r})); print(s); "
                  f"sys.exit(0 if s['world_size'] == {world_size} else 3)")


def test_two_node_lora_training_rendezvouses_through_cluster_dns(target: ClusterTarget) -> None:
    with target.api_client() as api, project_with_dataset(target, api, "e2e-multinode") as (project, dataset):
        write_tiny_model(target, api)
        core, batch = client.CoreV1Api(api), client.BatchV1Api(api)
        create_training(api, project, "pair", {
            "trainerRef": "lora", "task": "causal-lm", "method": "lora", "baseModel": MODEL_ID,
            "nodes": 2, "distributed": {"processesPerNode": 1, "rendezvousTimeoutSeconds": 600},
            "dataset": {"uri": dataset, "format": "openai_chat_jsonl"},
            "hyperparameters": {"maxSeqLength": 256, "batchSize": 2, "maxSteps": STEPS, "saveSteps": 3},
            "backoffLimit": 0,
        })
        status: dict[str, Any] = wait_training(api, project, "pair", succeeded, timeout=1200)["status"]
        assert status["nodes"] == "2/2 Succeeded", status.get("nodeStates")
        assert status["attempts"] == 1
        assert status["progress"]["step"] == STEPS
        assert status["summary"]["finalLoss"] < status["summary"]["initialLoss"]

        # The group met at node 0's name through the cluster's DNS, on the port its headless Service names.
        job = batch.read_namespaced_job(status["jobName"], project)
        assert (job.spec.completion_mode, job.spec.completions) == ("Indexed", 2)
        env = {e.name: e.value for e in job.spec.template.spec.containers[0].env}
        host, port = env["KUBETUNE_RDZV_ENDPOINT"].rsplit(":", 1)
        assert host == f"{job.metadata.name}-0.{job.metadata.name}.{project}.svc"
        service = core.read_namespaced_service(job.metadata.name, project)
        assert service.spec.cluster_ip == "None"
        assert [p.port for p in service.spec.ports] == [int(port)]
        assert_last_checkpoint(target, api, status, STEPS, world_size=2)


def test_full_fine_tuning_on_two_pods_of_two_processes_survives_a_lost_pod(target: ClusterTarget) -> None:
    """FSDP2 (the default strategy of method full) over 2 pods x 2 gloo processes: world size 4. Once the
    group has a checkpoint, node 1's pod is deleted at once (grace 0, as a lost machine): the group restarts
    as a new Job (attempts 2), the trainer resumes from the checkpoint, and the run ends at its last step."""
    with target.api_client() as api, project_with_dataset(target, api, "e2e-fsdp") as (project, dataset):
        write_tiny_model(target, api)
        core = client.CoreV1Api(api)
        create_training(api, project, "quad", {
            "trainerRef": "full", "task": "causal-lm", "method": "full", "baseModel": MODEL_ID,
            "nodes": 2, "distributed": {"processesPerNode": 2, "rendezvousTimeoutSeconds": 600},
            "dataset": {"uri": dataset, "format": "openai_chat_jsonl"},
            # The full Trainer packs by default: 8 short chats would make one sequence for 4 processes, which
            # the trainer refuses (tests/integration/train).
            "hyperparameters": {"maxSeqLength": 256, "batchSize": 4, "maxSteps": FULL_STEPS, "saveSteps": 2,
                                "packing": False},
            "backoffLimit": 1,
        })
        checkpointed = wait_training(api, project, "quad",
                                     lambda o: bool((o.get("status") or {}).get("checkpoints")), timeout=1200)
        assert checkpointed["status"]["phase"] == "Running"
        pods = core.list_namespaced_pod(project, label_selector="kubetune.io/training=quad").items
        [node1] = [p for p in pods if p.metadata.annotations.get("batch.kubernetes.io/job-completion-index")
                   == "1" and p.status.phase == "Running"]
        core.delete_namespaced_pod(node1.metadata.name, project, grace_period_seconds=0)

        status: dict[str, Any] = wait_training(api, project, "quad", succeeded, timeout=1500)["status"]
        assert status["attempts"] == 2, status.get("message")
        assert status["progress"]["step"] == FULL_STEPS
        events = core.list_namespaced_event(project, field_selector="involvedObject.name=quad").items
        assert "Resumed" in {e.reason for e in events}, sorted({e.reason for e in events})
        assert_last_checkpoint(target, api, status, FULL_STEPS, world_size=4)

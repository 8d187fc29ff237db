"""Many processes and many pods: the run config's distributed block, the Indexed Job, the headless Service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kubetune.crd.exit_codes import EXIT_PERMANENT
from kubetune.crd.trainer import TrainerSpec
from kubetune.crd.training import TrainingSpec
from kubetune.operator.builders.distributed import (
    RENDEZVOUS_PORT_COUNT,
    RENDEZVOUS_PORT_MIN,
    build_headless_service,
    rendezvous_port,
)
from kubetune.operator.builders.job import build_job
from kubetune.operator.builders.runconfig import ResolutionError, build_run_config
from kubetune.operator.owner import Owner
from kubetune.operator.settings import Settings


def _config(spec: TrainingSpec, trainer: TrainerSpec, settings: Settings, name: str = "run-1") -> Any:
    return build_run_config(namespace="team-a", name=name, uid="u", spec=spec, trainer=trainer, dataset=None,
                            settings=settings)


def _container(job: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = job["spec"]["template"]["spec"]["containers"][0]
    return container


def _env(job: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in _container(job)["env"]}


def test_one_process_per_gpu_and_the_strategy_follows_the_method(
    trainer: TrainerSpec, settings: Settings, make_training: Callable[..., TrainingSpec]
) -> None:
    lora = _config(make_training(resources={"gpus": 4}), trainer, settings).distributed
    assert (lora.processes_per_node, lora.nodes, lora.strategy) == (4, 1, "ddp")
    full = _config(make_training(method="full", resources={"gpus": 8}), trainer, settings).distributed
    assert (full.processes_per_node, full.strategy) == (8, "fsdp")
    cpu = _config(make_training(resources={"gpus": 0}), trainer, settings).distributed
    assert cpu.processes_per_node == 1
    on_cpu = make_training(resources={"gpus": 0}, distributed={"processesPerNode": 2, "strategy": "fsdp"})
    assert _config(on_cpu, trainer, settings).distributed.processes_per_node == 2
    assert _config(on_cpu, trainer, settings).distributed.strategy == "fsdp"


def test_processes_that_do_not_match_the_gpus_are_refused(
    trainer: TrainerSpec, settings: Settings, make_training: Callable[..., TrainingSpec]
) -> None:
    with pytest.raises(ResolutionError, match="must equal the pod's GPUs"):
        _config(make_training(resources={"gpus": 2}, distributed={"processesPerNode": 3}), trainer, settings)
    with pytest.raises(ResolutionError, match="cpuOffload needs the fsdp"):
        _config(make_training(distributed={"cpuOffload": True}), trainer, settings)
    with pytest.raises(ResolutionError, match="too long"):
        _config(make_training(nodes=12), trainer, settings, name="n" * 55)


def test_one_pod_job_keeps_its_retries_and_gets_shared_memory(
    owner: Owner, trainer: TrainerSpec, settings: Settings, make_training: Callable[..., TrainingSpec]
) -> None:
    spec = make_training(resources={"gpus": 2}, backoffLimit=3)
    job = build_job(owner, spec, trainer, settings, _config(spec, trainer, settings))
    assert job["spec"]["completions"] == job["spec"]["parallelism"] == 1
    assert job["spec"]["backoffLimit"] == 3
    assert "completionMode" not in job["spec"]
    assert "subdomain" not in job["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in job["spec"]["template"]["spec"]["volumes"]}
    assert volumes["dshm"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "2Gi"}
    assert {"name": "dshm", "mountPath": "/dev/shm"} in _container(job)["volumeMounts"]
    env = _env(job)
    assert (env["KUBETUNE_NNODES"], env["KUBETUNE_NPROC_PER_NODE"]) == ("1", "2")
    assert "KUBETUNE_RDZV_ENDPOINT" not in env


def test_permanent_failures_fail_the_job_at_once(
    owner: Owner, training: TrainingSpec, trainer: TrainerSpec, settings: Settings
) -> None:
    policy = build_job(owner, training, trainer, settings)["spec"]["podFailurePolicy"]
    assert policy["rules"] == [
        {"action": "FailJob",
         "onExitCodes": {"containerName": "trainer", "operator": "In", "values": [EXIT_PERMANENT]}},
        # Preempted or evicted: replaced, not counted (the trainer checkpointed on SIGTERM).
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
    ]


def test_many_nodes_make_an_indexed_job_that_fails_as_a_group(
    owner: Owner, trainer: TrainerSpec, settings: Settings, make_training: Callable[..., TrainingSpec]
) -> None:
    spec = make_training(nodes=3, resources={"gpus": 0}, backoffLimit=4,
                         distributed={"processesPerNode": 2, "rendezvousTimeoutSeconds": 120, "shmSize": "3Gi"})
    job = build_job(owner, spec, trainer, settings, _config(spec, trainer, settings), attempts_before=2)
    shape = {k: job["spec"][k] for k in ("completionMode", "completions", "parallelism", "backoffLimit")}
    # backoffLimit 0: the first failed pod fails the Job, the controller ends its peers, the operator restarts.
    assert shape == {"completionMode": "Indexed", "completions": 3, "parallelism": 3, "backoffLimit": 0}
    assert job["metadata"]["annotations"] == {"kubetune.io/attempts-before": "2"}
    pod = job["spec"]["template"]["spec"]
    assert pod["subdomain"] == "run-1-train"
    env = _env(job)
    port = rendezvous_port(owner.uid)
    assert env["KUBETUNE_RDZV_ENDPOINT"] == f"run-1-train-0.run-1-train.team-a.svc:{port}"
    assert (env["KUBETUNE_NNODES"], env["KUBETUNE_NPROC_PER_NODE"], env["KUBETUNE_RDZV_TIMEOUT"]) == ("3", "2", "120")
    assert env["KUBETUNE_LOCAL_ADDR"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    assert "batch.kubernetes.io/controller-uid" in env["KUBETUNE_RDZV_ID"]["fieldRef"]["fieldPath"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["dshm"]["emptyDir"]["sizeLimit"] == "3Gi"


def test_headless_service_names_the_group_with_an_owner(owner: Owner) -> None:
    service = build_headless_service(owner, "run-1-train")
    assert service["metadata"]["name"] == "run-1-train"
    assert service["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["publishNotReadyAddresses"] is True  # peers find node 0 before anyone is ready
    assert service["spec"]["selector"] == {"kubetune.io/training": "run-1", "app.kubernetes.io/component": "trainer"}
    # The port the pods' rendezvous endpoint names (the Training's own, not torchrun's shared default).
    port = rendezvous_port("uid-1")
    assert service["spec"]["ports"][0] == {"name": "rendezvous", "port": port, "targetPort": port}


def test_each_training_has_its_own_stable_rendezvous_port() -> None:
    """Pods that share a network namespace (the local node) must not all bind 29500 on node 0."""
    ports = {rendezvous_port(f"5f0c8a1e-{i:04d}-4c1e-9d7b-0242ac120002") for i in range(200)}
    assert len(ports) >= 195  # spread over the range: two Trainings rarely meet
    assert all(RENDEZVOUS_PORT_MIN <= p < RENDEZVOUS_PORT_MIN + RENDEZVOUS_PORT_COUNT for p in ports)
    assert max(ports) < 30000  # below the NodePort range and Linux's ephemeral ports
    # Stable: a group restart (a new Job of the same Training) rendezvouses on the same port.
    assert rendezvous_port("uid-1") == rendezvous_port("uid-1") != rendezvous_port("uid-2")


def test_hub_token_is_a_secret_reference_and_never_plain_env(
    owner: Owner, settings: Settings, make_training: Callable[..., TrainingSpec],
    make_trainer: Callable[..., TrainerSpec],
) -> None:
    trainer = make_trainer(hfTokenSecret={"name": "hub"}, env=[{"name": "HF_TOKEN", "value": "leaked"}])
    job = build_job(owner, make_training(), trainer, settings)
    tokens = [e for e in _container(job)["env"] if e["name"] == "HF_TOKEN"]
    assert tokens == [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hub", "key": "token"}}}]
    mine = build_job(owner, make_training(hfTokenSecret={"name": "mine", "key": "hf"}), trainer, settings)
    assert _env(mine)["HF_TOKEN"] == {"secretKeyRef": {"name": "mine", "key": "hf"}}


def test_model_cache_is_mounted_at_hf_home(
    owner: Owner, training: TrainingSpec, trainer: TrainerSpec
) -> None:
    settings = Settings(artifact_pvc=None, model_cache_pvc="hf-cache")
    job = build_job(owner, training, trainer, settings)
    volumes = {v["name"]: v for v in job["spec"]["template"]["spec"]["volumes"]}
    assert volumes["model-cache"]["persistentVolumeClaim"] == {"claimName": "hf-cache"}
    assert _env(job)["HF_HOME"] == "/var/cache/kubetune/huggingface"
    host = build_job(owner, training, trainer, Settings(artifact_pvc=None, model_cache_host_path="/srv/hf"))
    volumes = {v["name"]: v for v in host["spec"]["template"]["spec"]["volumes"]}
    assert volumes["model-cache"]["hostPath"] == {"path": "/srv/hf", "type": "DirectoryOrCreate"}
    assert "HF_HOME" not in _env(build_job(owner, training, trainer, Settings(artifact_pvc=None)))

"""The Job built for a Training: pod from the Trainer, run config mounted, least privilege."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubetune.crd.trainer import TrainerSpec
from kubetune.crd.training import TrainingSpec
from kubetune.operator.builders.job import build_job
from kubetune.operator.owner import Owner
from kubetune.operator.settings import Settings


def _pod(job: dict[str, Any]) -> dict[str, Any]:
    pod: dict[str, Any] = job["spec"]["template"]["spec"]
    return pod


def test_job_runs_the_trainer_image_with_the_mounted_config(
    owner: Owner, training: TrainingSpec, trainer: TrainerSpec, settings: Settings
) -> None:
    job = build_job(owner, training, trainer, settings)
    assert job["metadata"]["name"] == "run-1-train"
    container = _pod(job)["containers"][0]
    assert container["image"] == "ghcr.io/kubetune/runtime:0.1.0"
    assert container["command"] == ["kubetune-train", "--config", "/etc/kubetune/run.json"]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    # Only the project's own prefix of the store (subPath), never the whole volume.
    assert mounts == {"/etc/kubetune": "run-config", "/mnt/artifacts/team-a": "artifacts", "/dev/shm": "dshm"}
    assert {m.get("subPath") for m in container["volumeMounts"] if m["name"] == "artifacts"} == {"team-a"}
    volumes = {v["name"]: v for v in _pod(job)["volumes"]}
    assert volumes["run-config"]["configMap"]["name"] == "run-1-run"
    assert volumes["artifacts"]["persistentVolumeClaim"]["claimName"] == "artifacts"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["KUBETUNE_TRAINING_NAMESPACE"] == "team-a"
    assert env["KUBETUNE_TRAINING_NAME"] == "run-1"
    assert env["HF_HUB_OFFLINE"] == "1"
    assert container["terminationMessagePath"] == "/dev/termination-log"
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"


def test_job_asks_for_gpus_on_the_right_nodes(
    owner: Owner, training: TrainingSpec, trainer: TrainerSpec, settings: Settings
) -> None:
    pod = _pod(build_job(owner, training, trainer, settings))
    resources = pod["containers"][0]["resources"]
    assert resources["limits"]["nvidia.com/gpu"] == "1"
    assert resources["requests"] == {"cpu": "4", "memory": "16Gi"}
    assert resources["limits"]["memory"] == "16Gi"
    assert pod["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}
    keys = {t["key"] for t in pod["tolerations"]}
    assert keys == {"dedicated", "nvidia.com/gpu"}
    assert pod["priorityClassName"] == "training"


def test_training_resources_override_the_trainer_defaults(
    owner: Owner, trainer: TrainerSpec, settings: Settings, make_training: Callable[..., TrainingSpec]
) -> None:
    spec = make_training(resources={"gpus": 0, "memory": "2Gi"})
    pod = _pod(build_job(owner, spec, trainer, settings))
    resources = pod["containers"][0]["resources"]
    assert "nvidia.com/gpu" not in resources.get("limits", {})
    assert resources["requests"]["memory"] == "2Gi"
    assert "nodeSelector" not in pod
    assert {t["key"] for t in pod["tolerations"]} == {"dedicated"}


def test_job_runs_as_the_trainings_own_account_non_root(
    owner: Owner, training: TrainingSpec, trainer: TrainerSpec, settings: Settings
) -> None:
    pod = _pod(build_job(owner, training, trainer, settings))
    assert pod["serviceAccountName"] == "run-1-trainer"
    assert pod["automountServiceAccountToken"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["restartPolicy"] == "Never"
    assert pod["containers"][0]["securityContext"]["allowPrivilegeEscalation"] is False


def test_job_limits_and_suspend_come_from_the_training(
    owner: Owner, trainer: TrainerSpec, settings: Settings, make_training: Callable[..., TrainingSpec]
) -> None:
    spec = make_training(suspend=True, backoffLimit=5, activeDeadlineSeconds=600, ttlSecondsAfterFinished=60)
    job = build_job(owner, spec, trainer, settings)["spec"]
    assert job["suspend"] is True
    assert job["backoffLimit"] == 5
    assert job["activeDeadlineSeconds"] == 600
    assert job["ttlSecondsAfterFinished"] == 60


def test_job_defaults_come_from_settings(owner: Owner, training: TrainingSpec, trainer: TrainerSpec) -> None:
    settings = Settings(default_backoff_limit=1, default_ttl_seconds_after_finished=30, artifact_pvc=None)
    job = build_job(owner, training, trainer, settings)
    assert job["spec"]["backoffLimit"] == 1
    assert job["spec"]["ttlSecondsAfterFinished"] == 30
    assert "activeDeadlineSeconds" not in job["spec"]
    assert [v["name"] for v in _pod(job)["volumes"]] == ["run-config", "dshm"]


def test_job_is_owned_and_labelled(
    owner: Owner, training: TrainingSpec, trainer: TrainerSpec, settings: Settings
) -> None:
    job = build_job(owner, training, trainer, settings)
    meta = job["metadata"]
    assert meta["namespace"] == "team-a"
    (ref,) = meta["ownerReferences"]
    assert ref == {
        "apiVersion": "kubetune.io/v1alpha1",
        "kind": "Training",
        "name": "run-1",
        "uid": "uid-1",
        "controller": True,
        "blockOwnerDeletion": True,
    }
    assert meta["labels"]["kubetune.io/training"] == "run-1"
    assert meta["labels"]["kubetune.io/project"] == "team-a"
    assert "unrelated" not in meta["labels"]
    assert job["spec"]["template"]["metadata"]["labels"]["kubetune.io/training"] == "run-1"


def test_pvc_inputs_are_mounted_read_only_and_the_store_only_with_the_project_prefix(
    owner: Owner, training: TrainingSpec, trainer: TrainerSpec, settings: Settings
) -> None:
    from kubetune.crd.references import layout_from_env
    from kubetune.crd.runconfig import TrainRunConfig
    from kubetune.operator.builders.runconfig import build_run_config

    spec = training.model_copy(update={"base_model": "pvc://models/llama",
                                       "output": "pvc://artifacts/team-a/out/run-1"})
    config: TrainRunConfig = build_run_config(namespace="team-a", name="run-1", uid="u", spec=spec,
                                              trainer=trainer, dataset=None, settings=settings)
    pod = _pod(build_job(owner, spec, trainer, settings, config))
    container = pod["containers"][0]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/mnt/pvc/models"]["readOnly"] is True
    assert mounts["/mnt/pvc/artifacts/team-a"] == {"name": "artifacts", "mountPath": "/mnt/pvc/artifacts/team-a",
                                                   "subPath": "team-a", "readOnly": False}
    assert all(m.get("subPath") == "team-a" for m in container["volumeMounts"] if m["name"] == "artifacts")
    claims = {v["persistentVolumeClaim"]["claimName"]: v["persistentVolumeClaim"].get("readOnly")
              for v in pod["volumes"] if "persistentVolumeClaim" in v}
    assert claims == {"artifacts": None, "models": True}
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    got = layout_from_env(env)
    assert got is not None and got[1] == "team-a" and got[0].artifact_claim == "artifacts"
    # The runtime looks for pvc://NAME where the claims are mounted, told rather than left to the image.
    assert env["KUBETUNE_PVC_ROOT"] == "/mnt/pvc"

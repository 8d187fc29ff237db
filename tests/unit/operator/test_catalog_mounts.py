"""A catalog model kept in the store outside every project is mounted, read-only and alone, into the pods
that read it: the resolver trusts it, and without the mount a pod (which sees only its project's prefix)
would not find it. Found on the real cluster, where pods see only what is mounted."""

from __future__ import annotations

from typing import Any

from kubetune.crd.trainer import TrainerSpec
from kubetune.crd.training import TrainingSpec
from kubetune.operator.builders import podspec
from kubetune.operator.builders.job import build_job
from kubetune.operator.builders.runconfig import build_run_config
from kubetune.operator.owner import Owner
from kubetune.operator.settings import Settings

STORE = "/mnt/artifacts"


def test_a_catalog_model_in_the_store_is_mounted_read_only_at_its_own_path(settings: Settings) -> None:
    uri = f"file://{STORE}/models/tiny-llama"
    assert podspec.catalog_mounts({uri}, settings, "team-a") == [
        {"name": "artifacts", "mountPath": f"{STORE}/models/tiny-llama", "subPath": "models/tiny-llama",
         "readOnly": True}]


def test_nothing_else_is_mounted(settings: Settings) -> None:
    outside = {
        "file:///models/tiny-llama",                    # not in the store: the image's own files
        f"file://{STORE}/team-a/models/mine",           # the project's prefix, mounted already
        f"file://{STORE}/models/../team-b/secret",      # never a way out of the named directory
        "pvc://models/llama", "s3://bucket/models/x", "hf://org/model",
    }
    assert podspec.catalog_mounts(outside, settings, "team-a") == []
    assert podspec.catalog_mounts({f"file://{STORE}/models/x"}, settings.model_copy(update={"artifact_pvc": ""}),
                                  "team-a") == []


def test_training_pod_reads_a_catalog_model_from_the_store(owner: Owner, training: TrainingSpec,
                                                            trainer: TrainerSpec, settings: Settings) -> None:
    models = [{"id": "store-model", "name": "In the store", "uri": f"file://{STORE}/models/store-model"}]
    trainer = trainer.model_copy(update={"models": [*trainer.models, *[type(trainer.models[0])(**m) for m in models]]})
    spec = training.model_copy(update={"base_model": "store-model"})
    config = build_run_config(namespace="team-a", name="run-1", uid="u", spec=spec, trainer=trainer,
                              dataset=None, settings=settings)
    container: dict[str, Any] = build_job(owner, spec, trainer, settings, config)["spec"]["template"]["spec"][
        "containers"][0]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts[f"{STORE}/models/store-model"] == {
        "name": "artifacts", "mountPath": f"{STORE}/models/store-model", "subPath": "models/store-model",
        "readOnly": True}
    assert mounts[f"{STORE}/team-a"]["subPath"] == "team-a"
    # A base model the user names by uri is not the admin's: no extra mount.
    by_uri = training.model_copy(update={"base_model": f"file://{STORE}/team-a/models/mine"})
    config = build_run_config(namespace="team-a", name="run-1", uid="u", spec=by_uri, trainer=trainer,
                              dataset=None, settings=settings)
    container = build_job(owner, by_uri, trainer, settings, config)["spec"]["template"]["spec"]["containers"][0]
    assert [m["mountPath"] for m in container["volumeMounts"] if m["name"] == "artifacts"] == [f"{STORE}/team-a"]

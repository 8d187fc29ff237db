"""training:// references: what each Training of a chain resolves to, when a referrer waits, what is refused."""

from __future__ import annotations

from typing import Any

import pytest

from kubetune.crd.chains import ChainModel, Waiting, resolve_training_model
from kubetune.crd.references import InvalidReference, parse_training_uri

pytestmark = pytest.mark.unit
STORE = "file:///store/team"


def _training(base: str, method: str = "lora", phase: str | None = "Succeeded", name: str = "x",
              checkpoints: tuple[int, ...] = ()) -> dict[str, Any]:
    sub = "model" if method == "full" else "adapter"
    status: dict[str, Any] = {"phase": phase, "checkpoints": [
        {"step": s, "uri": f"{STORE}/trainings/{name}/checkpoints/step-{s:08d}"} for s in checkpoints]}
    if phase == "Succeeded":
        status["output"] = f"{STORE}/trainings/{name}/{sub}"
    return {"spec": {"baseModel": base, "method": method, "trainerRef": "cpu"}, "status": status}


def _resolve(trainings: dict[str, dict[str, Any]], uri: str, referrer: str | None = None) -> ChainModel | Waiting:
    catalog = {"tiny-llm": "file:///store/models/tiny-llm"}

    def base_of(spec: Any) -> str:
        return str(catalog.get(spec["baseModel"], spec["baseModel"]))

    return resolve_training_model(uri, trainings.get, base_of, referrer=referrer)


def test_lora_output_is_its_adapter_on_its_base() -> None:
    found = _resolve({"sft": _training("tiny-llm", name="sft")}, "training://sft")
    assert found == ChainModel("file:///store/models/tiny-llm", f"{STORE}/trainings/sft/adapter", "sft", "lora")
    assert found.name == "sft"


def test_full_output_is_the_whole_model() -> None:
    found = _resolve({"sft": _training("tiny-llm", "full", name="sft")}, "training://sft")
    assert found == ChainModel(f"{STORE}/trainings/sft/model", None, "sft", "full")


def test_lora_on_lora_keeps_the_first_weights_and_the_newest_adapter() -> None:
    trainings = {"sft": _training("tiny-llm", name="sft"), "dpo": _training("training://sft", name="dpo")}
    found = _resolve(trainings, "training://dpo")
    assert isinstance(found, ChainModel)
    assert (found.base_model, found.adapter) == ("file:///store/models/tiny-llm", f"{STORE}/trainings/dpo/adapter")


def test_lora_on_full_sits_on_the_full_output() -> None:
    trainings = {"base": _training("tiny-llm", "full", name="base"), "lora": _training("training://base", name="lora")}
    found = _resolve(trainings, "training://lora")
    assert isinstance(found, ChainModel)
    assert (found.base_model, found.adapter) == (f"{STORE}/trainings/base/model", f"{STORE}/trainings/lora/adapter")


def test_a_listed_checkpoint_is_usable_before_the_training_ends() -> None:
    trainings = {"sft": _training("tiny-llm", phase="Running", name="sft", checkpoints=(10, 20))}
    found = _resolve(trainings, "training://sft/checkpoints/20")
    assert isinstance(found, ChainModel) and found.step == 20 and found.name == "sft-step-20"
    assert found.adapter == f"{STORE}/trainings/sft/checkpoints/step-00000020/adapter"
    full = _resolve({"f": _training("tiny-llm", "full", "Running", "f", (5,))}, "training://f/checkpoints/5")
    assert isinstance(full, ChainModel) and full.base_model.endswith("step-00000005/model") and full.adapter is None


@pytest.mark.parametrize(("trainings", "uri", "message"), [
    ({}, "training://sft", "not found in this namespace"),
    ({"sft": _training("tiny-llm", phase="Running")}, "training://sft", "to succeed (now Running)"),
    ({"sft": _training("tiny-llm", phase=None)}, "training://sft", "(now Pending)"),
    ({"sft": _training("tiny-llm", phase="Failed")}, "training://sft", "(now Failed)"),
    ({"sft": _training("tiny-llm", phase="Running", checkpoints=(10,))}, "training://sft/checkpoints/30",
     "checkpoint 30 of Training sft (listed: 10)"),
])
def test_referrers_wait_until_the_model_exists(trainings: dict[str, Any], uri: str, message: str) -> None:
    found = _resolve(trainings, uri)
    assert isinstance(found, Waiting) and message in found.message, found


def test_loops_and_self_references_are_refused() -> None:
    trainings = {"a": _training("training://b", name="a"), "b": _training("training://a", name="b")}
    with pytest.raises(InvalidReference, match=r"loop of Trainings \(a -> b -> a\)"):
        _resolve(trainings, "training://a")
    with pytest.raises(InvalidReference, match="loop"):
        _resolve({"me": _training("tiny-llm", name="me")}, "training://me", referrer="me")


@pytest.mark.parametrize("uri", ["training://", "training://Upper", "training://a/b", "training://a/checkpoints/",
                                 "training://a/checkpoints/x", "training://other-ns/a", "training://a/../b"])
def test_malformed_training_uris_are_refused(uri: str) -> None:
    with pytest.raises(InvalidReference, match="training://<training name>"):
        parse_training_uri(uri)


def test_training_uri_parts() -> None:
    assert parse_training_uri("training://sft").name == "sft"
    ref = parse_training_uri("training://sft-2/checkpoints/120")
    assert (ref.name, ref.step) == ("sft-2", 120)

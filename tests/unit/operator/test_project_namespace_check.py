"""Trainings and InferenceServices outside project namespaces wait Pending/NotAProject, before any child."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import kopf
import pytest

from kubetune.crd import labels as lbl
from kubetune.crd.kinds import INFERENCE_SERVICE, TRAINING, Kind
from kubetune.operator.handlers.inferenceservice import reconcile_isvc
from kubetune.operator.handlers.project_namespaces import is_project, project_namespaces
from kubetune.operator.handlers.training import reconcile_training
from kubetune.operator.owner import Owner
from kubetune.operator.phases import TrainingState, training_conditions
from kubetune.operator.projects import NOT_A_PROJECT, RECHECK_SECONDS, not_a_project


def test_only_projects_pass_when_the_operator_works_only_in_projects() -> None:
    assert not_a_project("team-a", True, projects_only=True) is None
    assert not_a_project("plain", False, projects_only=False) is None  # no admission policy: anywhere
    for seen in (False, None):  # unlabelled, or not seen by the index (yet)
        message = not_a_project("plain", seen, projects_only=True)
        assert message is not None
        assert "namespace plain is not a kubetune project" in message
        assert f"kubectl label namespace plain {lbl.PROJECT}=plain" in message


def test_the_namespace_index_records_the_project_label() -> None:
    assert asyncio.run(project_namespaces(name="team-a", labels={lbl.PROJECT: "team-a"})) == {"team-a": True}
    assert asyncio.run(project_namespaces(name="plain", labels={"other": "x"})) == {"plain": False}
    index = {"team-a": [True], "plain": [False]}
    assert is_project(index, "team-a") is True
    assert is_project(index, "plain") is False
    assert is_project(index, "unseen") is None


def test_the_pending_condition_carries_the_reason() -> None:
    state = TrainingState("Pending", NOT_A_PROJECT, "label it")
    conds = {c["type"]: c for c in training_conditions(state, 1)}
    assert conds["Pending"]["status"] == "True" and conds["Pending"]["reason"] == NOT_A_PROJECT
    assert conds["Pending"]["message"] == "label it"


class NoKube:
    """Any API call would be a child attempted: the point is that none is."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the API was called ({name}) before the namespace was checked")


class RecordingStatus:
    def __init__(self) -> None:
        self.writes: list[tuple[Kind, Mapping[str, Any]]] = []

    def base(self, uid: str, observed: Mapping[str, Any], observed_rv: Any) -> dict[str, Any]:
        return dict(observed)

    def write(self, kind: Kind, owner: Owner, observed: Mapping[str, Any], observed_rv: Any,
              fields: Mapping[str, Any], event: Any = None, into: Any = None) -> bool:
        self.writes.append((kind, fields))
        return True


def training_doc() -> dict[str, Any]:
    return {"trainerRef": "lora", "baseModel": "tiny-llama",
            "dataset": {"uri": "file:///data/chat.jsonl", "format": "openai_chat_jsonl"}}


def _view(spec: dict[str, Any]) -> dict[str, Any]:
    return {"name": "run", "namespace": "plain", "uid": "u-1", "generation": 1, "resourceVersion": "5",
            "labels": {}, "spec": spec, "status": {}}


def _runtime() -> SimpleNamespace:
    return SimpleNamespace(kube=NoKube(), status=RecordingStatus(), settings=None)


def test_a_training_outside_a_project_waits_before_anything_is_looked_up() -> None:
    rt = _runtime()
    message = not_a_project("plain", False, projects_only=True)
    with pytest.raises(kopf.TemporaryError) as raised:
        reconcile_training(rt, _view(training_doc()), {}, {}, {}, {}, {}, {}, outside_project=message)  # type: ignore[arg-type]
    assert raised.value.delay == RECHECK_SECONDS
    [(kind, fields)] = rt.status.writes
    assert kind == TRAINING and fields["phase"] == "Pending" and fields["message"] == message
    pending = next(c for c in fields["conditions"] if c["type"] == "Pending")
    assert pending["status"] == "True" and pending["reason"] == NOT_A_PROJECT


def test_an_inference_service_outside_a_project_waits_before_any_child() -> None:
    rt = _runtime()
    message = not_a_project("plain", None, projects_only=True)
    spec = {"model": {"baseModel": "file:///models/tiny"}}
    with pytest.raises(kopf.TemporaryError):
        reconcile_isvc(rt, _view(spec), {}, {}, {}, {}, outside_project=message)  # type: ignore[arg-type]
    [(kind, fields)] = rt.status.writes
    assert kind == INFERENCE_SERVICE and fields["phase"] == "Pending" and fields["message"] == message
    pending = next(c for c in fields["conditions"] if c["type"] == "Pending")
    assert pending["status"] == "True" and pending["reason"] == NOT_A_PROJECT
    ready = next(c for c in fields["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False" and ready["reason"] == NOT_A_PROJECT


def test_a_project_goes_on_past_the_check() -> None:
    rt = _runtime()
    with pytest.raises(kopf.TemporaryError):  # no Trainer in the (empty) index: the next reason, not this one
        reconcile_training(rt, _view(training_doc()), {}, {}, {}, {}, {}, {}, outside_project=None)  # type: ignore[arg-type]
    [(_, fields)] = rt.status.writes
    assert next(c for c in fields["conditions"] if c["type"] == "Pending")["reason"] == "TrainerNotFound"


def test_a_training_started_while_its_namespace_was_a_project_keeps_going() -> None:
    rt = _runtime()
    message = not_a_project("plain", False, projects_only=True)
    jobs = {("plain", "run"): [{"name": "run-train", "suspend": False}]}
    with pytest.raises(kopf.TemporaryError):  # past the project check, to the Trainer lookup
        reconcile_training(rt, _view(training_doc()), {}, {}, jobs, {}, {}, {}, outside_project=message)  # type: ignore[arg-type]
    [(_, fields)] = rt.status.writes
    assert next(c for c in fields["conditions"] if c["type"] == "Pending")["reason"] == "TrainerNotFound"

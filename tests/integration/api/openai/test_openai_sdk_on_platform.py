"""The OpenAI fine-tuning API, driven by the unmodified `openai` SDK (only base_url and api_key set).

The whole local platform (control plane, node, operator, facade on a real port). An administrator
registers a CPU Trainer for a tiny model built here, makes two projects and one API key for each;
then a script as a hosted fine-tuning user writes it: upload, create, follow the events until the job
succeeds, list checkpoints, chat with the `ft:` model (plain, streamed, completions, a checkpoint),
pause and resume, cancel, and the refusals (unknown model, a bad line, wrong purpose, another
project's ids).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import openai
import pytest
from kubernetes import client
from openai.types.fine_tuning import FineTuningJob

from kubetune.crd import GROUP, VERSION
from kubetune.localdev.clients import client_configuration
from kubetune.localdev.demo import local_trainer
from kubetune.localdev.platform import LocalPlatform

pytestmark = pytest.mark.integration

RUN_SECONDS = 600
T = TypeVar("T")


def _rows(count: int = 32) -> bytes:
    chats = [{"messages": [{"role": "user", "content": f"What is {i} plus {i}?"},
                           {"role": "assistant", "content": f"{i} plus {i} is {2 * i}."}]} for i in range(count)]
    return "".join(json.dumps(c) + "\n" for c in chats).encode()


def _until(check: Callable[[], T | None], what: str, timeout: float = RUN_SECONDS,
           explain: Callable[[], str] = str) -> T:
    """Poll the API until `check` returns something (an HTTP client has no watch to wait on)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found is not None:
            return found
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}: {explain()}")


def _services(p: LocalPlatform) -> Callable[[], str]:
    """What a failed wait for a model reports: every InferenceService's status and its server's log tail."""
    def explain() -> str:
        with client.ApiClient(client_configuration(p.control_plane.kubeconfig)) as api:
            found = client.CustomObjectsApi(api).list_cluster_custom_object(GROUP, VERSION, "inferenceservices")
        lines = [f"{i['metadata']['name']}: {json.dumps(i.get('status') or {})}" for i in found["items"]]
        logs = sorted((p.artifacts.parent / "node" / "logs").rglob("*"), key=lambda f: f.stat().st_mtime)
        tails = [f"{f}:\n{f.read_text(errors='replace')[-3000:]}" for f in logs if f.is_file() and "ckpt" in str(f)]
        return "\n".join(lines + tails[-2:])
    return explain


def _answered(call: Callable[[], T]) -> Callable[[], T | None]:
    """The call's result, or None while the model is still loading (503)."""
    def attempt() -> T | None:
        try:
            return call()
        except openai.APIStatusError as exc:
            if exc.status_code == 503:
                return None
            raise
    return attempt


@pytest.fixture
def platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LocalPlatform, dict[str, Any]]]:
    """The platform, a CPU Trainer for `tiny-llama`, projects a and b with an API key each."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    from kubetune.testing.tiny import make_tiny_causal_lm

    with LocalPlatform.start(tmp_path / "platform") as p:
        model_dir = p.artifacts / "models" / "tiny-llama"
        make_tiny_causal_lm(model_dir)
        with httpx.Client(base_url=p.api_url, headers={"Authorization": f"Bearer {p.admin_token()}"},
                          timeout=60) as admin:
            assert admin.post("/api/v1/trainers", json=local_trainer(model_dir)).status_code == 201
            keys = {}
            for name in ("a", "b"):
                project = admin.post("/api/v1/projects", json={"name": f"openai {name}", "description": "sdk"})
                assert project.status_code == 201, project.text
                key = admin.post("/api/v1/admin/api-keys", json={"name": f"script-{name}",
                                                                 "project_ids": [project.json()["key"]]})
                assert key.status_code == 201, key.text
                keys[name] = key.json()["key"]
                keys[f"{name}-project"] = project.json()["key"]
        yield p, keys


def test_openai_sdk_fine_tunes_and_chats(platform: tuple[LocalPlatform, dict[str, Any]]) -> None:
    p, keys = platform
    client = openai.OpenAI(base_url=f"{p.api_url}/v1", api_key=keys["a"])
    other = openai.OpenAI(base_url=f"{p.api_url}/v1", api_key=keys["b"])

    # Refusals first: each names what is wrong, in OpenAI's error body, and leaves nothing behind.
    bad = _rows(2) + b'{"messages": [{"role": "user"}]}\n'
    with pytest.raises(openai.BadRequestError) as err:
        client.files.create(file=("bad.jsonl", bad), purpose="fine-tune")
    assert "line 3" in err.value.message and err.value.param == "file", err.value.message
    with pytest.raises(openai.BadRequestError) as err:
        client.files.create(file=("data.jsonl", _rows()), purpose="batch")
    assert err.value.param == "purpose"
    assert list(client.files.list()) == []

    training_file = client.files.create(file=("arithmetic.jsonl", _rows()), purpose="fine-tune")
    assert training_file.purpose == "fine-tune" and training_file.bytes == len(_rows())
    assert client.files.content(training_file.id).content == _rows()
    with pytest.raises(openai.NotFoundError):
        other.files.retrieve(training_file.id)
    with pytest.raises(openai.NotFoundError):
        other.fine_tuning.jobs.create(model="tiny-llama", training_file=training_file.id)
    with pytest.raises(openai.BadRequestError) as err:
        client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training_file.id)
    assert err.value.param == "model" and err.value.code == "model_not_available"
    with pytest.raises(openai.NotFoundError) as nf:
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    assert nf.value.code == "model_not_found"

    # Create, follow the events until it succeeds.
    validation_file = client.files.create(file=("held-out.jsonl", _rows(4)), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(
        model="tiny-llama", training_file=training_file.id, validation_file=validation_file.id, suffix="arith",
        seed=3, method={"type": "supervised", "supervised": {"hyperparameters": {
            "n_epochs": 1, "batch_size": 4, "learning_rate_multiplier": 15,
            "max_steps": 12, "save_steps": 4, "logging_steps": 1, "eval_steps": 6}}})
    assert job.status in ("validating_files", "queued") and job.seed == 3
    assert job.method is not None and job.method.supervised is not None
    assert job.method.supervised.hyperparameters.learning_rate_multiplier == 15
    seen: set[str] = set()

    def finished(job_id: str) -> Callable[[], FineTuningJob | None]:
        def check() -> FineTuningJob | None:
            current = client.fine_tuning.jobs.retrieve(job_id)
            seen.add(current.status)
            return current if current.status in ("succeeded", "failed", "cancelled") else None
        return check

    done = _until(finished(job.id), "the job to finish")
    assert done.status == "succeeded", (done.error, seen)
    assert done.fine_tuned_model == f"ft:tiny-llama:{keys['a-project']}:arith:{job.id}"
    events = list(client.fine_tuning.jobs.list_events(job.id, limit=5))  # pages through the cursor
    assert events[0].message == "The job has successfully completed"
    assert events[-1].message == f"Created fine-tuning job: {job.id}"
    steps = [e.data for e in events if e.type == "metrics"]
    assert steps and all("train_loss" in d for d in steps), steps  # type: ignore[operator]
    assert steps[0]["step"] == 12 and steps[0]["train_loss"] < steps[-1]["train_loss"]  # type: ignore[index]
    assert any("valid_loss" in d for d in steps), steps  # type: ignore[operator]  # the validation file's loss
    checkpoints = client.fine_tuning.jobs.checkpoints.list(job.id).data
    assert checkpoints and [c.step_number for c in checkpoints] == sorted(
        (c.step_number for c in checkpoints), reverse=True)
    assert checkpoints[0].metrics.train_loss is not None
    assert [j.id for j in client.fine_tuning.jobs.list()] == [job.id]
    assert list(other.fine_tuning.jobs.list()) == []

    # The fine-tuned model answers through the gateway (the platform serves it once the job succeeded).
    model = str(done.fine_tuned_model)
    _until(lambda: model in [m.id for m in client.models.list()] or None, "the model to be listed")
    question = [{"role": "user", "content": "What is 3 plus 3?"}]
    chat = _until(_answered(lambda: client.chat.completions.create(
        model=model, messages=question, max_tokens=8, temperature=0)), "the model to answer", explain=_services(p))  # type: ignore[arg-type]
    assert chat.choices[0].message.content and chat.usage is not None and chat.usage.completion_tokens >= 1
    stream = client.chat.completions.create(model=model, messages=question, max_tokens=8,  # type: ignore[arg-type]
                                            temperature=0, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == chat.choices[0].message.content
    completion = client.completions.create(model=model, prompt="What is 3 plus 3?", max_tokens=4, temperature=0)
    assert completion.choices[0].text
    with pytest.raises(openai.NotFoundError):
        other.chat.completions.create(model=model, messages=question)  # type: ignore[arg-type]

    # Pause and resume (it runs to the end); cancel for good.
    second = client.fine_tuning.jobs.create(model="tiny-llama", training_file=training_file.id,
                                            hyperparameters={"n_epochs": 1, "batch_size": 4})
    paused = client.fine_tuning.jobs.pause(second.id)
    assert paused.status == "paused"
    with pytest.raises(openai.BadRequestError):
        client.fine_tuning.jobs.pause(second.id)
    assert client.fine_tuning.jobs.resume(second.id).status != "paused"
    resumed = _until(finished(second.id), "the resumed job to finish")
    assert resumed.status == "succeeded", resumed.error
    third = client.fine_tuning.jobs.create(model="tiny-llama", training_file=training_file.id)
    assert client.fine_tuning.jobs.cancel(third.id).status == "cancelled"
    with pytest.raises(openai.BadRequestError):
        client.fine_tuning.jobs.resume(third.id)
    assert client.fine_tuning.jobs.retrieve(third.id).status == "cancelled"
    assert [j.id for j in client.fine_tuning.jobs.list(limit=2).data] == [third.id, second.id]

    # A listed checkpoint is a model too: served on first use.
    checkpoint = checkpoints[-1].fine_tuned_model_checkpoint
    early = _until(_answered(lambda: client.chat.completions.create(
        model=checkpoint, messages=question, max_tokens=4, temperature=0)), "the checkpoint to answer", 300,
        _services(p))  # type: ignore[arg-type]
    assert early.choices[0].message.content is not None
    assert checkpoint in [m.id for m in client.models.list()]

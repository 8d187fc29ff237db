"""The OpenAI fine-tuning API on the fake cluster, driven by the real `openai` SDK over the ASGI app."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import openai
import pytest
import pytest_asyncio
from api_env import CHAT_ROWS, Env
from openai_sdk import sdk

from kubetune.api.cluster import INFERENCE_SERVICES

pytestmark = pytest.mark.unit


@pytest_asyncio.fixture(loop_scope="function")
async def alice(env: Env) -> AsyncIterator[openai.AsyncOpenAI]:
    async with sdk(env, "alice") as client:
        yield client


def rows(count: int = 10) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in CHAT_ROWS[:count]).encode()


async def test_files_upload_list_content_delete(env: Env, alice: openai.AsyncOpenAI) -> None:
    created = await alice.files.create(file=("train.jsonl", rows()), purpose="fine-tune")
    assert created.id.startswith("file-") and created.bytes == len(rows()) and created.purpose == "fine-tune"
    assert created.filename == "train.jsonl" and created.status == "uploaded"
    listed = [f.id async for f in alice.files.list()]
    assert listed == [created.id]
    assert (await alice.files.retrieve(created.id)).id == created.id
    assert (await alice.files.content(created.id)).content == rows()
    deleted = await alice.files.delete(created.id)
    assert deleted.deleted and deleted.id == created.id
    with pytest.raises(openai.NotFoundError) as err:
        await alice.files.retrieve(created.id)
    assert err.value.code == "file_not_found"


async def test_file_refusals_name_the_line_the_purpose_and_the_project(env: Env, alice: openai.AsyncOpenAI) -> None:
    bad = rows(2) + b'{"messages": "not a list"}\n'
    with pytest.raises(openai.BadRequestError) as err:
        await alice.files.create(file=("bad.jsonl", bad), purpose="fine-tune")
    assert "line 3" in err.value.message and err.value.param == "file" and err.value.code == "invalid_file"
    with pytest.raises(openai.BadRequestError) as err:
        await alice.files.create(file=("train.jsonl", rows()), purpose="assistants")
    assert err.value.param == "purpose"
    assert [f async for f in alice.files.list()] == []  # nothing half-written
    assert not list(env.ctx.storage.fs.find(env.ctx.storage.root))
    mine = await alice.files.create(file=("train.jsonl", rows()), purpose="fine-tune")
    async with sdk(env, "bob") as bob:
        with pytest.raises(openai.NotFoundError):
            await bob.files.retrieve(mine.id)
        with pytest.raises(openai.NotFoundError) as err:
            await bob.fine_tuning.jobs.create(model="llama2-7b", training_file=mine.id)
        assert err.value.param == "training_file"


async def _job(env: Env, alice: openai.AsyncOpenAI, **extra: Any) -> Any:
    file = await alice.files.create(file=("train.jsonl", rows()), purpose="fine-tune")
    return await alice.fine_tuning.jobs.create(model="llama2-7b", training_file=file.id, **extra)


async def test_job_create_resolves_auto_and_builds_the_training(env: Env, alice: openai.AsyncOpenAI) -> None:
    job = await _job(env, alice, suffix="support", seed=7, metadata={"team": "care"},
                     method={"type": "supervised", "supervised": {"hyperparameters": {
                         "n_epochs": 2, "learning_rate_multiplier": 0.5, "max_steps": 4}}})
    assert job.status in ("validating_files", "queued") and job.model == "llama2-7b" and job.seed == 7
    assert job.method is not None and job.method.type == "supervised"
    hp = job.method.supervised.hyperparameters  # type: ignore[union-attr]
    assert (hp.n_epochs, hp.batch_size, hp.learning_rate_multiplier) == (2, 8, 0.5)
    assert job.metadata == {"team": "care"} and job.fine_tuned_model is None
    training = env.ctx.cache.trainings.get(job.id, env.projects["alice"]["namespace"])
    assert training is not None
    spec = training["spec"]
    assert spec["hyperparameters"]["learningRate"] == pytest.approx(0.0001)
    assert spec["hyperparameters"]["epochs"] == 2 and spec["hyperparameters"]["maxSteps"] == 4
    assert spec["serve"]["enabled"] is True and spec["baseModel"] == "llama2-7b"
    assert [j.id async for j in alice.fine_tuning.jobs.list(metadata={"team": "care"})] == [job.id]
    assert [j.id async for j in alice.fine_tuning.jobs.list(metadata={"team": "other"})] == []


async def test_job_refusals(env: Env, alice: openai.AsyncOpenAI) -> None:
    file = await alice.files.create(file=("train.jsonl", rows()), purpose="fine-tune")
    with pytest.raises(openai.BadRequestError) as err:
        await alice.fine_tuning.jobs.create(model="no-such-model", training_file=file.id)
    assert err.value.param == "model" and err.value.code == "model_not_available"
    with pytest.raises(openai.BadRequestError) as err:
        await alice.fine_tuning.jobs.create(model="llama2-7b", training_file=file.id, suffix="a:b")
    assert err.value.param == "suffix"
    with pytest.raises(openai.BadRequestError) as err:
        await alice.fine_tuning.jobs.create(model="llama2-7b", training_file=file.id,
                                            hyperparameters={"n_epochs": 1, "bogus": 3})
    assert err.value.param == "hyperparameters.bogus"
    with pytest.raises(openai.BadRequestError) as err:
        await alice.fine_tuning.jobs.create(model="llama2-7b", training_file=file.id,
                                            method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.2}}})
    assert err.value.param in ("training_file", "method.type")  # a chat file cannot train dpo
    assert [j async for j in alice.fine_tuning.jobs.list()] == []
    with pytest.raises(openai.NotFoundError):
        await alice.fine_tuning.jobs.retrieve("ftjob-nope")


async def test_pause_resume_cancel(env: Env, alice: openai.AsyncOpenAI) -> None:
    job = await _job(env, alice)
    await env.set_status(_uid(env, job.id), {"phase": "Running"})
    paused = await alice.fine_tuning.jobs.pause(job.id)
    assert paused.status == "paused"
    with pytest.raises(openai.BadRequestError):
        await alice.fine_tuning.jobs.pause(job.id)
    resumed = await alice.fine_tuning.jobs.resume(job.id)
    assert resumed.status == "running"
    training = env.ctx.cache.trainings.get(job.id, env.projects["alice"]["namespace"])
    assert training is not None and training["spec"]["resumeFrom"] == {"checkpoint": "latest"}
    cancelled = await alice.fine_tuning.jobs.cancel(job.id)
    assert cancelled.status == "cancelled"
    with pytest.raises(openai.BadRequestError):
        await alice.fine_tuning.jobs.resume(job.id)


def _uid(env: Env, name: str) -> str:
    obj = env.ctx.cache.trainings.get(name, env.projects["alice"]["namespace"])
    assert obj is not None
    return str(obj["metadata"]["uid"])


async def test_succeeded_job_events_checkpoints_and_models(env: Env, alice: openai.AsyncOpenAI) -> None:
    job = await _job(env, alice, suffix="care")
    project = env.projects["alice"]["key"]
    start = datetime.now(UTC) + timedelta(seconds=5)  # after the creation (seconds are what events carry)
    await env.set_status(_uid(env, job.id), {
        "phase": "Succeeded", "startTime": start.isoformat(),
        "completionTime": (start + timedelta(minutes=1)).isoformat(),
        "progress": {"step": 4, "totalSteps": 4, "tokens": 5120},
        "history": [{"step": s, "loss": 2.0 - s / 4} for s in range(1, 5)],
        "checkpoints": [{"step": 2, "uri": "file:///x/checkpoint-2"}, {"step": 4, "uri": "file:///x/checkpoint-4"}]})
    done = await alice.fine_tuning.jobs.retrieve(job.id)
    assert done.status == "succeeded" and done.finished_at is not None
    assert done.trained_tokens == 5120  # the trainer's count of all ranks' tokens
    assert done.fine_tuned_model == f"ft:llama2-7b:{project}:care:{job.id}"
    page = await alice.fine_tuning.jobs.list_events(job.id, limit=3)
    assert [e.message for e in page.data][:2] == ["The job has successfully completed",
                                                 f"New fine-tuned model created: {done.fine_tuned_model}"]
    events = [e async for e in alice.fine_tuning.jobs.list_events(job.id, limit=2)]  # follows the cursor
    metrics = [e for e in events if e.type == "metrics"]
    assert [e.data["step"] for e in metrics] == [4, 3, 2, 1]  # type: ignore[index]
    assert metrics[0].data["train_loss"] == pytest.approx(1.0)  # type: ignore[index]
    assert events[-1].message == f"Created fine-tuning job: {job.id}"
    checkpoints = (await alice.fine_tuning.jobs.checkpoints.list(job.id)).data
    assert [c.step_number for c in checkpoints] == [4, 2]
    assert checkpoints[1].fine_tuned_model_checkpoint == f"{done.fine_tuned_model}:ckpt-step-2"
    assert checkpoints[1].metrics.train_loss == pytest.approx(1.5)

    namespace = env.projects["alice"]["namespace"]
    served = {"apiVersion": "kubetune.io/v1alpha1", "kind": "InferenceService",
              "metadata": {"name": f"{job.id}-serve", "namespace": namespace},
              "spec": {"trainingRef": {"name": job.id}}}
    await env.changed(INFERENCE_SERVICES, lambda: env.fake.create(INFERENCE_SERVICES, served, namespace),
                      lambda c: c.object["metadata"]["name"] == f"{job.id}-serve")
    models = [m.id for m in (await alice.models.list()).data]
    assert models == [done.fine_tuned_model]
    with pytest.raises(openai.APIStatusError) as err:  # known, not ready: 503 with the phase
        await alice.chat.completions.create(model=str(done.fine_tuned_model),
                                            messages=[{"role": "user", "content": "hi"}])
    assert err.value.status_code == 503
    with pytest.raises(openai.NotFoundError) as nf:
        await alice.chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])
    assert nf.value.code == "model_not_found"


async def test_openai_project_header_picks_the_project(env: Env, alice: openai.AsyncOpenAI) -> None:
    second = await env.client.post("/api/v1/projects", json={"name": "alice two", "description": "x"},
                                   headers=env.auth("alice"))
    assert second.status_code == 201, second.text
    async with sdk(env, "alice", project=second.json()["key"]) as in_second:
        created = await in_second.files.create(file=("train.jsonl", rows()), purpose="fine-tune")
        assert [f.id async for f in in_second.files.list()] == [created.id]
    assert [f.id async for f in alice.files.list()] == []  # the default project: alice's first
    with pytest.raises(openai.NotFoundError):
        await alice.files.retrieve(created.id)
    async with sdk(env, "alice", project=env.projects["bob"]["key"]) as elsewhere:
        with pytest.raises(openai.PermissionDeniedError):
            await elsewhere.files.list()


async def test_validation_file_becomes_the_jobs_validation_split(env: Env, alice: openai.AsyncOpenAI) -> None:
    train = await alice.files.create(file=("train.jsonl", rows(8)), purpose="fine-tune")
    valid = await alice.files.create(file=("valid.jsonl", rows(2)), purpose="fine-tune")
    job = await alice.fine_tuning.jobs.create(model="llama2-7b", training_file=train.id, validation_file=valid.id)
    assert job.validation_file == valid.id and job.training_file == train.id
    namespace = env.projects["alice"]["namespace"]
    training = env.ctx.cache.trainings.get(job.id, namespace)
    assert training is not None and training["spec"]["dataset"]["validationSplit"] == f"{job.id}-validation"
    dataset = env.ctx.cache.datasets.get(train.id, namespace)
    assert dataset is not None
    folder = dataset["metadata"]["annotations"]["kubetune.io/storage-key"].rpartition("/")[0]
    # Where the trainer looks for a file Dataset's other splits: beside the training file.
    assert list(env.ctx.storage.read_lines(namespace, f"{folder}/{job.id}-validation.jsonl")) == \
        rows(2).decode().splitlines(keepends=True)
    with pytest.raises(openai.NotFoundError) as err:
        await alice.fine_tuning.jobs.create(model="llama2-7b", training_file=train.id, validation_file="file-nope")
    assert err.value.param == "validation_file"


def preference_rows(count: int = 6) -> bytes:
    pairs = [{"input": {"messages": [{"role": "user", "content": f"question {i}"}]},
              "preferred_output": [{"role": "assistant", "content": f"a kind answer {i}"}],
              "non_preferred_output": [{"role": "assistant", "content": f"a curt answer {i}"}]} for i in range(count)]
    return "".join(json.dumps(p) + "\n" for p in pairs).encode()


async def test_dpo_job_trains_the_dpo_objective_with_beta_resolved(env: Env, alice: openai.AsyncOpenAI) -> None:
    pairs = await alice.files.create(file=("pairs.jsonl", preference_rows()), purpose="fine-tune")
    job = await alice.fine_tuning.jobs.create(model="llama2-7b", training_file=pairs.id,
                                              method={"type": "dpo", "dpo": {"hyperparameters": {"beta": "auto"}}})
    assert job.method is not None and job.method.type == "dpo"
    assert job.method.dpo is not None and job.method.dpo.hyperparameters.beta == 0.1
    training = env.ctx.cache.trainings.get(job.id, env.projects["alice"]["namespace"])
    assert training is not None
    assert training["spec"]["objective"] == "dpo" and training["spec"]["hyperparameters"]["beta"] == 0.1
    with pytest.raises(openai.BadRequestError) as err:  # preference pairs cannot train supervised
        await alice.fine_tuning.jobs.create(model="llama2-7b", training_file=pairs.id)
    assert err.value.param == "training_file"

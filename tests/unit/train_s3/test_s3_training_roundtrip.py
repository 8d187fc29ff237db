"""Base model, dataset and output all on s3://: train, find the artifacts in the bucket, resume from the
bucket on a "fresh pod" (an empty local cache), then serve the trained adapter straight from the bucket."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from s3_endpoint import S3Endpoint

from kubetune.crd.runconfig import TrainRunConfig
from kubetune.testing.chat_data import memorisable_chat_jsonl
from kubetune.train.runner import main

pytestmark = pytest.mark.unit

STEPS = [f"step-{n:08d}" for n in (2, 4, 6)]
# A one-process DCP checkpoint: one shard, the DCP metadata, the scheduler, its RNG state and the marker.
# The resumable state, plus the checkpoint as a servable adapter (training://<name>/checkpoints/<step>).
CHECKPOINT_FILES = {"dcp/__0_0.distcp", "dcp/.metadata", "scheduler.pt", "rng-0.pt", "state.json",
                    "adapter/adapter_model.safetensors", "adapter/adapter_config.json", "adapter/README.md",
                    "adapter/tokenizer.json", "adapter/tokenizer_config.json", "adapter/chat_template.jinja"}


@dataclass(frozen=True)
class FirstRun:
    bucket: str
    config: TrainRunConfig
    metric_lines: list[str]  # metrics.jsonl as the bucket holds it after the run


def _dataset() -> bytes:
    return memorisable_chat_jsonl(answer="{a}.").encode()


@pytest.fixture(scope="module")
def first_run(s3: S3Endpoint, tiny_lm_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FirstRun]:
    bucket = s3.new_bucket()
    s3.fs.put(f"{tiny_lm_dir}/", f"{bucket}/models/tiny-lm/", recursive=True)
    s3.fs.pipe(f"{bucket}/data/train.jsonl", _dataset())
    config = TrainRunConfig.model_validate(
        {
            "baseModel": f"s3://{bucket}/models/tiny-lm",
            "dataset": {"uri": f"s3://{bucket}/data/train.jsonl", "format": "openai_chat_jsonl"},
            "output": f"s3://{bucket}/runs/r1",
            "hyperparameters": {
                "maxSteps": 6,
                "batchSize": 4,
                "saveSteps": 2,
                "saveTotalLimit": 2,
                "learningRate": 1e-2,
                "loraRank": 4,
            },
            "reporting": {"terminationLog": str(tmp_path_factory.mktemp("log") / "termination-log")},
        }
    )
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HF_HUB_OFFLINE", "1")
        env.setenv("KUBETUNE_CACHE", str(tmp_path_factory.mktemp("pod-1-cache")))
        assert main(config) == 0
    metric_lines = s3.fs.cat(f"{bucket}/runs/r1/metrics.jsonl").decode().splitlines()
    yield FirstRun(bucket, config, metric_lines)


def test_the_run_writes_adapter_card_metrics_and_checkpoints_to_the_bucket(first_run: FirstRun, s3: S3Endpoint) -> None:
    keys = s3.keys(f"{first_run.bucket}/runs/r1")
    assert {"adapter/adapter_model.safetensors", "adapter/adapter_config.json", "README.md", "metrics.jsonl"} <= keys
    assert any(key.startswith("adapter/tokenizer") for key in keys)
    for step in STEPS[1:]:
        assert {key.removeprefix(f"checkpoints/{step}/") for key in keys if key.startswith(f"checkpoints/{step}/")} == (
            CHECKPOINT_FILES
        )
    # saveTotalLimit 2: the bucket was pruned along with the staging directory.
    assert not any(key.startswith(f"checkpoints/{STEPS[0]}/") for key in keys)
    assert not any("/.tmp-" in key or "/.partial-" in key for key in keys)
    assert [json.loads(line)["step"] for line in first_run.metric_lines] == [1, 2, 3, 4, 5, 6]
    card = s3.fs.cat(f"{first_run.bucket}/runs/r1/README.md").decode()
    assert f"s3://{first_run.bucket}/models/tiny-lm" in card


def test_a_fresh_pod_resumes_from_the_checkpoint_in_the_bucket(
    first_run: FirstRun, s3: S3Endpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pod died after uploading step 4: the bucket's newest checkpoint is step 4.
    s3.fs.rm(f"{first_run.bucket}/runs/r1/checkpoints/{STEPS[-1]}", recursive=True)
    monkeypatch.setenv("KUBETUNE_CACHE", str(tmp_path))  # a new pod: nothing staged locally
    assert main(first_run.config) == 0

    staged = {p.parent.name for p in (tmp_path / "out").glob("*/checkpoints/*/state.json")}
    assert STEPS[1] in staged and STEPS[0] not in staged  # only the checkpoint to resume came down
    lines = s3.fs.cat(f"{first_run.bucket}/runs/r1/metrics.jsonl").decode().splitlines()
    # Steps 1-4 are the first run's records, kept as they were; 5 and 6 were trained again from step 4
    # and match the uninterrupted run's losses.
    assert lines[:4] == first_run.metric_lines[:4]
    assert [json.loads(line)["step"] for line in lines] == [1, 2, 3, 4, 5, 6]
    for again, before in zip(lines[4:], first_run.metric_lines[4:], strict=True):
        assert json.loads(again)["loss"] == pytest.approx(json.loads(before)["loss"], rel=1e-4)
    keys = s3.keys(f"{first_run.bucket}/runs/r1/checkpoints/{STEPS[-1]}")
    assert keys == CHECKPOINT_FILES


def test_the_inference_server_loads_base_and_adapter_from_the_bucket(
    first_run: FirstRun, s3: S3Endpoint, tmp_path: Path
) -> None:
    from safetensors.torch import load

    from kubetune.serve.engines.loader import load_runtime
    from kubetune.serve.settings import ServeSettings

    settings = ServeSettings(
        model_uri=f"s3://{first_run.bucket}/models/tiny-lm",
        adapters={"facts": f"s3://{first_run.bucket}/runs/r1/adapter"},
        download_dir=tmp_path,
        device="cpu",
    )
    runtime = load_runtime(settings)
    assert runtime.task == "causal-lm" and getattr(runtime, "adapters", None) == ["facts"]
    assert all(tmp_path in path.parents for path in tmp_path.rglob("adapter_model.safetensors"))
    # The served LoRA weights are the trained ones from the bucket (lora_B starts at zero, so they moved).
    trained = load(s3.fs.cat(f"{first_run.bucket}/runs/r1/adapter/adapter_model.safetensors"))
    params = dict(runtime.model.named_parameters())  # type: ignore[attr-defined]
    lora_b = {name: tensor for name, tensor in trained.items() if ".lora_B." in name}
    assert lora_b and any(bool(tensor.abs().sum() > 0) for tensor in lora_b.values())
    for name, tensor in lora_b.items():
        served = params[name.replace(".lora_B.weight", ".lora_B.facts.weight")]
        assert served.detach().cpu().equal(tensor)

"""s3:// uris against a real S3 endpoint: downloads, the resume staging of outputs, checkpoint-safe uploads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from s3_endpoint import S3Endpoint

from kubetune.serve.engines.loader import ModelLoadError, resolve_uri
from kubetune.serve.settings import ServeSettings
from kubetune.train import uris

pytestmark = pytest.mark.unit


def test_a_prefix_resolves_to_a_fresh_local_copy(s3: S3Endpoint, tmp_path: Path) -> None:
    bucket = s3.new_bucket()
    s3.fs.pipe({f"{bucket}/m/config.json": b"{}", f"{bucket}/m/sub/weights.bin": b"v1", f"{bucket}/m/old.txt": b"x"})
    first = uris.resolve(f"s3://{bucket}/m", cache=tmp_path)
    assert first.name == "m" and (first / "sub" / "weights.bin").read_bytes() == b"v1"
    # The object store changes; resolving again must show exactly its new content, nothing stale.
    s3.fs.rm(f"{bucket}/m/old.txt")
    s3.fs.pipe(f"{bucket}/m/sub/weights.bin", b"v2")
    second = uris.resolve(f"s3://{bucket}/m", cache=tmp_path)
    assert sorted(p.relative_to(second).as_posix() for p in second.rglob("*") if p.is_file()) == [
        "config.json",
        "sub/weights.bin",
    ]
    assert (second / "sub" / "weights.bin").read_bytes() == b"v2"
    assert (uris.resolve(f"s3://{bucket}/m/", cache=tmp_path) / "sub" / "weights.bin").read_bytes() == b"v2"
    assert uris.resolve(f"s3://{bucket}/m/config.json", cache=tmp_path).read_text() == "{}"


def test_a_missing_object_is_a_clear_error(s3: S3Endpoint, tmp_path: Path) -> None:
    bucket = s3.new_bucket()
    with pytest.raises(FileNotFoundError, match=f"s3://{bucket}/nothing"):
        uris.resolve(f"s3://{bucket}/nothing", cache=tmp_path)
    with pytest.raises(ModelLoadError, match="not found"):
        resolve_uri(f"s3://{bucket}/nothing", ServeSettings(download_dir=tmp_path))


def _checkpoint(bucket: str, step: int, *, complete: bool = True) -> dict[str, bytes]:
    prefix = f"{bucket}/run/checkpoints/step-{step:08d}"
    files = {f"{prefix}/weights.safetensors": f"w{step}".encode(), f"{prefix}/optimizer.pt": b"o"}
    if complete:
        files[f"{prefix}/state.json"] = b'{"step": %d}' % step
    return files


@pytest.mark.parametrize(
    ("resume", "staged"),
    [("latest", ["step-00000004"]), (2, ["step-00000002"]), ("none", [])],
)
def test_an_s3_output_is_staged_with_the_checkpoint_to_resume(
    s3: S3Endpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, resume: str | int, staged: list[str]
) -> None:
    bucket = s3.new_bucket()
    # step 6 lacks its state.json: an upload cut short, which must not count as a checkpoint.
    s3.fs.pipe(
        {**_checkpoint(bucket, 2), **_checkpoint(bucket, 4), **_checkpoint(bucket, 6, complete=False)}
        | {f"{bucket}/run/metrics.jsonl": b'{"step": 1}\n'}
    )
    monkeypatch.setenv("KUBETUNE_CACHE", str(tmp_path))
    staging = uris.output_dir(f"s3://{bucket}/run", resume=resume)
    assert staging.is_relative_to(tmp_path)
    found = sorted(p.name for p in (staging / "checkpoints").iterdir()) if (staging / "checkpoints").is_dir() else []
    assert found == staged
    for name in staged:
        step = int(name.removeprefix("step-"))
        assert (staging / "checkpoints" / name / "weights.safetensors").read_bytes() == f"w{step}".encode()
        assert (staging / "checkpoints" / name / "state.json").is_file()
    assert (staging / "metrics.jsonl").is_file() == bool(staged)
    # What came down is in the bucket already: uploading the staging directory sends none of it again.
    calls: list[list[str]] = []
    _record_puts(monkeypatch, calls)
    uris.upload_dir(staging, f"s3://{bucket}/run")
    sent = [key for call in calls for key in call]
    assert not [key for key in sent if "/checkpoints/" in key]
    assert (f"{bucket}/run/metrics.jsonl" in sent) == bool(staged)  # not remembered: the run appends to it


def test_a_new_s3_output_stages_nothing(s3: S3Endpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBETUNE_CACHE", str(tmp_path))
    staging = uris.output_dir(f"s3://{s3.new_bucket()}/fresh")
    assert not staging.exists() or not any(staging.iterdir())


class RecordingFs:
    """Wraps the real filesystem and records the keys of every put call."""

    def __init__(self, fs: Any, calls: list[list[str]]) -> None:
        self._fs, self._calls = fs, calls

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fs, name)

    def put(self, lpath: list[str], rpath: list[str], **kwargs: Any) -> Any:
        self._calls.append(sorted(rpath))
        return self._fs.put(lpath, rpath, **kwargs)


def _record_puts(monkeypatch: pytest.MonkeyPatch, calls: list[list[str]]) -> None:
    real = uris._s3_fs

    def recording(uri: str) -> tuple[RecordingFs, str]:
        fs, path = real(uri)
        return RecordingFs(fs, calls), path

    monkeypatch.setattr(uris, "_s3_fs", recording)


def test_uploads_send_state_json_last_and_nothing_twice(
    s3: S3Endpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []
    _record_puts(monkeypatch, calls)
    bucket = s3.new_bucket()
    out = tmp_path / "out"
    step = out / "checkpoints" / "step-00000002"
    step.mkdir(parents=True)
    (step / "weights.safetensors").write_bytes(b"w")
    (step / "state.json").write_text("{}")
    (out / "checkpoints" / ".tmp-step-00000004").mkdir()  # a checkpoint still being written
    (out / "checkpoints" / ".tmp-step-00000004" / "state.json").write_text("{}")

    uris.upload_dir(step, f"s3://{bucket}/run/checkpoints/step-00000002")  # during training
    prefix = f"{bucket}/run/checkpoints/step-00000002"
    assert calls == [[f"{prefix}/weights.safetensors"], [f"{prefix}/state.json"]]

    (out / "adapter").mkdir()
    (out / "adapter" / "adapter_model.safetensors").write_bytes(b"a")
    calls.clear()
    uris.upload_dir(out, f"s3://{bucket}/run/")  # the end of the run: only what is new goes up
    assert calls == [[f"{bucket}/run/adapter/adapter_model.safetensors"]]
    assert s3.keys(f"{bucket}/run") == {
        "adapter/adapter_model.safetensors",
        "checkpoints/step-00000002/weights.safetensors",
        "checkpoints/step-00000002/state.json",
    }

    (out / "adapter" / "adapter_model.safetensors").write_bytes(b"changed")
    calls.clear()
    uris.upload_dir(out, f"s3://{bucket}/run")
    assert calls == [[f"{bucket}/run/adapter/adapter_model.safetensors"]]
    assert s3.fs.cat(f"{bucket}/run/adapter/adapter_model.safetensors") == b"changed"


def test_checkpoint_uploads_mirror_the_staged_checkpoints_and_send_the_metric_log(
    s3: S3Endpoint, tmp_path: Path
) -> None:
    bucket = s3.new_bucket()
    # In the bucket: step 2 (since pruned locally) and step 1 with no state.json (an upload cut short).
    s3.fs.pipe({**_checkpoint(bucket, 2), **_checkpoint(bucket, 1, complete=False)})
    out = tmp_path / "out"
    for step in (4, 6):
        directory = out / "checkpoints" / f"step-{step:08d}"
        directory.mkdir(parents=True)
        (directory / "weights.safetensors").write_bytes(b"w")
        (directory / "state.json").write_text("{}")
    (out / "metrics.jsonl").write_text('{"step": 6}\n')
    uris.upload_checkpoints(out, f"s3://{bucket}/run")
    assert s3.keys(f"{bucket}/run") == {
        "metrics.jsonl",
        *(f"checkpoints/step-0000000{n}/{f}" for n in (4, 6) for f in ("weights.safetensors", "state.json")),
    }
    assert s3.fs.cat(f"{bucket}/run/metrics.jsonl") == b'{"step": 6}\n'
    uris.upload_checkpoints(out, str(tmp_path / "local-output"))  # local outputs: nothing to do
    assert not (tmp_path / "local-output").exists()

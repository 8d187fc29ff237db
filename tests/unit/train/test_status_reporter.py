"""The status reporter against a real local HTTP server: coalescing, throttling, retries, outages."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from kubetune.crd.training import TRAINER_STATUS_FIELDS, TrainingStatus
from kubetune.train.kubeapi import KubeApi
from kubetune.train.metrics import downsample
from kubetune.train.reporter import StatusReporter, validate_status

pytestmark = pytest.mark.unit
PATH = "/apis/kubetune.io/v1alpha1/namespaces/team-a/trainings/run-1/status"


def _reporter(url: str, tmp_path: Path, **kw: float) -> StatusReporter:
    token = tmp_path / "token"
    token.write_text("sa-token\n")
    api = KubeApi(url, token_file=token, timeout=2.0)
    return StatusReporter(api, "team-a", "run-1", uid="u-1", **{"backoff": 0.01, **kw})


def _progress(step: int) -> dict[str, object]:
    return {"progress": {"step": step, "totalSteps": 100, "percent": float(step)}, "metrics": {"loss": 1.0 / step}}


def test_updates_are_coalesced_and_throttled(server: Any, tmp_path: Path) -> None:
    reporter = _reporter(server.url, tmp_path, interval=3600.0)
    reporter.update(_progress(1))  # nothing sent yet: goes out at once
    assert server.wait_for(lambda reqs: len(reqs) == 1)
    for step in range(2, 6):  # within the interval: held back and merged
        reporter.update(_progress(step))
    assert len(server.patches()) == 1
    assert reporter.flush(timeout=20)
    patches = server.patches()
    assert len(patches) == 2
    assert patches[1].body == {"status": _progress(5)}
    assert all(p.path == PATH for p in patches)
    assert patches[0].headers["content-type"] == "application/merge-patch+json"
    assert patches[0].headers["authorization"] == "Bearer sa-token"
    assert reporter.close(timeout=5)


def test_conflicts_and_server_errors_are_retried(server: Any, tmp_path: Path) -> None:
    server.script = [409, 500, 503]
    reporter = _reporter(server.url, tmp_path, interval=0.0)
    reporter.update(_progress(1))
    reporter.update(_progress(2))
    assert reporter.flush(timeout=20)
    codes_left = server.script
    assert codes_left == []
    assert server.patches()[-1].body == {"status": _progress(2)}
    assert reporter.close(timeout=5)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_outage_does_not_block_and_the_reporter_catches_up(tmp_path: Path, make_server: Any) -> None:
    port = _free_port()
    reporter = _reporter(f"http://127.0.0.1:{port}", tmp_path, interval=0.0, max_backoff=0.05)
    for step in range(1, 50):  # the API server is down: updates still return at once
        reporter.update(_progress(step))
    assert not reporter.flush(timeout=0.2)
    server = make_server(port=port)
    assert reporter.flush(timeout=20)
    assert server.patches()[-1].body == {"status": _progress(49)}
    assert reporter.close(timeout=5)


def test_events_are_posted_and_a_forbidden_event_does_not_stop_patches(server: Any, tmp_path: Path) -> None:
    reporter = _reporter(server.url, tmp_path, interval=0.0)
    reporter.update(_progress(1))
    reporter.event("CheckpointSaved", "step 1")
    assert reporter.flush(timeout=20)
    posts = [r for r in server.requests if r.method == "POST"]
    assert posts[0].path == "/api/v1/namespaces/team-a/events"
    assert posts[0].body["involvedObject"] == {
        "apiVersion": "kubetune.io/v1alpha1",
        "kind": "Training",
        "name": "run-1",
        "namespace": "team-a",
        "uid": "u-1",
    }
    server.event_code = 403
    reporter.event("EvalDone", "x")
    reporter.update(_progress(2))
    assert reporter.flush(timeout=20)
    reporter.event("Ignored", "events are off now")
    reporter.update(_progress(3))
    assert reporter.flush(timeout=20)
    assert server.patches()[-1].body == {"status": _progress(3)}
    assert [r.body["reason"] for r in server.requests if r.method == "POST"] == ["CheckpointSaved", "EvalDone"]
    assert reporter.close(timeout=5)


def test_only_trainer_fields_may_be_written(server: Any, tmp_path: Path) -> None:
    reporter = _reporter(server.url, tmp_path)
    with pytest.raises(ValueError, match="phase"):
        reporter.update({"phase": "Succeeded"})
    with pytest.raises(ValueError, match="conditions"):
        validate_status({"conditions": []})
    with pytest.raises(ValueError):
        validate_status({"progress": {"step": -1}})
    assert reporter.close(timeout=5)


def test_history_downsampling_keeps_first_last_and_best() -> None:
    points = [{"step": i, "loss": 10.0 - i * 0.001, "eval_loss": None} for i in range(5000)]
    points[1234]["loss"] = -1.0
    points[77]["eval_loss"] = 0.5
    kept = downsample(points, 500)
    steps = [p["step"] for p in kept]
    assert len(kept) <= 500 and steps == sorted(set(steps))
    assert {0, 4999, 1234, 77} <= set(steps)
    assert downsample(points[:10], 500) == points[:10]


def test_trainer_fields_match_the_status_model() -> None:
    assert set(TrainingStatus.model_json_schema(by_alias=True)["properties"]) >= TRAINER_STATUS_FIELDS


def test_kubeconfig_credentials_reach_the_server(server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kubetune.train import kubeapi

    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: k, cluster: {{server: '{server.url}'}}}}]\n"
        "users: [{name: u, user: {token: from-kubeconfig}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
    )
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    api = kubeapi.from_environment()
    assert api is not None
    api.patch_status("kubetune.io/v1alpha1", "team-a", "trainings", "run-1", {"status": {"output": "x"}})
    assert server.patches()[0].headers["authorization"] == "Bearer from-kubeconfig"


def test_in_cluster_token_is_reread_for_each_request(
    server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kubetune.train import kubeapi

    (tmp_path / "token").write_text("first")
    monkeypatch.setattr(kubeapi, "SA_DIR", tmp_path)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(server.port))
    api = kubeapi.from_environment()
    assert api is not None and api.base_url == f"https://127.0.0.1:{server.port}"
    # The server here speaks plain HTTP; point the same credentials at it to check the header.
    api = KubeApi(server.url, token_file=api.token_file)
    api.create_event("team-a", {"reason": "A"})
    (tmp_path / "token").write_text("rotated")
    api.create_event("team-a", {"reason": "B"})
    assert [r.headers["authorization"] for r in server.requests] == ["Bearer first", "Bearer rotated"]


def test_routine_events_are_thinned_out_over_a_long_run(server: Any, tmp_path: Path) -> None:
    reporter = _reporter(server.url, tmp_path, interval=0.0)
    for epoch in range(1, 445):  # the run that once left 444 EpochDone Events
        reporter.event("EpochDone", f"epoch {epoch} done")
    reporter.event("Resumed", "from step 3")  # other reasons are never thinned
    assert reporter.flush(timeout=20)
    posted = [r.body for r in server.requests if r.method == "POST"]
    epochs = [p["message"] for p in posted if p["reason"] == "EpochDone"]
    assert len(epochs) == 5 + 6  # 1-5, then 8, 16, 32, 64, 128, 256
    assert epochs[:5] == [f"epoch {i} done" for i in range(1, 6)]
    assert epochs[5].startswith("epoch 8 done (EpochDone #8;") and epochs[-1].startswith("epoch 256 done")
    assert [p["reason"] for p in posted][-1] == "Resumed"
    assert reporter.close(timeout=5)

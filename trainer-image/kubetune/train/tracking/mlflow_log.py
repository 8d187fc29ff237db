"""Log one finished run to MLflow from what the trainer already wrote: run.json's settings, the JSONL metric
log (every step, not the status's downsampled curve), the model card and the adapter.

Done once, after training, from rank 0: a slow or unreachable tracking server never stalls a step, and a
resumed run logs its whole log (the trainer trims it to the checkpoint on resume) as one MLflow run.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

from kubetune.crd.runconfig import TrainRunConfig
from kubetune.crd.tracking import URI_ENV
from kubetune.train import outputs
from kubetune.train.tracking.mlflow_rest import MlflowRest, TrackingError

log = logging.getLogger(__name__)
MAX_PARAM_CHARS = 500
MAX_ARTIFACT_BYTES = 512 * 1024 * 1024  # a full model above this stays in the run's output only


def params(config: TrainRunConfig) -> dict[str, str]:
    """Flat string parameters: the run's shape and every resolved hyperparameter."""
    flat: dict[str, str] = {"task": config.task, "method": config.method, "objective": config.objective,
                            "base_model": config.base_model, "dataset": config.dataset.uri}
    for key, value in config.hyperparameters.model_dump(mode="json").items():
        if isinstance(value, dict):
            flat.update({f"{key}.{k}": json.dumps(v) if isinstance(v, dict | list) else str(v)
                         for k, v in value.items()})
        elif value is not None:
            flat[key] = json.dumps(value) if isinstance(value, list) else str(value)
    return {k: v[:MAX_PARAM_CHARS] for k, v in flat.items()}


def metrics(log: Path, now_ms: int) -> list[dict[str, Any]]:
    """One MLflow metric per finite number per record of the JSONL log, at the record's step."""
    if not log.is_file():
        return []
    found = []
    for line in log.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        step = int(entry.get("step", 0))
        for key, value in entry.items():
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if key != "step" and number and math.isfinite(value):
                found.append({"key": key, "value": float(value), "timestamp": now_ms, "step": step})
    return found


def artifacts(output: Path, model_path: Path) -> list[tuple[str, Path]]:
    """(artifact path, file): the model card, the metric log, and the adapter (or a model within the cap)."""
    chosen = [(name, output / name) for name in (outputs.MODEL_CARD, outputs.METRICS_LOG) if (output / name).is_file()]
    files = sorted(p for p in model_path.rglob("*") if p.is_file()) if model_path.is_dir() else []
    if sum(p.stat().st_size for p in files) <= MAX_ARTIFACT_BYTES:
        chosen += [(f"{model_path.name}/{p.relative_to(model_path).as_posix()}", p) for p in files]
    return chosen


def log_run(config: TrainRunConfig, output: Path, model_path: Path) -> str:
    """Log the run; returns its URL in the tracking server's UI. Raises TrackingError."""
    tracking = config.tracking
    uri = (tracking.mlflow_uri if tracking else None) or os.environ.get(URI_ENV)
    if tracking is None or not uri:
        raise TrackingError("no MLflow URI: set spec.tracking.mlflow.uri or uriSecret")
    client = MlflowRest(uri)
    try:
        now_ms = int(time.time() * 1000)
        experiment = client.experiment_id(tracking.experiment)
        tags = {"mlflow.source.name": "kubetune-train"}
        if config.training is not None:
            tags.update({"kubetune.namespace": config.training.namespace, "kubetune.training": config.training.name})
        run_id, artifact_uri = client.create_run(experiment, tracking.run_name or output.name, now_ms, tags)
        try:
            client.log_batch(run_id, params(config), metrics(output / outputs.METRICS_LOG, now_ms))
            for relative, path in artifacts(output, model_path):
                if not client.upload(artifact_uri, relative, path):
                    break  # the server does not proxy artifacts: metrics and params are still logged
        except TrackingError:
            client.finish(run_id, "FAILED", int(time.time() * 1000))
            raise
        client.finish(run_id, "FINISHED", int(time.time() * 1000))
        return client.run_url(experiment, run_id)
    finally:
        client.close()


def track(config: TrainRunConfig, output: Path, model_path: Path, reporter: Any) -> str | None:
    """log_run when the config asks for it; the URL goes to status.trackingUrl. A tracking failure is a
    Warning Event, not a failed training: the model and its metrics are in the run's output either way."""
    if config.tracking is None or not config.tracking.mlflow:
        return None
    try:
        url = log_run(config, output, model_path)
    except TrackingError as exc:
        log.warning("tracking: %s", exc)
        if reporter is not None:
            reporter.event("TrackingFailed", f"MLflow: {str(exc)[:900]}", warning=True)
        return None
    log.info("tracking: logged to %s", url)
    if reporter is not None:
        reporter.update({"trackingUrl": url})
    return url

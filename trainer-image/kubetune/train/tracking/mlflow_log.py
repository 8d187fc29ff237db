"""Log a run to MLflow: its settings (run.json) as parameters, every record of the JSONL metric log (not the
status's downsampled curve) as metrics, and the model card, metric log and adapter as artifacts.

From rank 0 only. Normally live (mlflow_live.LiveRun: params at the start, metrics as the trainer reports
them, artifacts at the end); ``log_run`` does it all at once from the files, for a run that was not
tracked live. A slow or unreachable tracking server never stalls a step.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from kubetune.crd.runconfig import TrainRunConfig
from kubetune.crd.tracking import URI_ENV
from kubetune.train import outputs
from kubetune.train.tracking.mlflow_live import LiveRun, earlier_records
from kubetune.train.tracking.mlflow_rest import TrackingError

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


def run_tags(config: TrainRunConfig) -> dict[str, str]:
    tags = {"mlflow.source.name": "kubetune-train"}
    if config.training is not None:
        tags.update({"kubetune.namespace": config.training.namespace, "kubetune.training": config.training.name})
    return tags


def artifacts(output: Path, model_path: Path) -> list[tuple[str, Path]]:
    """(artifact path, file): the model card, the metric log, and the adapter (or a model within the cap)."""
    chosen = [(name, output / name) for name in (outputs.MODEL_CARD, outputs.METRICS_LOG) if (output / name).is_file()]
    files = sorted(p for p in model_path.rglob("*") if p.is_file()) if model_path.is_dir() else []
    if sum(p.stat().st_size for p in files) <= MAX_ARTIFACT_BYTES:
        chosen += [(f"{model_path.name}/{p.relative_to(model_path).as_posix()}", p) for p in files]
    return chosen


def _uri(config: TrainRunConfig) -> str:
    tracking = config.tracking
    uri = (tracking.mlflow_uri if tracking else None) or os.environ.get(URI_ENV)
    if tracking is None or not uri:
        raise TrackingError("no MLflow URI: set spec.tracking.mlflow.uri or uriSecret")
    return uri


def _new(config: TrainRunConfig, uri: str, output: Path, reporter: Any) -> LiveRun:
    assert config.tracking is not None
    name = config.tracking.run_name or output.name
    return LiveRun(uri, config.tracking.experiment, name, params=params(config), tags=run_tags(config),
                   reporter=reporter)


def start_live(config: TrainRunConfig, output: Path, reporter: Any) -> LiveRun | None:
    """The live MLflow run when the config asks for one (its earlier records first on a resume)."""
    if config.tracking is None or not config.tracking.mlflow:
        return None
    try:
        uri = _uri(config)
    except TrackingError:
        return None  # reported by track() at the end, as before
    live = _new(config, uri, output, reporter)
    return live.start(earlier_records(output / outputs.METRICS_LOG))


def log_run(config: TrainRunConfig, output: Path, model_path: Path, live: LiveRun | None = None) -> str:
    """Finish the live run, or log the whole run now from its files; returns its URL in the tracking
    server's UI. Raises TrackingError."""
    if live is None:
        live = _new(config, _uri(config), output, None)
        live.record_all(earlier_records(output / outputs.METRICS_LOG))
    return live.finish(artifacts(output, model_path))


def track(config: TrainRunConfig, output: Path, model_path: Path, reporter: Any,
          live: LiveRun | None = None) -> str | None:
    """log_run when the config asks for it; the URL goes to status.trackingUrl. A tracking failure is a
    Warning Event, not a failed training: the model and its metrics are in the run's output either way."""
    if config.tracking is None or not config.tracking.mlflow:
        return None
    try:
        url = log_run(config, output, model_path, live)
    except TrackingError as exc:
        log.warning("tracking: %s", exc)
        if reporter is not None:
            reporter.event("TrackingFailed", f"MLflow: {str(exc)[:900]}", warning=True)
        return None
    log.info("tracking: logged to %s", url)
    if reporter is not None:
        reporter.update({"trackingUrl": url})
    return url

"""Experiment tracking: a run's parameters, per-step metrics (live), model card and adapter, in MLflow."""

from kubetune.train.tracking.mlflow_log import log_run, start_live, track
from kubetune.train.tracking.mlflow_rest import TrackingError

__all__ = ["TrackingError", "log_run", "start_live", "track"]

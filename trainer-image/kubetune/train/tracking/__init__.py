"""Experiment tracking: a finished run's parameters, per-step metrics, model card and adapter, in MLflow."""

from kubetune.train.tracking.mlflow_log import log_run, track
from kubetune.train.tracking.mlflow_rest import TrackingError

__all__ = ["TrackingError", "log_run", "track"]

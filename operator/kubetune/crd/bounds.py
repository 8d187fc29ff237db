"""Size bounds on what clients and trainer pods write into a Training or Dataset.

Every client-written string, list and map in a kubetune object is bounded, so one request cannot
grow an object towards etcd's 1.5 MB limit (one unbounded callback made a Training of 1 MB). The
bounds live in the pydantic models, so the CRD schema enforces them for kubectl users, the facade
for REST callers, and the trainer's status writer trims to them before it patches.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

MAX_METRICS = 64  # status.metrics keys (latest values); the full log is the JSONL file
MAX_METRIC_NAME = 64
METRIC_NAME = r"^[A-Za-z0-9_.:/-]+$"
MAX_CONDITIONS = 32
MAX_PARAMETERS = 64  # hyperparameters.extra, a trial's sampled values
MAX_PARAMETER_NAME = 64
MAX_TEXT_VALUE = 1024  # a string parameter value

MetricName = Annotated[str, Field(min_length=1, max_length=MAX_METRIC_NAME, pattern=METRIC_NAME)]
MetricValue = Annotated[float, Field(allow_inf_nan=False)]


def keys_at_most(length: int, what: str) -> dict[str, Any]:
    """A CEL rule bounding a map's keys: structural CRD schemas cannot constrain property names."""
    return {"x-kubernetes-validations": [
        {"rule": f"self.all(k, size(k) <= {length})", "message": f"{what} are at most {length} characters"}]}


def metrics_map(description: str) -> Any:
    """status.metrics: at most MAX_METRICS names of at most MAX_METRIC_NAME characters."""
    return Field(default=None, max_length=MAX_METRICS, description=description,
                 json_schema_extra=keys_at_most(MAX_METRIC_NAME, "metric names"))


def bounded_metrics(latest: dict[str, float]) -> dict[str, float]:
    """What a status writer may send: names that fit, at most MAX_METRICS of them (first come first kept)."""
    fitting = ((k, v) for k, v in latest.items() if 0 < len(k) <= MAX_METRIC_NAME)
    return dict(list(fitting)[:MAX_METRICS])

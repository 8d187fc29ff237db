"""A small client of MLflow's REST API (2.0) over httpx, which the runtime already has.

Why not the mlflow package: the trainer needs five calls (experiment, run, log-batch, artifact upload,
update); the client library would add some twenty packages (databricks-sdk, opentelemetry, protobuf, ...)
to every training image. Credentials are MLflow's own variables (MLFLOW_TRACKING_USERNAME/PASSWORD or
MLFLOW_TRACKING_TOKEN); they are sent, never logged.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
SERVED_ARTIFACTS = "mlflow-artifacts:"
MAX_PARAMS, MAX_METRICS = 100, 1000  # per log-batch call, MLflow's limits


class TrackingError(Exception):
    """The tracking server refused or could not be reached; the message names the call."""


class MlflowRest:
    def __init__(self, uri: str, *, timeout: float = 30.0) -> None:
        self.uri = uri.rstrip("/")
        headers: dict[str, str] = {}
        auth: httpx.BasicAuth | None = None
        if token := os.environ.get("MLFLOW_TRACKING_TOKEN"):
            headers["Authorization"] = f"Bearer {token}"
        elif (user := os.environ.get("MLFLOW_TRACKING_USERNAME")) is not None:
            auth = httpx.BasicAuth(user, os.environ.get("MLFLOW_TRACKING_PASSWORD", ""))
        self.http = httpx.Client(base_url=self.uri, headers=headers, auth=auth, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            resp = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise TrackingError(f"{method} {path}: {exc}") from exc
        if resp.status_code >= 400:
            raise TrackingError(f"{method} {path}: {resp.status_code} {resp.text[:500]}")
        return dict(resp.json()) if resp.content else {}

    def experiment_id(self, name: str) -> str:
        """The experiment's id, created when it does not exist (a concurrent create is fine)."""
        try:
            got = self._call("GET", f"{API}/experiments/get-by-name", params={"experiment_name": name})
            return str(got["experiment"]["experiment_id"])
        except TrackingError as exc:
            if "RESOURCE_DOES_NOT_EXIST" not in str(exc):
                raise
        try:
            return str(self._call("POST", f"{API}/experiments/create", json={"name": name})["experiment_id"])
        except TrackingError as exc:
            if "RESOURCE_ALREADY_EXISTS" not in str(exc):
                raise
            got = self._call("GET", f"{API}/experiments/get-by-name", params={"experiment_name": name})
            return str(got["experiment"]["experiment_id"])

    def create_run(self, experiment_id: str, name: str, start_ms: int, tags: dict[str, str]) -> tuple[str, str]:
        """(run id, artifact URI) of a new run."""
        body = {"experiment_id": experiment_id, "run_name": name, "start_time": start_ms,
                "tags": [{"key": k, "value": v} for k, v in tags.items()]}
        info = self._call("POST", f"{API}/runs/create", json=body)["run"]["info"]
        return str(info["run_id"]), str(info.get("artifact_uri") or "")

    def log_batch(self, run_id: str, params: dict[str, str], metrics: list[dict[str, Any]]) -> None:
        items = list(params.items())
        for i in range(0, len(items), MAX_PARAMS):
            self._call("POST", f"{API}/runs/log-batch", json={
                "run_id": run_id, "params": [{"key": k, "value": v} for k, v in items[i:i + MAX_PARAMS]]})
        for i in range(0, len(metrics), MAX_METRICS):
            self._call("POST", f"{API}/runs/log-batch", json={"run_id": run_id, "metrics": metrics[i:i + MAX_METRICS]})

    def upload(self, artifact_uri: str, relative: str, local: Path) -> bool:
        """Upload one file through the server's artifact proxy; False when the store is not proxied."""
        if not artifact_uri.startswith(SERVED_ARTIFACTS):
            return False
        root = artifact_uri.removeprefix(SERVED_ARTIFACTS).lstrip("/")
        with local.open("rb") as handle:
            self._call("PUT", f"{ARTIFACTS}/{root}/{relative}", content=handle.read())
        return True

    def finish(self, run_id: str, status: str, end_ms: int) -> None:
        self._call("POST", f"{API}/runs/update", json={"run_id": run_id, "status": status, "end_time": end_ms})

    def run_url(self, experiment_id: str, run_id: str) -> str:
        return f"{self.uri}/#/experiments/{experiment_id}/runs/{run_id}"

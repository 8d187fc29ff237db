"""The MLflow run of a training in progress: created with its parameters when training starts, fed each
step's metrics in batches while it runs, finished (the rest of the metrics, the artifacts) at the end.

The training thread only appends a record to a list under a lock (``record``: microseconds). A daemon
thread does every request, with a short timeout, at most one log-batch per ``flush_seconds`` (sooner
when ``batch`` records wait). A slow or unreachable server therefore never slows a step: records simply
wait, and whatever the thread could not send goes out from ``finish`` after training (or the failure
becomes the TrackingFailed Warning there), so MLflow ends with every record of the JSONL log either way.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from pathlib import Path
from typing import Any

from kubetune.train.tracking.mlflow_rest import MlflowRest, TrackingError

log = logging.getLogger(__name__)


class LiveRun:
    """One MLflow run, written while the training runs. ``start`` once, ``record`` per metric record,
    then ``finish`` (success: returns the run's URL) or ``abort`` (a failed training)."""

    def __init__(self, uri: str, experiment: str, name: str, *, params: dict[str, str], tags: dict[str, str],
                 reporter: Any = None, flush_seconds: float = 2.0, batch: int = 50, timeout: float = 10.0) -> None:
        self.uri, self.experiment, self.name, self.reporter = uri, experiment, name, reporter
        self.params, self.tags = params, tags
        self.flush_seconds, self.batch, self.timeout = flush_seconds, batch, timeout
        self.run_id: str | None = None
        self.experiment_id = ""
        self.artifact_uri = ""
        self.error: str | None = None
        self._records: list[tuple[dict[str, Any], int]] = []  # (record, milliseconds when recorded)
        self._sent = 0  # self._records[:_sent] are in MLflow
        self._closing = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._work, name="kubetune-mlflow", daemon=True)

    # Called from the training thread -------------------------------------------------
    def start(self, earlier: list[dict[str, Any]] | None = None) -> LiveRun:
        """Begin; ``earlier`` are a resumed run's records up to its checkpoint (logged first)."""
        self.record_all(earlier or [])
        self._thread.start()
        return self

    def record_all(self, entries: list[dict[str, Any]]) -> None:
        now = _now_ms()
        with self._cond:
            self._records.extend((entry, now) for entry in entries)

    def record(self, entry: dict[str, Any]) -> None:
        with self._cond:
            self._records.append((entry, _now_ms()))
            if len(self._records) - self._sent >= self.batch:
                self._cond.notify()

    def finish(self, artifacts: list[tuple[str, Path]], *, wait: float = 60.0) -> str:
        """Stop the thread, send what it left, upload the artifacts, mark the run FINISHED. Raises
        TrackingError (the run is then marked FAILED when the server still answers)."""
        self._stop(wait)
        client = MlflowRest(self.uri)
        try:
            try:
                if self.run_id is None:  # the server was down at the start: create the run now
                    self._create(client)
                self._flush(client)
                for relative, path in artifacts:
                    if not client.upload(self.artifact_uri, relative, path):
                        break  # the server does not proxy artifacts: metrics and params are still logged
            except TrackingError:
                if self.run_id is not None:
                    _quietly(client, self.run_id, "FAILED")
                raise
            assert self.run_id is not None
            client.finish(self.run_id, "FINISHED", _now_ms())
            return client.run_url(self.experiment_id, self.run_id)
        finally:
            client.close()

    def abort(self, *, wait: float = 10.0) -> None:
        """The training failed: send what is pending and mark the run FAILED, best effort, never raising."""
        self._stop(wait)
        if self.run_id is None:
            return
        client = MlflowRest(self.uri, timeout=self.timeout)
        try:
            self._flush(client)
        except TrackingError as exc:
            log.warning("tracking: %s", exc)
        _quietly(client, self.run_id, "FAILED")
        client.close()

    def _stop(self, wait: float) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(wait)
        if self._thread.is_alive():
            raise TrackingError(f"{self.uri} did not answer within {wait:.0f}s; every metric is in the run's "
                                "metrics.jsonl")

    # The tracking thread -------------------------------------------------------------
    def _work(self) -> None:
        client = MlflowRest(self.uri, timeout=self.timeout)
        try:
            self._create(client)
            while True:
                with self._cond:
                    self._cond.wait_for(lambda: self._closing or len(self._records) - self._sent >= self.batch,
                                        timeout=self.flush_seconds)
                    closing = self._closing
                self._flush(client)
                if closing:
                    return
        except TrackingError as exc:  # the rest is retried from finish(), after training
            self.error = str(exc)
            log.warning("tracking (live): %s; retried when the training ends", exc)
        finally:
            client.close()

    def _create(self, client: MlflowRest) -> None:
        self.experiment_id = client.experiment_id(self.experiment)
        run_id, self.artifact_uri = client.create_run(self.experiment_id, self.name, _now_ms(), self.tags)
        client.log_batch(run_id, self.params, [])
        self.run_id = run_id
        if self.reporter is not None:  # the dashboard links the run while it is still running
            self.reporter.update({"trackingUrl": client.run_url(self.experiment_id, run_id)})

    def _flush(self, client: MlflowRest) -> None:
        """Send the records not yet sent (those recorded meanwhile wait for the next call)."""
        assert self.run_id is not None
        with self._cond:
            pending = self._records[self._sent:]
        if pending:
            client.log_batch(self.run_id, {}, metric_entries(pending))
            with self._cond:
                self._sent += len(pending)


def metric_entries(records: list[tuple[dict[str, Any], int]]) -> list[dict[str, Any]]:
    """One MLflow metric per finite number of each (record, timestamp in ms), at the record's step."""
    found = []
    for entry, at_ms in records:
        step = int(entry.get("step", 0))
        for key, value in entry.items():
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if key != "step" and number and math.isfinite(value):
                found.append({"key": key, "value": float(value), "timestamp": at_ms, "step": step})
    return found


def earlier_records(metrics_log: Path) -> list[dict[str, Any]]:
    """A resumed run's JSONL log (already trimmed to its checkpoint)."""
    if not metrics_log.is_file():
        return []
    return [json.loads(line) for line in metrics_log.read_text(encoding="utf-8").splitlines() if line.strip()]


def _quietly(client: MlflowRest, run_id: str, status: str) -> None:
    try:
        client.finish(run_id, status, _now_ms())
    except TrackingError as exc:
        log.warning("tracking: %s", exc)


def _now_ms() -> int:
    return int(time.time() * 1000)

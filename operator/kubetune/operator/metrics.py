"""Prometheus metrics: reconciliations, durations, errors, transitions and objects per phase."""

from __future__ import annotations

import threading
import time
from collections import Counter as Tally
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector


class PhaseBook(Collector):
    """The last phase the operator saw for each object; exported as objects per (kind, phase)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._phases: dict[tuple[str, str, str], str] = {}

    def set(self, kind: str, namespace: str, name: str, phase: str) -> None:
        with self._lock:
            self._phases[(kind, namespace, name)] = phase

    def forget(self, kind: str, namespace: str, name: str) -> None:
        with self._lock:
            self._phases.pop((kind, namespace, name), None)

    def counts(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(Tally((kind, phase) for (kind, _, _), phase in self._phases.items()))

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("kubetune_operator_objects", "Objects per kind and phase.",
                                   labels=["kind", "phase"])
        for (kind, phase), count in sorted(self.counts().items()):
            family.add_metric([kind, phase], count)
        yield family


class Metrics:
    """One registry per operator instance (tests run several in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.reconciliations = Counter("kubetune_operator_reconciliations", "Reconciliations by kind and result.",
                                       ["kind", "result"], registry=self.registry)
        self.duration = Histogram("kubetune_operator_reconcile_duration_seconds", "Reconciliation time.",
                                  ["kind"], registry=self.registry,
                                  buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.errors = Counter("kubetune_operator_errors", "Errors by kind and type.", ["kind", "type"],
                              registry=self.registry)
        self.transitions = Counter("kubetune_operator_transitions", "Phase transitions by kind and new phase.",
                                   ["kind", "phase"], registry=self.registry)
        self.phases = PhaseBook()
        self.registry.register(self.phases)

    @contextmanager
    def reconcile(self, kind: str) -> Iterator[None]:
        """Count and time one reconciliation; an exception counts as an error of its type."""
        start = time.perf_counter()
        try:
            yield
        except Exception as exc:
            self.reconciliations.labels(kind, "error").inc()
            self.errors.labels(kind, type(exc).__name__).inc()
            raise
        else:
            self.reconciliations.labels(kind, "ok").inc()
        finally:
            self.duration.labels(kind).observe(time.perf_counter() - start)

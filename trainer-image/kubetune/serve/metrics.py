"""Prometheus metrics of one server, on their own registry (so several apps can live in one process).

Probes and scrapes (/healthz, /readyz, /metrics) are not counted: they would swamp the request rate
an autoscaler or a dashboard reads (access_log.QUIET_PATHS).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
TOKEN_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class ServeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "kubetune_serve_requests", "HTTP requests by route and status.", ["route", "status"], registry=r
        )
        self.latency = Histogram(
            "kubetune_serve_request_seconds",
            "Request latency by route.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "kubetune_serve_batch_size", "Items per forward pass.", buckets=BATCH_BUCKETS, registry=r
        )
        self.queue_depth = Gauge("kubetune_serve_queue_depth", "Requests waiting for a slot.", registry=r)
        self.active = Gauge("kubetune_serve_active_requests", "Requests holding a slot.", registry=r)
        self.rejected = Counter("kubetune_serve_rejected", "Requests refused with 429.", registry=r)
        self.timeouts = Counter("kubetune_serve_timeouts", "Requests over timeoutSeconds.", registry=r)
        self.out_of_memory = Counter("kubetune_serve_out_of_memory", "GPU out-of-memory errors.", registry=r)
        self.cache_hits = Counter("kubetune_serve_cache_hits", "Results served from the cache.", registry=r)
        self.cache_misses = Counter("kubetune_serve_cache_misses", "Results computed.", registry=r)
        self.gpu_memory = Gauge("kubetune_serve_gpu_memory_bytes", "GPU memory held by the model.", registry=r)
        self.model_ready = Gauge("kubetune_serve_model_ready", "1 once the model is loaded.", registry=r)
        # Per model and adapter ("" is the bare base model): which of the served models does the work.
        by_model = ["model", "adapter"]
        self.generated_tokens = Counter("kubetune_serve_generated_tokens", "Tokens generated.", by_model, registry=r)
        self.model_requests = Counter(
            "kubetune_serve_model_requests",
            "Inference calls by model, adapter and kind of work.",
            [*by_model, "kind"],
            registry=r,
        )
        self.model_latency = Histogram(
            "kubetune_serve_model_request_seconds",
            "Time from admission request to result, by model.",
            [*by_model, "kind"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        # Streamed generation only: a batched generate call returns its tokens all at once.
        self.time_to_first_token = Histogram(
            "kubetune_serve_time_to_first_token_seconds",
            "From a streamed request's arrival (queueing included) to its first text.",
            by_model,
            buckets=TOKEN_BUCKETS,
            registry=r,
        )
        self.inter_token_latency = Histogram(
            "kubetune_serve_inter_token_latency_seconds",
            "Between successive text deltas of a stream.",
            by_model,
            buckets=TOKEN_BUCKETS,
            registry=r,
        )

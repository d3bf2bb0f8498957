"""The server's Prometheus metrics, in a registry of its own (so two apps in one process, as in
tests, never share counters): requests and errors by code, batch sizes, queue and inference time."""

from __future__ import annotations

from typing import Any

from ._deps import require

_TIME_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Counters, gauges and histograms of one server; `render()` is the /metrics body."""

    def __init__(self, max_batch: int) -> None:
        prom = require("prometheus_client")
        self._prom = prom
        self.registry = registry = prom.CollectorRegistry()
        rows = tuple(sorted({1, 2, 4, 8, 16, 32, 64, 128, 256, max_batch}))
        self.requests = prom.Counter(
            "dualgraph_inference_requests", "Inference requests answered, by model and HTTP code",
            ["model", "code"], registry=registry)
        self.errors = prom.Counter(
            "dualgraph_inference_errors", "Inference requests that failed, by model and reason",
            ["model", "reason"], registry=registry)
        self.batch_rows = prom.Histogram(
            "dualgraph_batch_size", "Rows (along the batch dim) in each call of a model",
            ["model"], buckets=rows, registry=registry)
        self.batch_requests = prom.Histogram(
            "dualgraph_batch_requests", "Requests joined into each call of a model",
            ["model"], buckets=rows, registry=registry)
        self.queue_time = prom.Histogram(
            "dualgraph_queue_seconds", "Time a request waited in its model's queue",
            ["model"], buckets=_TIME_BUCKETS, registry=registry)
        self.inference_time = prom.Histogram(
            "dualgraph_inference_seconds", "Time of each call of a model (a whole batch)",
            ["model"], buckets=_TIME_BUCKETS, registry=registry)
        self.request_time = prom.Histogram(
            "dualgraph_request_seconds", "Time from a request's arrival to its answer",
            ["model"], buckets=_TIME_BUCKETS, registry=registry)
        self.depth = prom.Gauge(
            "dualgraph_queue_depth", "Requests waiting in a model's queue", ["model"],
            registry=registry)

    def answered(self, model: str, code: int, seconds: float, reason: str | None) -> None:
        self.requests.labels(model, str(code)).inc()
        self.request_time.labels(model).observe(seconds)
        if reason is not None:
            self.errors.labels(model, reason).inc()

    def queue_depth(self, model: str, n: int) -> None:
        self.depth.labels(model).set(n)

    def queued(self, model: str, seconds: float) -> None:
        self.queue_time.labels(model).observe(seconds)

    def batch(self, model: str, rows: int, requests: int) -> None:
        self.batch_rows.labels(model).observe(rows)
        self.batch_requests.labels(model).observe(requests)

    def inference(self, model: str, seconds: float) -> None:
        self.inference_time.labels(model).observe(seconds)

    def render(self) -> tuple:
        """(body, content type) in Prometheus' text exposition format."""
        return self._prom.generate_latest(self.registry), self._prom.CONTENT_TYPE_LATEST

    def touch(self, model: str) -> Any:
        """Create a model's series at zero, so /metrics lists every model from the start."""
        for metric in (self.batch_rows, self.batch_requests, self.queue_time,
                       self.inference_time, self.request_time, self.depth):
            metric.labels(model)

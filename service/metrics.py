"""Prometheus metrics, one registry per app so that several apps (tests) never collide.

Routes are labelled by their template (``/v1/models/{model_id}``), not the raw path, so the number
of series stays bounded whatever clients send.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest as _generate
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter(
            "capcast_http_requests", "HTTP requests", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "capcast_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.forecasts = Counter(
            "capcast_forecasts_served", "Forecasts returned", ["method", "cache"], registry=r
        )
        self.cache_hits = Counter(
            "capcast_forecast_cache_hits", "Fitted predictors reused from the cache", registry=r
        )
        self.cache_misses = Counter(
            "capcast_forecast_cache_misses", "Predictors fitted because none was cached", registry=r
        )
        self.answers_repeated = Counter(
            "capcast_forecast_cache_answers_repeated",
            "Repeated forecast requests answered before routing (service/answer_cache.py)",
            registry=r,
        )
        self.observation_fetches = Counter(
            "capcast_forecast_observation_fetches",
            "Observation reads for forecasts (stored forecasts are found without one)",
            registry=r,
        )
        self.measurements = Counter(
            "capcast_measurements_received", "Measurement rows received", registry=r
        )

    def render(self) -> tuple[bytes, str]:
        return _generate(self.registry), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Count every request and time it, labelled by method, route template and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            label = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            self.metrics.requests.labels(method, label, str(status)).inc()
            self.metrics.latency.labels(method, label).observe(time.perf_counter() - start)

"""Prometheus metrics of HTTP requests, shared by auth and web (the same file is in both
services; a test checks).

Every metric lives in the registry it is given (one per app), never in prometheus_client's
global one, so two apps in one test process count separately. Labels come from a closed set:
the route template (`/api/todos/{todo_id}`, never the raw path, which holds ids and whatever a
client sends), the method (unknown ones as "other") and the status code. A path that matches no
route is counted as "unmatched". The metrics are served on their own port (serve_metrics), not
on the public one.
"""

from __future__ import annotations

import time
from typing import Callable

from prometheus_client import (CollectorRegistry, Counter, Gauge, GCCollector, Histogram,
                               PlatformCollector, ProcessCollector, start_http_server)
from starlette.routing import Match

UNMATCHED = "unmatched"
# Methods any route of ours answers, or a client may reasonably send; anything else is
# "other", so made-up methods cannot create new series.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class HttpMetrics:
    """The request metrics of one app, registered in `registry`."""

    def __init__(self, registry: CollectorRegistry, clock: Callable[[], float] = time.perf_counter):
        self.clock = clock
        self.requests = Counter(
            "http_requests", "HTTP requests answered, by route template, method and status code.",
            ["route", "method", "status"], registry=registry)
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Time from a request's arrival to the end of its response, by route template and method.",
            ["route", "method"], registry=registry)
        self.in_flight = Gauge(
            "http_requests_in_flight", "Requests being handled right now.", registry=registry)


def route_template(routes, scope) -> str:
    """The path template of the route that serves `scope`: a full match first, else a route
    that matches the path with another method (the app answers 405), else UNMATCHED."""
    partial = None
    for route in routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return route.path
        if match == Match.PARTIAL and partial is None:
            partial = route.path
    return partial or UNMATCHED


class MeasureRequests:
    """ASGI middleware: counts and times every HTTP request. Added outermost, so it sees the
    status the client gets (an unhandled error's 500 included) and the whole time spent."""

    def __init__(self, app, metrics: HttpMetrics, routes):
        self.app = app
        self.metrics = metrics
        self.routes = routes  # the app's router.routes, read per request: routes added later count

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        m = self.metrics
        route = route_template(self.routes, scope)
        method = scope["method"] if scope["method"] in METHODS else "other"
        status = {"code": 500}

        async def send_noting_status(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        started = m.clock()
        m.in_flight.inc()
        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            m.in_flight.dec()
            m.duration.labels(route, method).observe(m.clock() - started)
            m.requests.labels(route, method, str(status["code"])).inc()


def serve_metrics(registry: CollectorRegistry, port: int) -> None:
    """Serve `registry`, plus this process's CPU, memory and garbage-collector metrics, at
    http://0.0.0.0:`port`/metrics from a daemon thread of this process (prometheus_client's own
    server). The thread needs no shutdown of its own: it ends with the process."""
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    start_http_server(port, addr="0.0.0.0", registry=registry)

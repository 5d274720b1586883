"""web's Prometheus metrics: HTTP requests (http_metrics), the todo store's operations on
GridDB, and rejected tokens. No label holds a user name, a token, a todo id or a title: labels
are route templates, operation names and fixed reason words."""

from __future__ import annotations

import time
from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from .http_metrics import HttpMetrics
from .store import StoreUnavailable, Todo, TodoStore
from .tokens import REJECTION_REASONS

STORE_OPERATIONS = ("list", "create", "update", "delete")
STORE_ERROR_REASONS = ("not_connected", "busy", "timeout", "failed")
# GridDB answers in about a millisecond on the same node; its client gives up after op_timeout
# (10 s): buckets from 1 ms to that.
STORE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class WebMetrics:
    """Every metric of one web app, in its own registry."""

    def __init__(self, registry: CollectorRegistry | None = None,
                 clock: Callable[[], float] = time.perf_counter):
        self.registry = registry or CollectorRegistry()
        self.clock = clock
        self.http = HttpMetrics(self.registry, clock)
        self.store_duration = Histogram(
            "griddb_operation_duration_seconds",
            "Time of web's todo-store operations on GridDB, by operation, failed ones included "
            "(with TODO_STORE=memory, tests only: the memory store's).",
            ["operation"], buckets=STORE_BUCKETS, registry=self.registry)
        self.store_errors = Counter(
            "griddb_operation_errors",
            "Todo-store operations that failed because GridDB was unavailable (the API answered "
            "503), by operation and reason: not_connected, busy, timeout or failed.",
            ["operation", "reason"], registry=self.registry)
        self.token_rejections = Counter(
            "web_token_rejections",
            "Requests refused with 401 because of their bearer token, by reason.",
            ["reason"], registry=self.registry)
        # Every series exists from the start at 0, so a rate over the first failure is right.
        for operation in STORE_OPERATIONS:
            self.store_duration.labels(operation)
            for reason in STORE_ERROR_REASONS:
                self.store_errors.labels(operation, reason)
        for reason in REJECTION_REASONS:
            self.token_rejections.labels(reason)

    def watch_store(self, store: TodoStore) -> "MeasuredStore":
        """`store`, with its operations timed and its outages counted, and its readiness
        exported as griddb_up."""
        self.registry.register(_StoreUp(store))
        return MeasuredStore(store, self)


class _StoreUp:
    """A collector read at every scrape: whether the store is connected right now."""

    def __init__(self, store: TodoStore):
        self._store = store

    def collect(self):
        up = GaugeMetricFamily("griddb_up", "1 while web holds a working GridDB connection, else 0.")
        up.add_metric([], 1.0 if self._store.ready() else 0.0)
        yield up

    def describe(self):
        return []  # read at scrape time only: registering must not call ready()


class MeasuredStore:
    """A TodoStore that times every operation of the store it wraps. A value the store refuses
    before it reaches GridDB (InvalidValue) is not an operation: neither timed nor counted."""

    def __init__(self, store: TodoStore, metrics: WebMetrics):
        self._store = store
        self._m = metrics

    def _measure(self, operation: str, call: Callable[[], object]):
        started = self._m.clock()
        try:
            result = call()
        except StoreUnavailable as exc:
            self._m.store_errors.labels(operation, exc.reason).inc()
            self._m.store_duration.labels(operation).observe(self._m.clock() - started)
            raise
        self._m.store_duration.labels(operation).observe(self._m.clock() - started)
        return result

    def __getattr__(self, name: str):
        # Everything but the four operations (ready, close, ...) is the wrapped store's own,
        # so a method added to TodoStore works through this wrapper without a change here.
        return getattr(self._store, name)

    def list(self, owner: str) -> list[Todo]:
        return self._measure("list", lambda: self._store.list(owner))

    def create(self, owner: str, title: str) -> Todo:
        return self._measure("create", lambda: self._store.create(owner, title))

    def update(self, owner, todo_id, *, title=None, done=None):
        return self._measure("update", lambda: self._store.update(owner, todo_id, title=title, done=done))

    def delete(self, owner, todo_id):
        return self._measure("delete", lambda: self._store.delete(owner, todo_id))

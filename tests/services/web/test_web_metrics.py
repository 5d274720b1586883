"""web's Prometheus metrics move by exactly what the requests made, in the app's own registry.

Time is a fake clock that only the store moves: a store operation "takes" STORE_SECONDS, so
every request that makes one is observed as exactly that long, and every other request as 0 s.
"""

from __future__ import annotations

import time

import httpx
import jwt
import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

ISSUER, AUDIENCE = "griddb-todo-auth", "griddb-todo-web"  # as tests/services/conftest.py

STORE_SECONDS = 0.3  # between the 0.25 and 0.5 buckets of both histograms


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def measured(jwks_source):
    """A web app whose store takes STORE_SECONDS of fake time per operation, with its metrics."""
    from web.app import create_app
    from web.metrics import WebMetrics
    from web.settings import Settings
    from web.store import MemoryStore
    from web.tokens import TokenVerifier

    clock = FakeClock()
    metrics = WebMetrics(clock=clock)
    seen_in_flight = []

    class SlowStore(MemoryStore):
        def list(self, owner):
            seen_in_flight.append(metrics.registry.get_sample_value("http_requests_in_flight"))
            clock.now += STORE_SECONDS
            return super().list(owner)

        def create(self, owner, title):
            clock.now += STORE_SECONDS
            return super().create(owner, title)

        def update(self, owner, todo_id, **changes):
            clock.now += STORE_SECONDS
            return super().update(owner, todo_id, **changes)

    store = SlowStore()
    verifier = TokenVerifier(jwks_source, ISSUER, AUDIENCE)
    auth = httpx.Client(base_url="http://auth.test",
                        transport=httpx.MockTransport(lambda request: httpx.Response(401, json={})))
    app = create_app(Settings(store="memory"), store, verifier, auth_client=auth, metrics=metrics)
    return TestClient(app, raise_server_exceptions=False), metrics, store, seen_in_flight


def value(metrics, name: str, **labels) -> float:
    found = metrics.registry.get_sample_value(name, labels)
    assert found is not None, f"no sample {name}{labels}"
    return found


def all_label_values(metrics) -> set[str]:
    return {v for family in metrics.registry.collect() for s in family.samples for v in s.labels.values()}


def test_requests_are_counted_and_timed_by_route_template_method_and_status(measured, minter):
    client, metrics, store, seen_in_flight = measured
    h = {"Authorization": f"Bearer {minter.token('alice')}"}
    title = "buy oat milk"
    todo = client.post("/api/todos", json={"title": title}, headers=h).json()
    assert client.get("/api/todos", headers=h).status_code == 200
    assert client.get("/api/todos", headers=h).status_code == 200
    assert client.patch(f"/api/todos/{todo['id']}", json={"done": True}, headers=h).status_code == 200
    assert client.get("/api/todos").status_code == 401
    assert client.get("/no/such/page").status_code == 404
    assert client.request("BREW", "/api/todos").status_code == 405
    assert client.head("/healthz").status_code == 200

    count = lambda route, method, status: value(metrics, "http_requests_total", route=route,
                                                 method=method, status=status)
    assert count("/api/todos", "POST", "201") == 1
    assert count("/api/todos", "GET", "200") == 2
    assert count("/api/todos", "GET", "401") == 1
    assert count("/api/todos/{todo_id}", "PATCH", "200") == 1
    assert count("unmatched", "GET", "404") == 1
    assert count("/api/todos", "other", "405") == 1  # a made-up method makes no series of its own
    assert count("/healthz", "HEAD", "200") == 1
    assert sum(s.value for f in metrics.registry.collect() if f.name == "http_requests"
               for s in f.samples if s.name == "http_requests_total") == 8

    # GET /api/todos: two requests with a store call (0.3 s each), one refused at once (0 s).
    bucket = lambda le: value(metrics, "http_request_duration_seconds_bucket", route="/api/todos",
                              method="GET", le=le)
    assert bucket("0.005") == 1 and bucket("0.25") == 1 and bucket("0.5") == 3 and bucket("+Inf") == 3
    assert value(metrics, "http_request_duration_seconds_count", route="/api/todos", method="GET") == 3
    assert value(metrics, "http_request_duration_seconds_sum", route="/api/todos",
                 method="GET") == pytest.approx(2 * STORE_SECONDS)

    # The store's own histogram: one observation per operation, of its duration.
    for operation, times in (("list", 2), ("create", 1), ("update", 1), ("delete", 0)):
        assert value(metrics, "griddb_operation_duration_seconds_count", operation=operation) == times
        assert value(metrics, "griddb_operation_duration_seconds_sum",
                     operation=operation) == pytest.approx(times * STORE_SECONDS)
        assert value(metrics, "griddb_operation_duration_seconds_bucket", operation=operation,
                     le="0.25") == 0
        assert value(metrics, "griddb_operation_duration_seconds_bucket", operation=operation,
                     le="0.5") == times

    # In flight: one while a list ran, none now.
    assert seen_in_flight == [1.0, 1.0]
    assert value(metrics, "http_requests_in_flight") == 0

    # Nothing a user typed or owns is a label value: not the name, the title, the id, the token.
    labels = all_label_values(metrics)
    for private in ("alice", title, todo["id"], h["Authorization"].split()[1], "/no/such/page", "BREW"):
        assert not any(private in v for v in labels), private


def test_an_unhandled_error_is_counted_as_the_500_the_client_got(measured, minter):
    client, metrics, store, _ = measured

    def broken(owner):
        raise RuntimeError("bug")
    store.list = broken
    h = {"Authorization": f"Bearer {minter.token()}"}
    assert client.get("/api/todos", headers=h).status_code == 500
    assert value(metrics, "http_requests_total", route="/api/todos", method="GET", status="500") == 1
    assert value(metrics, "http_requests_in_flight") == 0
    # not a GridDB outage: no store error counted
    assert sum(s.value for f in metrics.registry.collect() if f.name == "griddb_operation_errors"
               for s in f.samples if s.name.endswith("_total")) == 0


def test_a_store_outage_counts_errors_by_operation_and_reason_and_griddb_up_follows(measured, minter):
    client, metrics, store, _ = measured
    h = {"Authorization": f"Bearer {minter.token()}"}
    assert value(metrics, "griddb_up") == 1
    store.available = False
    assert value(metrics, "griddb_up") == 0
    assert client.get("/api/todos", headers=h).status_code == 503
    assert client.get("/api/todos", headers=h).status_code == 503
    assert client.post("/api/todos", json={"title": "x"}, headers=h).status_code == 503
    assert client.delete("/api/todos/" + "a" * 32, headers=h).status_code == 503
    errors = lambda op: value(metrics, "griddb_operation_errors_total", operation=op, reason="not_connected")
    assert (errors("list"), errors("create"), errors("update"), errors("delete")) == (2, 1, 0, 1)
    assert value(metrics, "griddb_operation_errors_total", operation="list", reason="timeout") == 0
    assert value(metrics, "http_requests_total", route="/api/todos", method="GET", status="503") == 2
    # A failed operation is timed too (the memory store fails at once: 0 s here).
    assert value(metrics, "griddb_operation_duration_seconds_count", operation="list") == 2
    store.available = True
    assert value(metrics, "griddb_up") == 1


def test_an_invalid_value_is_no_store_operation(measured, minter):
    """A title the store refuses before writing (InvalidValue) is neither timed nor counted."""
    from web.store import InvalidValue

    client, metrics, store, _ = measured

    def refuse(owner, title):
        raise InvalidValue("title must be stored trimmed")
    store.create = refuse
    h = {"Authorization": f"Bearer {minter.token()}"}
    assert client.post("/api/todos", json={"title": "x"}, headers=h).status_code == 422
    assert value(metrics, "griddb_operation_duration_seconds_count", operation="create") == 0


def test_token_rejections_are_counted_by_reason(measured, minter, new_minter):
    client, metrics, _, _ = measured
    now = int(time.time())
    other = new_minter()
    refused = {
        "missing": {},
        "malformed": {"Authorization": "Bearer not.a.jwt"},
        "algorithm": {"Authorization": "Bearer " + jwt.encode(minter.claims(), "k" * 32, algorithm="HS256",
                                                               headers={"kid": minter.kid})},
        "no_key_id": {"Authorization": "Bearer " + jwt.encode(minter.claims(), minter.key, algorithm="ES256")},
        "unknown_key": {"Authorization": f"Bearer {other.token()}"},
        "signature": {"Authorization": f"Bearer {minter.token(key=other.key)}"},
        "expired": {"Authorization": f"Bearer {minter.token(iat=now - 3600, exp=now - 60)}"},
        "claims": {"Authorization": f"Bearer {minter.token(aud='someone-else')}"},
        "lifetime": {"Authorization": f"Bearer {minter.token(exp=now + 2 * 86400)}"},
    }
    for reason, headers in refused.items():
        assert client.get("/api/todos", headers=headers).status_code == 401, reason
        assert value(metrics, "web_token_rejections_total", reason=reason) == 1, reason
    assert client.get("/api/todos", headers={"Authorization": f"Bearer {minter.token()}"}).status_code == 200
    rejections = [s for f in metrics.registry.collect() if f.name == "web_token_rejections"
                  for s in f.samples if s.name.endswith("_total")]
    assert {s.labels["reason"]: s.value for s in rejections} == {reason: 1 for reason in refused}
    assert value(metrics, "http_requests_total", route="/api/todos", method="GET", status="401") == len(refused)


def test_each_app_counts_in_its_own_registry_and_none_in_the_global_one(web_app, measured):
    client, metrics, _, _ = measured
    assert client.get("/healthz").status_code == 200
    assert TestClient(web_app).get("/healthz").status_code == 200
    assert TestClient(web_app).get("/healthz").status_code == 200
    assert value(metrics, "http_requests_total", route="/healthz", method="GET", status="200") == 1
    other = web_app.state.metrics
    assert other.registry.get_sample_value("http_requests_total",
                                           {"route": "/healthz", "method": "GET", "status": "200"}) == 2
    assert REGISTRY.get_sample_value("http_requests_total",
                                     {"route": "/healthz", "method": "GET", "status": "200"}) is None


def test_the_public_port_does_not_serve_metrics(client):
    assert client.get("/metrics").status_code == 404


def test_the_metrics_port_is_its_own():
    from web.settings import ConfigError, from_env
    memory = {"TODO_STORE": "memory"}
    assert from_env(memory).metrics_port == 9090
    assert from_env({**memory, "WEB_METRICS_PORT": "9102"}).metrics_port == 9102
    for bad, says in (({"WEB_METRICS_PORT": "8080"}, "WEB_PORT too"),
                      ({"WEB_PORT": "9090"}, "WEB_PORT too"),
                      ({"WEB_METRICS_PORT": "65536"}, "out of range"),
                      ({"WEB_METRICS_PORT": "metrics"}, "not an integer")):
        with pytest.raises(ConfigError, match=says):
            from_env({**memory, **bad})


def test_every_fixed_series_exists_at_zero_before_anything_happens():
    """So that a rate() over the first outage or rejection sees it rise from 0."""
    from web.metrics import STORE_ERROR_REASONS, STORE_OPERATIONS, WebMetrics
    from web.tokens import REJECTION_REASONS

    metrics = WebMetrics()
    for reason in REJECTION_REASONS:
        assert value(metrics, "web_token_rejections_total", reason=reason) == 0
    for operation in STORE_OPERATIONS:
        assert value(metrics, "griddb_operation_duration_seconds_count", operation=operation) == 0
        for reason in STORE_ERROR_REASONS:
            assert value(metrics, "griddb_operation_errors_total", operation=operation, reason=reason) == 0
    assert value(metrics, "http_requests_in_flight") == 0


def test_the_measured_store_passes_everything_else_through():
    from web.metrics import WebMetrics
    from web.store import MemoryStore

    store = MemoryStore()
    store.custom_probe = lambda: "the store's own answer"
    measured = WebMetrics().watch_store(store)
    assert measured.ready() is True
    store.available = False
    assert measured.ready() is False
    assert measured.custom_probe() == "the store's own answer"

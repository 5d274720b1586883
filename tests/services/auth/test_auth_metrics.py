"""auth's Prometheus metrics move by exactly what the logins made, in the app's own registry."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from auth.app import create_app
from auth.metrics import AuthMetrics
from auth.settings import Settings


class FakeClock:
    """Fake time for the request histogram: only the lockout's delay moves it."""

    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def measured(auth_files):
    clock = FakeClock()
    metrics = AuthMetrics(clock=clock)

    async def sleep(seconds):  # the lockout's delay takes fake time, not real time
        clock.now += seconds

    settings = Settings(signing_key_file=str(auth_files["key_path"]),
                        accounts_file=str(auth_files["accounts_path"]),
                        trusted_client_header="X-Todo-Client-Address")  # as components/auth.py sets
    return TestClient(create_app(settings, metrics=metrics, sleep=sleep)), metrics


def value(metrics, name: str, **labels) -> float:
    found = metrics.registry.get_sample_value(name, labels)
    assert found is not None, f"no sample {name}{labels}"
    return found


def login(client, username, password) -> int:
    return client.post("/token", json={"username": username, "password": password}).status_code


def test_logins_are_counted_by_outcome_and_requests_by_status(measured):
    client, metrics = measured
    assert login(client, "alice", "alice-pass") == 200
    assert login(client, "bob", "bob-pass") == 200
    assert [login(client, "alice", f"guess-{i}") for i in range(5)] == [401] * 5
    assert login(client, "alice", "guess-5") == 429  # locked for this source
    assert login(client, "alice", "alice-pass") == 429  # the right password too, while locked
    assert login(client, "mallory", "hunter2") == 401  # no such account: a failure like any other
    assert client.post("/token", json={"username": "alice"}).status_code == 422  # no password

    outcome = lambda o: value(metrics, "auth_logins_total", outcome=o)
    assert (outcome("success"), outcome("bad_credentials"), outcome("throttled")) == (2, 6, 2)
    status = lambda s: value(metrics, "http_requests_total", route="/token", method="POST", status=s)
    assert (status("200"), status("401"), status("429"), status("422")) == (2, 6, 2, 1)
    assert value(metrics, "http_request_duration_seconds_count", route="/token", method="POST") == 11

    labels = {v for f in metrics.registry.collect() for s in f.samples for v in s.labels.values()}
    for private in ("alice", "bob", "mallory", "hunter2", "alice-pass", "testclient"):
        assert not any(private in v for v in labels), private


def test_the_request_histogram_holds_the_time_each_login_took(measured):
    """From the 6th failure for a name on, auth waits before it checks (0.5 s, then 1 s, ...,
    lockout.py); on the fake clock that wait is all the time a login takes."""
    client, metrics = measured
    # A new source each time, so no (source, name) pair is locked: only the account's delay applies.
    for i in range(7):
        r = client.post("/token", json={"username": "alice", "password": "wrong"},
                        headers={"X-Todo-Client-Address": f"192.0.2.{i}"})
        assert r.status_code == 401
    bucket = lambda le: value(metrics, "http_request_duration_seconds_bucket", route="/token",
                              method="POST", le=le)
    assert (bucket("0.005"), bucket("0.25"), bucket("0.5"), bucket("0.75"), bucket("1.0")) == (5, 5, 6, 6, 7)
    assert value(metrics, "http_request_duration_seconds_sum", route="/token", method="POST") == 1.5
    assert value(metrics, "http_requests_in_flight") == 0


def test_each_app_counts_in_its_own_registry(measured, auth_files):
    client, metrics = measured
    settings = Settings(signing_key_file=str(auth_files["key_path"]),
                        accounts_file=str(auth_files["accounts_path"]))
    other = TestClient(create_app(settings))
    assert login(other, "alice", "alice-pass") == 200
    assert value(metrics, "auth_logins_total", outcome="success") == 0
    assert value(other.app.state.metrics, "auth_logins_total", outcome="success") == 1


def test_the_public_port_does_not_serve_metrics(measured):
    client, _ = measured
    assert client.get("/metrics").status_code == 404


def test_the_metrics_port_is_its_own():
    from auth.settings import ConfigError, from_env
    assert from_env({}).metrics_port == 9090
    assert from_env({"AUTH_METRICS_PORT": "9102"}).metrics_port == 9102
    for bad, says in (({"AUTH_METRICS_PORT": "2828"}, "AUTH_PORT too"),
                      ({"AUTH_PORT": "9090"}, "AUTH_PORT too"),
                      ({"AUTH_METRICS_PORT": "0"}, "out of range"),
                      ({"AUTH_METRICS_PORT": "metrics"}, "not an integer")):
        with pytest.raises(ConfigError, match=says):
            from_env(bad)


def test_every_outcome_exists_at_zero_before_any_login():
    from auth.metrics import LOGIN_OUTCOMES
    metrics = AuthMetrics()
    assert {o: value(metrics, "auth_logins_total", outcome=o) for o in LOGIN_OUTCOMES} == {
        "success": 0, "bad_credentials": 0, "throttled": 0}

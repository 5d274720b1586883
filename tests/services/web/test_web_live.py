"""Real auth and web processes on loopback (web with the memory store)."""

from __future__ import annotations

import json

import httpx


def test_whole_flow_through_real_processes(live_stack):
    web = live_stack["web"]
    r = httpx.post(f"{web}/api/login", json={"username": "alice", "password": "wrong"})
    assert r.status_code == 401
    r = httpx.post(f"{web}/api/login", json={"username": "alice", "password": "alice-pass"})
    assert r.status_code == 200
    token = r.json()["access_token"]
    h = {"Authorization": f"Bearer {token}"}
    t = httpx.post(f"{web}/api/todos", json={"title": "from a real process"}, headers=h).json()
    assert httpx.get(f"{web}/api/todos", headers=h).json() == [t]
    assert httpx.patch(f"{web}/api/todos/{t['id']}", json={"done": True}, headers=h).json()["done"] is True
    assert httpx.delete(f"{web}/api/todos/{t['id']}", headers=h).status_code == 204
    assert httpx.get(f"{web}/readyz").status_code == 200
    assert httpx.get(f"{live_stack['auth']}/readyz").status_code == 200

    # Logs are JSON lines and hold neither the password nor the token.
    for name in ("auth", "web"):
        text = (live_stack["logs"] / f"{name}.log").read_text()
        assert "alice-pass" not in text and token not in text and token.split(".")[2] not in text
        lines = [ln for ln in text.splitlines() if ln.strip()]
        assert lines, name
        for ln in lines:
            entry = json.loads(ln)  # every line is a JSON object
            assert {"ts", "level", "msg"} <= set(entry)
    auth_log = (live_stack["logs"] / "auth.log").read_text()
    assert '"msg":"login failed"' in auth_log and '"msg":"login succeeded"' in auth_log


def test_lockout_through_web(live_stack):
    web = live_stack["web"]
    codes = [httpx.post(f"{web}/api/login", json={"username": "bob", "password": "nope"}).status_code
             for _ in range(6)]
    assert codes == [401] * 5 + [429]
    r = httpx.post(f"{web}/api/login", json={"username": "bob", "password": "bob-pass"})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0


def test_a_stranger_is_throttled_by_address_and_the_user_elsewhere_is_not(live_stack):
    """web forwards the address it saw, auth counts failures against it (real processes; the
    two clients use different loopback source addresses)."""
    web = live_stack["web"]

    def client(address):
        return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=10)

    with client("127.0.0.2") as stranger, client("127.0.0.3") as user:
        codes = [stranger.post(f"{web}/api/login", json={"username": "alice", "password": "guess"}).status_code
                 for _ in range(6)]
        assert codes == [401] * 5 + [429]
        r = user.post(f"{web}/api/login", json={"username": "alice", "password": "alice-pass"})
        assert r.status_code == 200
    auth_log = (live_stack["logs"] / "auth.log").read_text()
    assert '"source":"127.0.0.2"' in auth_log and '"source":"127.0.0.3"' in auth_log


def scrape(url: str) -> dict[tuple[str, frozenset], float]:
    """A Prometheus text page as {(sample name, labels): value}."""
    from prometheus_client.parser import text_string_to_metric_families
    r = httpx.get(url)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def test_each_process_serves_its_metrics_on_its_own_port_only(live_stack):
    web, auth = live_stack["web"], live_stack["auth"]
    assert httpx.post(f"{web}/api/login", json={"username": "alice", "password": "wrong"}).status_code == 401
    r = httpx.post(f"{web}/api/login", json={"username": "alice", "password": "alice-pass"})
    h = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert httpx.get(f"{web}/api/todos", headers=h).status_code == 200
    assert httpx.get(f"{web}/api/todos").status_code == 401

    web_metrics = scrape(live_stack["web_metrics"])
    login = lambda status: web_metrics[("http_requests_total", frozenset(
        {"route": "/api/login", "method": "POST", "status": status}.items()))]
    assert (login("200"), login("401")) == (1, 1)
    assert web_metrics[("web_token_rejections_total", frozenset({"reason": "missing"}.items()))] == 1
    assert web_metrics[("griddb_operation_duration_seconds_count", frozenset({"operation": "list"}.items()))] == 1
    assert web_metrics[("process_resident_memory_bytes", frozenset())] > 0

    auth_metrics = scrape(live_stack["auth_metrics"])
    outcome = lambda o: auth_metrics[("auth_logins_total", frozenset({"outcome": o}.items()))]
    assert (outcome("success"), outcome("bad_credentials"), outcome("throttled")) == (1, 1, 0)

    # The public ports have no /metrics.
    assert httpx.get(f"{web}/metrics").status_code == 404
    assert httpx.get(f"{auth}/metrics").status_code == 404

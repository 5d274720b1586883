"""tools/bench/api --url: a benchmark of a deployed stack runs as a real account, so it must leave
that account's todos as they were: it removes exactly the todos it created, also when a run
fails half-way. Against real auth and web processes (memory store)."""

import httpx
import pytest


def alice_client(base: str) -> httpx.Client:
    token = httpx.post(f"{base}/api/login", json={"username": "alice", "password": "alice-pass"}).json()["access_token"]
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def titles(client: httpx.Client) -> list[str]:
    return sorted(t["title"] for t in client.get("/api/todos").raise_for_status().json())


# Alice's own todos, one of them titled like another bench run's marker.
OWN = ["buy milk", "griddb-todo bench run 000000000000", "call the plumber"]


def test_a_run_removes_exactly_the_todos_it_created(bench_api, live_stack, tmp_path, capsys):
    with alice_client(live_stack["web"]) as alice:
        for title in OWN:
            alice.post("/api/todos", json={"title": title}).raise_for_status()
        results = bench_api.bench_deployed(live_stack["web"], "alice", "alice-pass", [], 2000, 7, tmp_path)
        assert results == []
        out = capsys.readouterr().out
        assert "alice's list holds 10 todos (7 of them this run's)" in out
        assert "removed this run's 7 todos" in out
        assert titles(alice) == sorted(OWN)


def test_a_run_that_fails_half_way_still_removes_its_todos(bench_api, live_stack, tmp_path, monkeypatch):
    created = []

    def failing_runs(base, token, rates, min_requests, max_seconds, tmp, store, title):
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as c:
            for _ in range(5):  # what a create scenario sends: the run's marker as the title
                created.append(c.post("/api/todos", json={"title": title}).raise_for_status().json())
        raise RuntimeError("vegeta died")

    monkeypatch.setattr(bench_api, "constant_rate_runs", failing_runs)
    with alice_client(live_stack["web"]) as alice:
        for title in OWN:
            alice.post("/api/todos", json={"title": title}).raise_for_status()
        with pytest.raises(RuntimeError, match="vegeta died"):
            bench_api.bench_deployed(live_stack["web"], "alice", "alice-pass", [200], 2000, 3, tmp_path)
        assert len(created) == 5
        assert titles(alice) == sorted(OWN)


def test_a_wrong_password_stops_the_run_with_the_answer(bench_api, live_stack, tmp_path):
    with pytest.raises(SystemExit, match="login as 'alice' .* failed: HTTP 401"):
        bench_api.bench_deployed(live_stack["web"], "alice", "wrong", [200], 2000, 3, tmp_path)


@pytest.mark.parametrize("url", ["192.0.2.2:8080", "http://node:8080/api", "ftp://node", "http://node:8080?x=1"])
def test_url_must_be_web_address(bench_api, url):
    with pytest.raises(SystemExit, match="--url must be"):
        bench_api.deployed_base(url)


def test_url_trailing_slash_is_dropped(bench_api):
    assert bench_api.deployed_base("http://node:8080/") == "http://node:8080"


def test_a_run_that_cannot_clean_up_says_what_it_left(bench_api, live_stack, tmp_path, monkeypatch, capsys):
    def unreachable(client, marker):
        raise bench_api.httpx.ConnectError("web went away")

    monkeypatch.setattr(bench_api, "remove_marked", unreachable)
    with pytest.raises(bench_api.httpx.ConnectError):
        bench_api.bench_deployed(live_stack["web"], "alice", "alice-pass", [], 2000, 2, tmp_path)
    err = capsys.readouterr().err
    assert "could not remove this run's todos (web went away): delete alice's todos titled 'griddb-todo bench run " in err

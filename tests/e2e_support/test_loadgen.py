"""The e2e load generator (tests/e2e/loadgen.py), offline, against a small web API double on
loopback: it keeps its rate and its bound, counts every answer by status, and notices a failed
request and a lost write. Without this, a zero-failure e2e result could come from a generator
that sends nothing or counts wrong."""

import json
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from loadgen import LoadGenerator  # noqa: E402


class Api:
    """What the double serves; tests change `fail_with` and `delay` while it runs."""

    def __init__(self):
        self.todos: dict[str, dict] = {}
        self.fail_with = None  # an HTTP status to answer every todo request with
        self.delay = 0.0
        self.lock = threading.Lock()
        self.requests = 0
        self.toggled: set[str] = set()  # every id a PATCH named


def handler_for(api: Api):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def answer(self, status, body=None):
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def body(self):
            return json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")

        def handle_one(self, method):
            with api.lock:
                api.requests += 1
            time.sleep(api.delay)
            if self.path == "/api/login":
                ok = self.body() == {"username": "demo", "password": "pw"}
                return self.answer(200, {"access_token": "t", "token_type": "Bearer", "expires_in": 900}) if ok \
                    else self.answer(401, {"detail": "no"})
            if method == "PATCH":
                with api.lock:
                    api.toggled.add(self.path.rsplit("/", 1)[1])
            if self.headers.get("Authorization") != "Bearer t":
                return self.answer(401, {"detail": "missing bearer token"})
            if api.fail_with:
                return self.answer(api.fail_with, {"detail": "down"})
            with api.lock:
                if method == "GET":
                    return self.answer(200, list(api.todos.values()))
                if method == "POST":
                    todo = {"id": uuid.uuid4().hex, "title": self.body()["title"], "done": False}
                    api.todos[todo["id"]] = todo
                    return self.answer(201, todo)
                todo = api.todos.get(self.path.rsplit("/", 1)[1])
                if todo is None:
                    return self.answer(404, {"detail": "todo not found"})
                todo["done"] = self.body()["done"]
                return self.answer(200, todo)

        def do_GET(self):
            self.handle_one("GET")

        def do_POST(self):
            self.handle_one("POST")

        def do_PATCH(self):
            self.handle_one("PATCH")

    return Handler


@pytest.fixture()
def api():
    state = Api()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()


def test_it_keeps_its_rate_and_counts_every_answer(api):
    with LoadGenerator(api.url, "demo", "pw", rate=30, seed=1) as load:
        time.sleep(3)
    counts = load.tally.counts()
    total = sum(sum(by_status.values()) for by_status in counts.values())
    assert total == api.requests, "every request sent is counted once"
    assert 75 <= total <= 100, f"30/s for 3 s, plus the first login: {total}"
    assert set(counts) == {"list", "create", "toggle", "login"}  # the first login is always one
    assert set(counts["create"]) == {"201"} and set(counts["list"]) == {"200"}
    assert load.missing_writes(list(api.todos.values())) == []
    assert len(load.tally.acknowledged) == counts["create"]["201"]


def test_it_toggles_only_todos_the_api_acknowledged(api):
    """A toggle of an id nobody made earns a correct 404: the generator must never send one, or
    a real 404 (a lost todo) and its own would look the same. The API refuses everything for a
    second first, as with GridDB away, so that nothing is acknowledged while toggles come due."""
    api.fail_with = 503
    with LoadGenerator(api.url, "demo", "pw", rate=60, seed=3) as load:
        time.sleep(1)
        api.fail_with = None
        time.sleep(1)
    assert api.toggled, "the load sent no toggle"
    assert api.toggled <= set(api.todos), f"toggles of ids the API never made: {api.toggled - set(api.todos)}"
    assert set(load.tally.counts()["toggle"]) <= {"200", "503"}


def test_failures_and_lost_writes_are_seen(api):
    with LoadGenerator(api.url, "demo", "pw", rate=30, seed=2) as load:
        time.sleep(1)
        api.fail_with = 503
        time.sleep(1)
    statuses = load.tally.statuses()
    assert statuses.get("503", 0) >= 10 and statuses.get("200", 0) >= 5
    lost = next(iter(load.tally.acknowledged))
    del api.todos[lost]
    assert load.missing_writes(list(api.todos.values())) == [f"{lost} ({load.tally.acknowledged[lost][0]!r}) is gone"]


def test_in_flight_requests_are_bounded_and_late_ticks_skipped(api):
    api.delay = 1.0
    with LoadGenerator(api.url, "demo", "pw", rate=30, workers=4, seed=3) as load:
        time.sleep(2)
    # 4 at a time for about 2 s of 1 s requests: about 8 answered (and the first login), the rest skipped
    assert len(load.tally.outcomes) <= 1 + 4 * 3
    assert load.tally.skipped >= 40

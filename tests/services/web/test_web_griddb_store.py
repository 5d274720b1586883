"""The GridDB TodoStore.

* Without a live node (needs Java and the gridstore jar only): the store starts, reports not
  ready, retries with backoff in the background, and the API answers 503 instead of crashing.
* Against a live GridDB (marker `griddb`): GRIDDB_NOTIFICATION_MEMBER=host:port plus
  GRIDDB_CLUSTER_NAME, GRIDDB_USERNAME, GRIDDB_PASSWORD; skipped with that reason otherwise.

The jars come from the `griddb_classpath` fixture (tests/services/conftest.py): CLASSPATH if
it names gridstore, else build/griddb-jars, fetched with jars.lock's checks, plus web's row reader.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from web.store import StoreUnavailable


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_griddb_means_503_and_background_retries(griddb_classpath, minter):
    from fastapi.testclient import TestClient
    from web.app import create_app
    from web.griddb_store import GridDBStore
    from web.settings import Settings
    from web.tokens import TokenVerifier

    store = GridDBStore(f"127.0.0.1:{closed_port()}", "myCluster", "admin", "not-a-secret",
                        failover_timeout=1, backoff_max=1.0)
    try:
        verifier = TokenVerifier(lambda: {"keys": [minter.jwk]}, "griddb-todo-auth", "griddb-todo-web")
        c = TestClient(create_app(Settings(store="griddb"), store, verifier))
        h = {"Authorization": f"Bearer {minter.token()}"}
        started = time.monotonic()
        r = c.post("/api/todos", json={"title": "x"}, headers=h)
        assert r.status_code == 503 and "GridDB" in r.json()["detail"]
        assert time.monotonic() - started < 2, "503 must come at once, not after a timeout"
        assert c.get("/readyz").status_code == 503
        assert c.get("/healthz").status_code == 200
        with pytest.raises(StoreUnavailable):
            store.list("alice")
        deadline = time.monotonic() + 30
        while store.connect_attempts < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert store.connect_attempts >= 3, "the store keeps retrying in the background"
        assert "JC_BAD_CONNECTION" in (store.last_error or "") or "Failover" in (store.last_error or "")
    finally:
        store.close()


def test_web_process_on_griddb_answers_503_and_stops_cleanly_on_sigterm(griddb_classpath, tmp_path, minter,
                                                                       repo_root):
    """The real process with its JVM: GridDB away gives 503 at once (web stays healthy), and
    SIGTERM closes the store and exits 0 well inside the pod's grace period."""
    import json
    import signal

    import httpx

    port = closed_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRIDDB_", "AUTH_", "WEB_"))}
    env.update({"WEB_PORT": str(port), "WEB_METRICS_PORT": str(closed_port()), "TODO_STORE": "griddb",
                "CLASSPATH": griddb_classpath,
                "GRIDDB_NOTIFICATION_MEMBER": f"127.0.0.1:{closed_port()}", "GRIDDB_CLUSTER_NAME": "myCluster",
                "GRIDDB_USERNAME": "admin", "GRIDDB_PASSWORD": "not-a-secret",
                "AUTH_URL": f"http://127.0.0.1:{closed_port()}", "SHUTDOWN_DRAIN_SECONDS": "10",
                "PYTHONPATH": str(repo_root / "services/web")})
    log = tmp_path / "web.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "web"], env=env, stdout=out, stderr=subprocess.STDOUT,
                                cwd=tmp_path)
    try:
        def lines():
            return [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(x["msg"] == "GridDB connection failed, retrying" for x in lines()):
            time.sleep(0.2)
        assert any(x["msg"] == "GridDB connection failed, retrying" for x in lines()), "the JVM never started"
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(base + "/healthz", timeout=5).status_code == 200
        # no JWKS either (auth is away too): a token of an unknown key is a 503, not a 500
        r = httpx.get(base + "/api/todos", headers={"Authorization": f"Bearer {minter.token()}"}, timeout=5)
        assert r.status_code == 503
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        assert proc.wait(timeout=20) == 0
        assert time.monotonic() - started < 10, "the store closes within its 5 s"
        msgs = [x["msg"] for x in lines()]
        assert "stopped" in msgs, msgs
        # After uvicorn stopped, the store closes and that is the last word. The supervisor runs
        # until close() stops it, so a connection attempt failing in between may still say so.
        after = [m for m in msgs[msgs.index("stopped") + 1:] if m != "GridDB connection failed, retrying"]
        assert after == ["store closed"], msgs
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_supervisor_connects_after_failures_and_reconnects_after_a_lost_connection():
    """The connection state machine, with the Java calls replaced (no JVM needed)."""
    from web.griddb_store import GridDBStore

    store = GridDBStore("h:1", "c", "u", "p", start=False, check_interval=0.1, backoff_max=0.2)
    attempts, node_up = [], {"up": False}

    def connect():
        attempts.append(time.monotonic())
        if not node_up["up"]:
            raise RuntimeError("JC_BAD_CONNECTION")

    def ping():
        if not node_up["up"]:
            raise RuntimeError("connection reset")

    store._connect, store._ping = connect, ping
    store._supervisor.start()
    try:
        deadline = time.monotonic() + 10
        while len(attempts) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not store.ready() and len(attempts) >= 4
        gaps = [b - a for a, b in zip(attempts, attempts[1:])]
        assert gaps[0] >= 0.3 and all(g < 1.0 for g in gaps), gaps  # 0.5 s backoff, capped
        with pytest.raises(StoreUnavailable):
            store.list("alice")
        node_up["up"] = True
        assert store.wait_ready(5), "connects once the node is back"
        node_up["up"] = False  # the node goes away: the periodic ping notices
        deadline = time.monotonic() + 5
        while store.ready() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not store.ready()
        n = len(attempts)
        node_up["up"] = True
        assert store.wait_ready(5) and len(attempts) > n, "and reconnects when it returns"
    finally:
        store.close()


def test_a_starting_store_retries_often_until_its_first_connection_then_backs_off():
    """A pod started beside its GridDB node (one `pulumi up` rolls both out) notices the node
    soon after it is ready; a store that lost its connection backs off as before."""
    from web.griddb_store import GridDBStore

    store = GridDBStore("h:1", "c", "u", "p", start=False, check_interval=0.1,
                        backoff_max=30.0, start_backoff_max=0.25)
    attempts, node_up = [], {"up": False}

    def connect():
        attempts.append(time.monotonic())
        if not node_up["up"]:
            raise RuntimeError("JC_BAD_CONNECTION")

    def ping():
        if not node_up["up"]:
            raise RuntimeError("connection reset")

    store._connect, store._ping = connect, ping
    store._supervisor.start()
    try:
        deadline = time.monotonic() + 10
        while len(attempts) < 5 and time.monotonic() < deadline:
            time.sleep(0.02)
        gaps = [b - a for a, b in zip(attempts, attempts[1:])]
        # 0.5 s, then the start cap: without it the gaps would double (1, 2, 4 s).
        assert len(gaps) >= 4 and all(g < 0.45 for g in gaps[1:4]), gaps
        node_up["up"] = True
        assert store.wait_ready(5)
        node_up["up"] = False
        lost = len(attempts)
        deadline = time.monotonic() + 10
        while len(attempts) < lost + 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        after = [b - a for a, b in zip(attempts[lost:], attempts[lost + 1:])]
        # Once connected, a loss is retried with the growing backoff: 0.5 s, then 1 s.
        assert len(after) >= 2 and after[1] >= 0.75, after
    finally:
        store.close()


def test_each_griddb_failure_is_counted_with_its_reason():
    """The reasons web's griddb_operation_errors_total carries (no JVM needed: the Java side
    is never reached, or replaced)."""
    from web.griddb_store import GridDBStore
    from web.metrics import STORE_ERROR_REASONS, STORE_OPERATIONS, WebMetrics

    store = GridDBStore("h:1", "c", "u", "p", start=False, op_timeout=0.2)
    metrics = WebMetrics()
    measured = metrics.watch_store(store)
    errors = lambda op, reason: metrics.registry.get_sample_value(
        "griddb_operation_errors_total", {"operation": op, "reason": reason})
    try:
        with pytest.raises(StoreUnavailable):
            measured.list("alice")  # never connected
        assert errors("list", "not_connected") == 1
        assert metrics.registry.get_sample_value("griddb_up") == 0

        store._ready.set()  # "connected", but the node does not answer in time
        answer = threading.Event()
        slow = type("SlowCollection", (), {"remove": lambda self, key: answer.wait(5)})()
        store._collection = lambda: slow
        store._get = lambda owner, todo_id: object()
        with pytest.raises(StoreUnavailable):
            measured.delete("alice", "a" * 32)
        assert errors("delete", "timeout") == 1
        assert not store.ready(), "a timed-out operation marks the connection lost"
        answer.set()  # the late answer arrives; the worker is free again

        store._ready.set()  # "connected", but the Java client raises
        store._collection = lambda: None  # the Java call fails (here: on None)
        with pytest.raises(StoreUnavailable):
            measured.list("alice")
        assert errors("list", "failed") == 1
        assert sum(metrics.registry.get_sample_value("griddb_operation_errors_total",
                                                     {"operation": op, "reason": reason})
                   for op in STORE_OPERATIONS
                   for reason in STORE_ERROR_REASONS) == 3
    finally:
        store.close()


class _FakeHandle:
    """A GridStore or collection handle with the Java client replaced: it fails the test when two
    threads use it at once (GridStore is not thread-safe), and each query takes 0.1 s."""

    def __init__(self):
        self.busy, self.threads, self.closed = False, set(), False

    def query(self, tql):
        assert not self.busy, "one GridDB handle used by two threads at once"
        self.busy = True
        self.threads.add(threading.get_ident())
        time.sleep(0.1)
        self.busy = False
        return _FakeQuery()

    def close(self):
        self.closed = True


class _FakeQuery:
    def close(self):
        pass


def test_workers_each_own_a_handle_and_their_calls_overlap():
    from concurrent.futures import ThreadPoolExecutor

    from web.griddb_store import GridDBStore

    store = GridDBStore("h:1", "c", "u", "p", start=False, workers=4)
    opened = []

    def fake_open(create):
        gs, col = _FakeHandle(), _FakeHandle()
        opened.append((threading.get_ident(), create, gs, col))
        return gs, col

    store._open = fake_open
    store._fetch_rows = lambda query: []  # the Java row reader is not loaded here
    try:
        store._call(store._connect, check_ready=False)
        store._ready.set()
        with ThreadPoolExecutor(8) as callers:
            started = time.monotonic()
            assert list(callers.map(lambda _: store.list("alice"), range(8))) == [[]] * 8
            elapsed = time.monotonic() - started
        # 8 calls of 0.1 s: about 0.2 s on 4 workers; one worker (the old design) takes 0.8 s.
        assert elapsed < 0.6, elapsed
        assert all(len(col.threads) <= 1 for _, _, _, col in opened)
        threads = [t for t, _, _, _ in opened]
        assert len(threads) == len(set(threads)) <= 4, "each worker opens its handles once"
        assert [create for _, create, _, _ in opened].count(True) == 1  # the supervisor's connect
        # A reconnect (after a lost connection) makes every worker reopen; old handles close.
        first = list(opened)
        store._call(store._connect, check_ready=False)
        with ThreadPoolExecutor(8) as callers:
            list(callers.map(lambda _: store.list("alice"), range(8)))
        assert len(opened) > len(first)
        reopened_by = {t for t, _, _, _ in opened[len(first):]}
        for thread, _, gs, col in first:
            if thread in reopened_by:
                assert gs.closed and col.closed
    finally:
        store.close()
    assert all(gs.closed and col.closed for _, _, gs, col in opened), "close() closes every handle"


def test_tql_string_escaping():
    from web.griddb_store import tql_string
    assert tql_string("alice") == "'alice'"
    assert tql_string("o'brien") == "'o''brien'"
    assert tql_string("x' or true or owner='y") == "'x'' or true or owner=''y'"


def test_the_row_reader_writes_json_that_reads_back_to_every_title(griddb_classpath):
    """TodoRows.java turns titles into JSON text: what Python reads back must be the very string
    stored, for whatever a title may hold (quotes, backslashes, astral characters, U+2028)."""
    import json
    from web.griddb_store import GridDBStore
    rows = GridDBStore("127.0.0.1:1", "c", "u", "p", start=False)._load_java()["TodoRows"]
    for title in ['say "hi"', "C:\\temp\\new", "ünïcødé ✓ 😀𝄞", "line\u2028sep", "</script>", "",
                  "\x00\x01\x1f control"]:
        assert json.loads(str(rows.jsonString(title))) == title


def test_a_classpath_without_the_row_reader_is_named(griddb_classpath, tmp_path):
    """The client jars alone are not enough: the store says which jar is missing and how to build it."""
    jars = [str(p) for p in Path(griddb_classpath.rstrip("*")).glob("*.jar") if "griddb-todo-rows" not in p.name]
    code = ("from web.griddb_store import GridDBStore\n"
            "GridDBStore('127.0.0.1:1', 'c', 'u', 'p', start=False)._load_java()\n")
    env = dict(os.environ, CLASSPATH=os.pathsep.join(jars), PYTHONPATH=str(Path(__file__).resolve().parents[3] / "services/web"))
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode != 0
    assert "CLASSPATH lacks griddb-todo-rows.jar" in r.stderr and "build_rows_jar.py" in r.stderr, r.stderr[-2000:]


# ---- live GridDB -------------------------------------------------------------------------

LIVE_ENV = ("GRIDDB_NOTIFICATION_MEMBER", "GRIDDB_CLUSTER_NAME", "GRIDDB_USERNAME", "GRIDDB_PASSWORD")


@pytest.fixture()
def live_store(griddb_classpath):
    missing = [k for k in LIVE_ENV if not os.environ.get(k)]
    if missing:
        pytest.skip(f"no live GridDB: set {', '.join(missing)}")
    from web.griddb_store import GridDBStore
    name = f"todos_test_{uuid.uuid4().hex[:12]}"
    stores = []

    def make():
        s = GridDBStore(*(os.environ[k] for k in LIVE_ENV), container=name)
        stores.append(s)
        assert s.wait_ready(60), f"GridDB not ready: {s.last_error}"
        return s
    yield make
    if stores:
        s = stores[0]
        try:
            s._call(lambda: s._grid_store().dropContainer(name))
        except StoreUnavailable:
            pass
    for s in stores:
        s.close()


@pytest.mark.griddb
def test_live_crud_ownership_and_persistence(live_store):
    store = live_store()
    a1 = store.create("alice", "first")
    a2 = store.create("alice", "it's \"quoted\" — ünïcødé ✓ C:\\new 😀")
    b1 = store.create("bob", "bob's")
    assert [t.id for t in store.list("alice")] == [a1.id, a2.id]
    assert store.list("alice")[1].title == a2.title
    assert [t.id for t in store.list("bob")] == [b1.id]
    # ownership: bob cannot see, change or delete alice's todo
    assert store.update("bob", a1.id, done=True) is None
    assert store.delete("bob", a1.id) is False
    assert store.list("alice")[0].done is False
    # a TQL injection attempt through the owner matches nothing
    assert store.list("x' or owner = 'alice") == []
    # update and delete
    t = store.update("alice", a1.id, done=True, title="first, done")
    assert (t.done, t.title) == (True, "first, done")
    assert store.delete("alice", a2.id) is True
    assert store.delete("alice", a2.id) is False
    # a second store (another process, a restart) opens the same collection and sees the data
    other = live_store()
    got = other.list("alice")
    assert [(x.id, x.title, x.done) for x in got] == [(a1.id, "first, done", True)]
    assert got[0].created_at == a1.created_at
    assert other.update("alice", "no-such-id", done=True) is None


@pytest.mark.griddb
def test_live_api_over_griddb(live_store, minter):
    from fastapi.testclient import TestClient
    from web.app import create_app
    from web.settings import Settings
    from web.tokens import TokenVerifier

    store = live_store()
    verifier = TokenVerifier(lambda: {"keys": [minter.jwk]}, "griddb-todo-auth", "griddb-todo-web")
    c = TestClient(create_app(Settings(store="griddb"), store, verifier))
    h = {"Authorization": f"Bearer {minter.token('carol')}"}
    assert c.get("/readyz").status_code == 200
    t = c.post("/api/todos", json={"title": "stored in GridDB"}, headers=h).json()
    assert c.patch(f"/api/todos/{t['id']}", json={"done": True}, headers=h).json()["done"] is True
    assert [x["id"] for x in c.get("/api/todos", headers=h).json()] == [t["id"]]
    assert c.delete(f"/api/todos/{t['id']}", headers=h).status_code == 204
    assert c.get("/api/todos", headers=h).json() == []

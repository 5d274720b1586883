"""GridDB away and back (issue 9), through the real GridDBStore with a GridDB double in place of
the Java client: the same supervisor, timeouts, worker thread and reconnect logic run as in a pod.

* while the node is gone the todo API answers 503 with its clear message, never 500, at once;
* while the node accepts but never answers, within the operation timeout, never a hang;
* /healthz stays 200 throughout (web stays in the Service), /readyz says 503;
* once the node is back the API serves again by itself, with the data it had.
"""

from __future__ import annotations

import json
import re
import threading
import time

import pytest
from fastapi.testclient import TestClient

from web.app import STORE_DOWN, create_app
from web.griddb_store import GridDBStore
from web.settings import Settings
from web.store import StoreUnavailable
from web.tokens import TokenVerifier

OP_TIMEOUT = 1.0


class NodeGone(Exception):
    """What the Java client raises when the node is unreachable (a GSException in real life)."""


class FakeNode:
    """A GridDB node that can go away (`up = False`) or hang (`hang_seconds`)."""

    def __init__(self):
        self.up = True
        self.hang_seconds = 0.0
        self.rows: dict[str, list] = {}
        self.lock = threading.Lock()

    def answer(self) -> None:
        if self.hang_seconds:
            time.sleep(self.hang_seconds)
        if not self.up:
            raise NodeGone("[145028:JC_BAD_CONNECTION] connection refused")


class FakeDate:
    def __init__(self, ms):
        self.ms = ms

    def getTime(self):
        return self.ms


class FakeRow:
    def __init__(self, values=None):
        self.values = list(values or [None] * 5)

    def setString(self, i, v):
        self.values[i] = v

    setBool = setTimestamp = setString

    def getString(self, i):
        return self.values[i]

    getBool = getTimestamp = getString


class FakeQuery:
    def __init__(self, node, owner):
        self.node, self.owner = node, owner

    def close(self):
        pass


class FakeTodoRows:
    """TodoRows.java's fetchJson (the whole query's rows as one JSON text), on the double's rows."""

    @staticmethod
    def fetchJson(query):  # noqa: N802 - the Java class's name
        query.node.answer()
        rows = sorted((v for v in query.node.rows.values() if v[1] == query.owner), key=lambda v: v[4].getTime())
        return json.dumps([[v[0], v[2], v[3], v[4].getTime()] for v in rows])


class FakeCollection:
    def __init__(self, node):
        self.node = node

    def createRow(self):
        return FakeRow()

    def put(self, row):
        self.node.answer()
        self.node.rows[row.values[0]] = list(row.values)

    def get(self, key):
        self.node.answer()
        values = self.node.rows.get(key)
        return FakeRow(values) if values else None

    def remove(self, key):
        self.node.answer()
        return self.node.rows.pop(key, None) is not None

    def query(self, tql):
        owner = re.search(r"owner = '((?:[^']|'')*)'", tql).group(1).replace("''", "'")
        return FakeQuery(self.node, owner)

    def close(self):
        pass


class FakeGridStore:
    def __init__(self, node):
        self.node = node

    def getContainerInfo(self, name):
        self.node.answer()
        return object()

    def close(self):
        pass


class StoreOnFakeNode(GridDBStore):
    """GridDBStore with only the Java boundary replaced: opening handles, and the classes it loads."""

    def __init__(self, node: FakeNode, **kwargs):
        self.node = node
        super().__init__("griddb:10001", "myCluster", "admin", "not-a-secret", **kwargs)

    def _load_java(self):
        self._j = {"Date": FakeDate, "TodoRows": FakeTodoRows}
        return self._j

    def _open(self, create: bool):
        """One worker's handles (the real one opens a GridStore and gets the collection)."""
        self._load_java()
        self.node.answer()
        return FakeGridStore(self.node), FakeCollection(self.node)


@pytest.fixture()
def rig(minter):
    node = FakeNode()
    store = StoreOnFakeNode(node, op_timeout=OP_TIMEOUT, check_interval=0.2, backoff_max=0.5)
    assert store.wait_ready(5)
    verifier = TokenVerifier(lambda: {"keys": [minter.jwk]}, "griddb-todo-auth", "griddb-todo-web")
    client = TestClient(create_app(Settings(store="griddb"), store, verifier))
    yield node, store, client, {"Authorization": f"Bearer {minter.token()}"}
    store.close()


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def assert_store_down(response):
    assert response.status_code == 503
    assert response.json() == {"detail": STORE_DOWN}
    assert response.headers["Retry-After"] == "5"


def wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_griddb_gone_means_503_then_the_api_recovers_by_itself(rig):
    node, store, client, auth = rig
    kept = client.post("/api/todos", json={"title": "written before"}, headers=auth)
    assert kept.status_code == 201

    node.up = False
    for call in (lambda: client.get("/api/todos", headers=auth),
                 lambda: client.post("/api/todos", json={"title": "x"}, headers=auth),
                 lambda: client.patch(f"/api/todos/{kept.json()['id']}", json={"done": True}, headers=auth),
                 lambda: client.delete(f"/api/todos/{kept.json()['id']}", headers=auth)):
        response, took = timed(call)
        assert_store_down(response)
        assert took < OP_TIMEOUT + 1
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 503

    node.up = True
    # No restart, no new store: the supervisor reconnects in the background.
    assert wait_until(lambda: client.get("/api/todos", headers=auth).status_code == 200, timeout=5)
    assert [t["title"] for t in client.get("/api/todos", headers=auth).json()] == ["written before"]
    assert client.get("/readyz").status_code == 200
    assert client.post("/api/todos", json={"title": "written after"}, headers=auth).status_code == 201


def test_a_node_that_never_answers_gives_503_within_the_operation_timeout(rig):
    node, store, client, auth = rig
    node.hang_seconds = 3 * OP_TIMEOUT
    response, took = timed(lambda: client.get("/api/todos", headers=auth))
    assert_store_down(response)
    assert took < OP_TIMEOUT + 1, f"waited {took:.1f} s"
    # The next caller does not queue behind the stuck call: it is told at once.
    response, took = timed(lambda: client.post("/api/todos", json={"title": "x"}, headers=auth))
    assert_store_down(response)
    assert took < 0.5
    assert client.get("/healthz").status_code == 200
    node.hang_seconds = 0
    assert wait_until(lambda: client.get("/api/todos", headers=auth).status_code == 200, timeout=10)


def test_an_overload_refuses_what_queued_too_long_and_keeps_the_connection():
    """More requests than workers: the node answers every one, slowly (0.6 of the operation
    timeout). The one that waits behind two others for a free worker longer than the timeout is
    refused as busy without ever running; the one that started within the timeout gets its own
    timeout from its start and succeeds; the connection is neither dropped nor made again. (One
    timeout over queue and run together called the second one hung, dropped the connection and
    answered 503 to everyone until the reconnect: an overload became an outage.)"""
    node = FakeNode()
    store = StoreOnFakeNode(node, op_timeout=2.0, check_interval=60, workers=1)
    try:
        assert store.wait_ready(5)
        attempts = store.connect_attempts
        node.hang_seconds = 1.2
        outcomes: dict[int, object] = {}

        def call(n: int) -> None:
            try:
                outcomes[n] = store.list("alice")
            except StoreUnavailable as exc:
                outcomes[n] = exc.reason

        threads = []
        for n in range(3):  # queued in this order: runs 0-1.2 s, 1.2-2.4 s, never
            threads.append(threading.Thread(target=call, args=(n,)))
            threads[-1].start()
            time.sleep(0.05)
        for t in threads:
            t.join(10)
        assert outcomes == {0: [], 1: [], 2: "busy"}
        assert store.ready(), "an overload is not a lost connection"
        assert store.connect_attempts == attempts
        node.hang_seconds = 0
        assert store.list("alice") == []
    finally:
        store.close()


def test_closing_the_store_is_bounded_even_with_a_stuck_worker():
    node = FakeNode()
    store = StoreOnFakeNode(node, op_timeout=OP_TIMEOUT, check_interval=0.2)
    assert store.wait_ready(5)
    node.hang_seconds = 4  # the stuck call itself ends later (at exit Python waits for it)
    threading.Thread(target=lambda: pytest.raises(Exception, store.list, "alice"), daemon=True).start()
    time.sleep(0.2)  # the worker is now stuck in the node
    started = time.monotonic()
    store.close(timeout=2.0)
    assert time.monotonic() - started < 2.5
    assert not store.ready()


@pytest.mark.parametrize("node_up", [True, False])
def test_a_new_web_process_is_started_once_its_first_connection_attempt_is_done(minter, node_up):
    """/startupz (the pod's startup probe) holds a new pod out of the Service while it makes its
    first connection, then lets it in, connected (its API serves) or not (its API says 503)."""
    node = FakeNode()
    node.up = node_up
    node.hang_seconds = 1.0  # a first connection that takes a while (the JVM, the network)
    store = StoreOnFakeNode(node, op_timeout=3.0, check_interval=0.2, backoff_max=0.5)
    try:
        verifier = TokenVerifier(lambda: {"keys": [minter.jwk]}, "griddb-todo-auth", "griddb-todo-web")
        client = TestClient(create_app(Settings(store="griddb"), store, verifier))
        auth = {"Authorization": f"Bearer {minter.token()}"}
        assert client.get("/startupz").status_code == 503
        assert client.get("/healthz").status_code == 200  # alive all along: never restarted for it
        assert wait_until(lambda: client.get("/startupz").status_code == 200, timeout=5)
        node.hang_seconds = 0
        todos = client.get("/api/todos", headers=auth)
        if node_up:
            assert todos.status_code == 200
        else:
            assert_store_down(todos)
    finally:
        store.close()


def test_the_memory_store_is_started_at_once(client):
    assert client.get("/startupz").json() == {"status": "started"}

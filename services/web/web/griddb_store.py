"""TodoStore on GridDB, through the GridDB Java client (gridstore.jar) driven by JPype.

Why not the `griddb-python` package: its 5.8/5.9 releases import the Arrow adapter
(com.toshiba.mwcloud.gs.arrow.adapter, jar `gridstore-arrow`) when the module loads, and that
jar is not on Maven Central as reachable from our builds (nor gridstore >= 5.7). We call the
same Java API it wraps, directly, with the gridstore jar pinned in the Dockerfile. A list is read
on the Java side by our own small class (java-src/griddbtodo/TodoRows.java, in its own jar):
field by field through JPype it cost about ten bridge calls a row.

Threading: JPype lets any thread call Java, but a GridStore is not thread-safe, so every Java
call happens on one of a few worker threads (an executor of `workers` threads), each of which
owns its own GridStore and collection handle, opened on its first call and reused for all
requests after it. One worker serialised every request: at 400 req/s the queue in front of it
grew without bound; several let GridDB's round trips overlap (Java releases the GIL). A supervisor thread connects in the
background with capped exponential backoff (capped lower until the first connection), creates the collection if absent (idempotent), and
checks the connection every few seconds; while GridDB is unreachable the store reports
ready() == False and every operation raises StoreUnavailable at once (the API answers 503).
"""

from __future__ import annotations

import glob
import json
import logging
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime, timezone
from typing import Callable, TypeVar

from .store import StoreUnavailable, Todo, check_owner, check_title, is_todo_id, new_id, now_utc

log = logging.getLogger("web.griddb")
T = TypeVar("T")

CONTAINER = "todos"


def _classpath() -> list[str]:
    """Jars named by CLASSPATH (entries may end in /* like Java's own wildcard)."""
    jars: list[str] = []
    for entry in os.environ.get("CLASSPATH", "").split(os.pathsep):
        if not entry:
            continue
        if entry.endswith("*"):
            jars.extend(sorted(glob.glob(entry[:-1] + "*.jar")))
        else:
            jars.append(entry)
    return jars


def _from_millis(ms: int) -> datetime:
    """A TIMESTAMP column's Unix milliseconds as an aware UTC datetime."""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def tql_string(value: str) -> str:
    """A TQL string literal: single quotes, an embedded quote doubled."""
    return "'" + value.replace("'", "''") + "'"


class GridDBStore:
    blocking = True  # every call waits for GridDB: the API runs it off the event loop

    def __init__(self, notification_member: str, cluster_name: str, username: str, password: str,
                 *, container: str = CONTAINER, op_timeout: float = 5.0,
                 failover_timeout: int = 5, check_interval: float = 5.0,
                 backoff_max: float = 5.0, start_backoff_max: float = 2.0, workers: int = 4,
                 start: bool = True):
        self._props = {
            "notificationMember": notification_member,
            "clusterName": cluster_name,
            "user": username,
            "password": password,
            # give up on a dead node after a few seconds instead of the default minutes
            "failoverTimeout": str(failover_timeout),
            "transactionTimeout": str(max(5, int(op_timeout))),
        }
        self.container_name = container
        self.op_timeout = op_timeout
        self.check_interval = check_interval
        self.backoff_max = backoff_max
        # Until the first connection: a pod that starts beside its GridDB node (one `pulumi up`
        # rolls both out at once) must notice the node within a second or two of its becoming
        # ready, not after a 30 s backoff; the pod's start (web's startup probe) waits on it.
        self.start_backoff_max = start_backoff_max
        self._connected_once = False
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="griddb")
        self._ready = threading.Event()
        self._first_attempt = threading.Event()  # set once the first connect succeeded or failed
        self._wake = threading.Event()
        self._stop = threading.Event()
        # Per worker thread: (generation, GridStore, collection), touched only by that thread.
        self._local = threading.local()
        # Bumped by every successful (re)connect of the supervisor: a worker whose GridStore is
        # from an older generation closes it and opens a new one before its next call.
        self._generation = 0
        self._opened: list = []  # every handle opened, to close them all on close()
        self._opened_lock = threading.Lock()
        self._java_lock = threading.Lock()
        self._j = None   # Java classes, loaded once, on whichever worker comes first
        self.connect_attempts = 0
        self.last_error: str | None = None
        self._supervisor = threading.Thread(target=self._supervise, name="griddb-supervisor",
                                            daemon=True)
        if start:
            self._supervisor.start()

    # ---- worker-thread side ---------------------------------------------------------------
    def _load_java(self):
        with self._java_lock:
            return self._j or self._start_java()

    def _start_java(self):
        import jpype
        import jpype.imports  # noqa: F401
        if not jpype.isJVMStarted():
            jars = _classpath()
            if not jars:
                raise RuntimeError("CLASSPATH names no GridDB client jar")
            jpype.startJVM("-Xmx160m", "-Xss512k", "-XX:-UsePerfData", classpath=jars,
                           convertStrings=False)
            # The Java client logs every retry as multi-line text through java.util.logging;
            # silence it: the supervisor logs connection state as JSON instead.
            from java.util.logging import LogManager  # type: ignore[import-not-found]
            LogManager.getLogManager().reset()
        from com.toshiba.mwcloud.gs import (  # type: ignore[import-not-found]
            ColumnInfo, ContainerInfo, ContainerType, GridStoreFactory, GSType, IndexType)
        from java.util import ArrayList, Date, Properties  # type: ignore[import-not-found]
        self._j = {
            "ColumnInfo": ColumnInfo, "ContainerInfo": ContainerInfo, "ContainerType": ContainerType,
            "GridStoreFactory": GridStoreFactory, "GSType": GSType, "IndexType": IndexType,
            "ArrayList": ArrayList, "Date": Date, "Properties": Properties,
            "Exception": jpype.JClass("java.lang.Exception"),
            "TodoRows": self._todo_rows_class(jpype),
        }
        return self._j

    @staticmethod
    def _todo_rows_class(jpype):
        """Our row reader (services/web/java-src; build_rows_jar.py puts it beside the client jars)."""
        try:
            return jpype.JClass("griddbtodo.TodoRows")
        except TypeError:  # JPype's answer for a class not on the class path
            raise RuntimeError("CLASSPATH lacks griddb-todo-rows.jar (web's row reader: "
                               "services/web/docker/build_rows_jar.py builds it)") from None

    def _open(self, create: bool):
        """A new GridStore and collection handle for the calling worker thread; with `create`,
        the collection is created if absent (idempotent: putContainer with modifiable=false
        creates it or opens the existing one with the same schema; createIndex is a no-op if
        the index exists)."""
        j = self._load_java()
        props = j["Properties"]()
        for k, v in self._props.items():
            props.setProperty(k, v)
        gs = j["GridStoreFactory"].getInstance().getGridStore(props)
        try:
            if create:
                cols = j["ArrayList"]()
                t = j["GSType"]
                for name, typ in (("id", t.STRING), ("owner", t.STRING), ("title", t.STRING),
                                  ("done", t.BOOL), ("created_at", t.TIMESTAMP)):
                    cols.add(j["ColumnInfo"](name, typ))
                info = j["ContainerInfo"](self.container_name, j["ContainerType"].COLLECTION, cols, True)
                col = gs.putContainer(self.container_name, info, False)
                col.createIndex("owner", j["IndexType"].TREE)
            else:
                col = gs.getContainer(self.container_name)
                if col is None:
                    raise RuntimeError(f"container {self.container_name} vanished")
        except BaseException:
            gs.close()
            raise
        return gs, col

    def _open_for_this_worker(self, create: bool):
        gs, col = self._open(create)
        with self._opened_lock:
            self._opened.append((gs, col))
        return gs, col

    def _handles(self):
        """This worker's (GridStore, collection), opened again after every reconnect."""
        held = getattr(self._local, "handles", None)
        if held is not None and held[0] == self._generation:
            return held[1], held[2]
        self._close_local()
        generation = self._generation
        gs, col = self._open_for_this_worker(create=False)
        self._local.handles = (generation, gs, col)
        return gs, col

    def _grid_store(self):
        return self._handles()[0]

    def _collection(self):
        return self._handles()[1]

    def _close_local(self) -> None:
        held = getattr(self._local, "handles", None)
        self._local.handles = None
        if held is not None:
            self._close_handles(held[1], held[2])

    def _close_handles(self, gs, col) -> None:
        with self._opened_lock:
            if (gs, col) in self._opened:
                self._opened.remove((gs, col))
        for obj in (col, gs):
            if obj is not None:
                try:
                    obj.close()
                except Exception:  # noqa: BLE001 - closing a broken connection
                    pass

    def _connect(self) -> None:
        """The supervisor's (re)connect, on a worker thread: make sure the collection exists,
        then let every worker reopen its handles."""
        self._close_local()
        gs, col = self._open_for_this_worker(create=True)
        self._generation += 1
        self._local.handles = (self._generation, gs, col)

    def _ping(self) -> None:
        if self._grid_store().getContainerInfo(self.container_name) is None:
            raise RuntimeError(f"container {self.container_name} vanished")

    def _row_to_todo(self, row) -> Todo:
        ms = int(row.getTimestamp(4).getTime())
        return Todo(id=str(row.getString(0)), owner=str(row.getString(1)),
                    title=str(row.getString(2)), done=bool(row.getBool(3)),
                    created_at=_from_millis(ms))

    def _fetch_rows(self, query) -> list:
        """[id, title, done, created_at ms] per row: one JPype call and one string for the whole
        query, not about ten calls a row (services/web/java-src/griddbtodo/TodoRows.java)."""
        return json.loads(str(self._j["TodoRows"].fetchJson(query)))

    def _put(self, todo: Todo) -> None:
        col = self._collection()
        row = col.createRow()
        row.setString(0, todo.id)
        row.setString(1, todo.owner)
        row.setString(2, todo.title)
        row.setBool(3, todo.done)
        row.setTimestamp(4, self._j["Date"](int(todo.created_at.timestamp() * 1000)))
        col.put(row)

    def _get(self, owner: str, todo_id: str) -> Todo | None:
        row = self._collection().get(todo_id)
        if row is None:
            return None
        todo = self._row_to_todo(row)
        return todo if todo.owner == owner else None

    # ---- caller side ------------------------------------------------------------------------
    def _call(self, fn: Callable[[], T], *, check_ready: bool = True) -> T:
        """Run `fn` on a worker and wait for it. Two limits of op_timeout each, told apart:
        - the wait for a free worker: a request still queued then is refused as "busy" and
          never runs; the connection is fine, there is only more work than workers;
        - the operation itself, from when a worker started it: past that GridDB is taken for
          hung, and the connection is dropped and made again.
        One timeout for both turned an overload into an outage: requests that had only queued
        "timed out", every one of them dropped the connection, and the API answered 503 to all
        until the reconnect."""
        if check_ready and not self._ready.is_set():
            raise StoreUnavailable(self.last_error or "not connected yet", "not_connected")
        started: list[float] = []

        def run() -> T:
            started.append(time.monotonic())
            return fn()
        future = self._executor.submit(run)
        try:
            try:
                return future.result(timeout=self.op_timeout)
            except FutureTimeout:
                if future.cancel():
                    raise StoreUnavailable("no GridDB worker free in time", "busy") from None
            # Running (started is set once a worker took it): it gets its own op_timeout.
            running_for = time.monotonic() - started[0] if started else 0.0
            return future.result(timeout=max(0.0, self.op_timeout - running_for))
        except FutureTimeout:
            self._lost("operation timed out")
            raise StoreUnavailable("GridDB operation timed out", "timeout") from None
        except StoreUnavailable:
            raise
        except Exception as exc:  # GSException (a java.lang.Exception) and friends
            text = str(exc).splitlines()
            self._lost(f"{type(exc).__name__}: {text[0][:200] if text else ''}")
            raise StoreUnavailable("GridDB operation failed", "failed") from None

    def _lost(self, why: str) -> None:
        if self._ready.is_set():
            log.error("GridDB connection lost", extra={"fields": {"reason": why}})
        self.last_error = why
        self._ready.clear()
        self._wake.set()

    def _supervise(self) -> None:
        # Start the JVM first, outside the operation timeout: on a busy node it can take longer
        # than a GridDB call may, and the first connection attempt must not fail for that (the
        # startup probe waits for it). A failure here shows again, with its reason, in _connect.
        try:
            self._executor.submit(self._load_java).result(timeout=120)
        except Exception:  # noqa: BLE001
            pass
        delay = 0.5
        while not self._stop.is_set():
            if not self._ready.is_set():
                self.connect_attempts += 1
                try:
                    self._call(self._connect, check_ready=False)
                except StoreUnavailable:
                    self._first_attempt.set()
                    if self._stop.is_set():  # closing: an attempt cut short is no news
                        break
                    log.warning("GridDB connection failed, retrying", extra={"fields": {
                        "retry_in_s": round(delay, 1), "attempt": self.connect_attempts,
                        "reason": self.last_error}})
                    self._stop.wait(delay * random.uniform(0.8, 1.2))
                    cap = self.backoff_max if self._connected_once else min(self.backoff_max, self.start_backoff_max)
                    delay = min(delay * 2, cap)
                    continue
                delay = 0.5
                self._connected_once = True
                self.last_error = None
                self._ready.set()
                self._first_attempt.set()
                log.info("GridDB connected", extra={"fields": {
                    "member": self._props["notificationMember"], "container": self.container_name}})
            self._wake.wait(self.check_interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            if self._ready.is_set():
                try:
                    self._call(self._ping)
                except StoreUnavailable:
                    pass

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    # ---- TodoStore ----------------------------------------------------------------------------
    def ready(self) -> bool:
        return self._ready.is_set()

    def first_attempt_done(self) -> bool:
        return self._first_attempt.is_set()

    def list(self, owner: str) -> list[Todo]:
        check_owner(owner)

        def run():
            q = self._collection().query(
                f"select * where owner = {tql_string(owner)} order by created_at asc")
            try:
                rows = self._fetch_rows(q)
            finally:
                q.close()
            return [Todo(id=todo_id, owner=owner, title=title, done=done, created_at=_from_millis(ms))
                    for todo_id, title, done, ms in rows]
        return self._call(run)

    def create(self, owner: str, title: str) -> Todo:
        # GridDB stores STRING as UTF-8 (at most 31 KB with the default 64 KB block); the
        # shared checks keep titles to 200 code points (<= 800 bytes) and refuse lone
        # surrogates, which have no UTF-8 form, before anything reaches the Java client.
        check_owner(owner)
        check_title(title)
        todo = Todo(id=new_id(), owner=owner, title=title, done=False, created_at=now_utc())
        self._call(lambda: self._put(todo))
        return todo

    def update(self, owner, todo_id, *, title=None, done=None):
        if title is not None:
            check_title(title)
        if not is_todo_id(todo_id):
            self._call(lambda: None)  # same 503 as a real lookup while GridDB is away
            return None

        def run():
            todo = self._get(owner, todo_id)
            if todo is None:
                return None
            from dataclasses import replace
            changes = {k: v for k, v in (("title", title), ("done", done)) if v is not None}
            todo = replace(todo, **changes)
            self._put(todo)
            return todo
        return self._call(run)

    def delete(self, owner, todo_id):
        if not is_todo_id(todo_id):
            self._call(lambda: None)
            return False

        def run():
            if self._get(owner, todo_id) is None:
                return False
            return bool(self._collection().remove(todo_id))
        return self._call(run)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the supervisor and close the GridStore, within `timeout` seconds in all (the pod's
        grace period counts on it: components/workload.py SHUTDOWN_CLOSE_SECONDS)."""
        deadline = time.monotonic() + timeout
        connected = self._ready.is_set()
        self._ready.clear()  # nothing new starts on a store being closed
        self._stop.set()
        self._wake.set()
        if self._supervisor.is_alive():
            self._supervisor.join(timeout=max(0.0, deadline - time.monotonic()) / 2)
        # Operations still running finish first, then every worker's handles are closed; all of
        # it within the budget, from a helper thread (a worker stuck in a dead connection would
        # otherwise hold the shutdown past the pod's grace period).
        closer = threading.Thread(target=self._close_all, name="griddb-close", daemon=True)
        closer.start()
        closer.join(timeout=max(0.1, deadline - time.monotonic()))
        if connected and closer.is_alive():
            log.warning("GridDB connection not closed in time")

    def _close_all(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._opened_lock:
            opened = list(self._opened)
        for gs, col in opened:  # no worker runs any more: safe from this thread
            self._close_handles(gs, col)

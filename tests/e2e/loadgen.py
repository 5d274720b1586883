"""A bounded load generator for the web API: what users do, at a fixed rate, while the stack changes.

Aimed at one base URL only (the e2e web Service on this machine). It logs in, then at `rate`
requests per second lists, creates and toggles todos with the tokens it got, and logs in again
now and then (so auth serves during its own rollout, and tokens of old and new signing keys are
both in use during a key rotation). Bounded: at most `workers` requests in flight, a tick that
finds them all busy is counted as skipped instead of queued, every request has a timeout.

Each request opens its own connection, as many clients behind a load balancer do: a stopping
web pod closes its idle kept-alive connections, and a client reusing one at that instant sees it
closed (browsers then retry idempotent requests); what is measured here is whether the server
side ever drops a request it accepted or sends one to a pod that is gone.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Optional

import requests

# Shares of the operations (the rest are lists).
CREATE, TOGGLE, LOGIN = 0.25, 0.20, 1 / 60
TIMEOUT = 10.0


@dataclass
class Outcome:
    op: str
    status: str  # the HTTP status, or the error's type for a request that got no answer
    started: float  # time.monotonic()
    ended: float
    detail: str = ""


@dataclass
class Tally:
    outcomes: list[Outcome] = field(default_factory=list)
    # todo id -> (title, done) as the API acknowledged it, for the "every write is there" check
    acknowledged: dict[str, tuple[str, bool]] = field(default_factory=dict)
    # ids whose done state is unknown: a toggle of it got no 200 (it may or may not have landed)
    uncertain: set[str] = field(default_factory=set)
    busy: set[str] = field(default_factory=set)  # toggles of one todo never overlap
    skipped: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def counts(self) -> dict[str, dict[str, int]]:
        by_op: dict[str, Counter] = {}
        for o in self.outcomes:
            by_op.setdefault(o.op, Counter())[o.status] += 1
        return {op: dict(sorted(c.items())) for op, c in sorted(by_op.items())}

    def statuses(self) -> dict[str, int]:
        return dict(sorted(Counter(o.status for o in self.outcomes).items()))


class LoadGenerator:
    """Use as a context manager; `is_failure(outcome)` decides what counts as a failed request."""

    def __init__(self, base_url: str, username: str, password: str, rate: float = 30, workers: int = 8,
                 title_prefix: str = "load", seed: Optional[int] = None):
        self.base_url = base_url.rstrip("/")
        self.username, self.password = username, password
        self.rate, self.workers = rate, workers
        self.title_prefix = title_prefix
        self.random = random.Random(seed)
        self.tally = Tally()
        self.tokens: list[str] = []
        self._stop = threading.Event()
        self._in_flight = threading.BoundedSemaphore(workers)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="load")
        self._ticker = threading.Thread(target=self._tick, name="load-ticker", daemon=True)

    # ---- one request ------------------------------------------------------------------------
    def _send(self, op: str, method: str, path: str, token: Optional[str] = None, **kwargs):
        headers = {"Connection": "close"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        started = time.monotonic()
        try:
            response = requests.request(method, self.base_url + path, headers=headers, timeout=TIMEOUT, **kwargs)
        except requests.RequestException as error:
            self._record(Outcome(op, type(error).__name__, started, time.monotonic(), str(error)[:200]))
            return None
        detail = response.text[:200] if response.status_code >= 400 else ""
        self._record(Outcome(op, str(response.status_code), started, time.monotonic(), detail))
        return response

    def _record(self, outcome: Outcome) -> None:
        with self.tally.lock:
            self.tally.outcomes.append(outcome)

    def login(self) -> Optional[str]:
        response = self._send("login", "POST", "/api/login", json={"username": self.username, "password": self.password})
        if response is not None and response.status_code == 200:
            token = response.json()["access_token"]
            with self.tally.lock:
                self.tokens.append(token)
            return token
        return None

    def _token(self) -> str:
        with self.tally.lock:
            return self.random.choice(self.tokens)

    def _list(self) -> None:
        self._send("list", "GET", "/api/todos", self._token())

    def _create(self) -> None:
        title = f"{self.title_prefix} {uuid.uuid4().hex[:8]}"
        response = self._send("create", "POST", "/api/todos", self._token(), json={"title": title})
        if response is not None and response.status_code == 201:
            todo = response.json()
            with self.tally.lock:
                self.tally.acknowledged[todo["id"]] = (todo["title"], todo["done"])

    def _toggle(self) -> None:
        with self.tally.lock:
            free = [i for i in self.tally.acknowledged if i not in self.tally.busy]
            if free:
                todo_id = self.random.choice(free)
                done = not self.tally.acknowledged[todo_id][1]
                self.tally.busy.add(todo_id)
        if not free:
            # Nothing acknowledged yet to toggle (the first ticks, or GridDB parked: none can be
            # made). Toggling an id that is nobody's would earn a correct 404 and count as a failure.
            self._create()
            return
        try:
            response = self._send("toggle", "PATCH", f"/api/todos/{todo_id}", self._token(), json={"done": done})
            with self.tally.lock:
                if response is not None and response.status_code == 200:
                    todo = response.json()
                    self.tally.acknowledged[todo["id"]] = (todo["title"], todo["done"])
                elif todo_id in self.tally.acknowledged:
                    self.tally.uncertain.add(todo_id)
        finally:
            with self.tally.lock:
                self.tally.busy.discard(todo_id)

    def missing_writes(self, listing: list[dict]) -> list[str]:
        """What the API acknowledged but `listing` (GET /api/todos afterwards) lacks or contradicts."""
        found = {t["id"]: (t["title"], t["done"]) for t in listing}
        problems = []
        for todo_id, (title, done) in self.tally.acknowledged.items():
            if todo_id not in found:
                problems.append(f"{todo_id} ({title!r}) is gone")
            elif found[todo_id][0] != title:
                problems.append(f"{todo_id} has title {found[todo_id][0]!r}, not {title!r}")
            elif found[todo_id][1] != done and todo_id not in self.tally.uncertain:
                problems.append(f"{todo_id} has done={found[todo_id][1]}, acknowledged {done}")
        return problems

    # ---- the schedule -------------------------------------------------------------------------
    def _pick(self) -> Callable[[], None]:
        r = self.random.random()
        if r < LOGIN:
            return self.login
        if r < LOGIN + CREATE:
            return self._create
        if r < LOGIN + CREATE + TOGGLE:
            return self._toggle
        return self._list

    def _run(self, action: Callable[[], None]) -> None:
        try:
            action()
        finally:
            self._in_flight.release()

    def _tick(self) -> None:
        interval = 1.0 / self.rate
        next_at = time.monotonic()
        while not self._stop.is_set():
            if self._in_flight.acquire(blocking=False):
                self._pool.submit(self._run, self._pick())
            else:
                with self.tally.lock:
                    self.tally.skipped += 1
            next_at += interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def __enter__(self) -> "LoadGenerator":
        if self.login() is None:
            raise RuntimeError(f"the first login failed: {self.tally.outcomes[-1]}")
        self._ticker.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._ticker.join(timeout=5)
        self._pool.shutdown(wait=True)

    def report(self, scenario: str) -> str:
        seconds = (max(o.ended for o in self.tally.outcomes) - min(o.started for o in self.tally.outcomes)
                   if self.tally.outcomes else 0.0)
        line = (f"[load] {scenario}: {len(self.tally.outcomes)} requests in {seconds:.0f} s "
                f"({len(self.tally.outcomes) / max(seconds, 1):.1f}/s), skipped ticks {self.tally.skipped}; "
                f"by status {self.tally.statuses()}; by operation {self.tally.counts()}")
        print(line, flush=True)
        return line

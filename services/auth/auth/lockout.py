"""Throttle repeated failed logins per username.

In memory and per process: max_failures failures for one username within window seconds make
every further attempt for that username answer 429 (with Retry-After) until the oldest failure
leaves the window; a successful login clears the count. With several replicas each one counts
on its own, so the effective limit is max_failures per replica. Unknown usernames are counted
the same way as known ones so the answer does not reveal which exist. The table is bounded.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from typing import Callable


class Lockout:
    def __init__(self, max_failures: int = 5, window: float = 300.0,
                 clock: Callable[[], float] = time.monotonic, max_entries: int = 10000):
        self.max_failures = max_failures
        self.window = window
        self.clock = clock
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _prune(self, key: str, now: float) -> deque[float] | None:
        q = self._failures.get(key)
        if q is None:
            return None
        while q and q[0] <= now - self.window:
            q.popleft()
        if not q:
            del self._failures[key]
            return None
        return q

    def retry_after(self, username: str) -> int:
        """Seconds until this username may try again; 0 when it may try now."""
        now = self.clock()
        with self._lock:
            q = self._prune(username, now)
            if q is None or len(q) < self.max_failures:
                return 0
            # blocked until enough failures have left the window
            release = q[len(q) - self.max_failures] + self.window
            return max(1, math.ceil(release - now))

    def failure(self, username: str) -> None:
        now = self.clock()
        with self._lock:
            q = self._prune(username, now)
            if q is None:
                q = self._failures[username] = deque()
            q.append(now)
            self._failures.move_to_end(username)
            while len(q) > self.max_failures:
                q.popleft()
            while len(self._failures) > self.max_entries:
                self._failures.popitem(last=False)

    def success(self, username: str) -> None:
        with self._lock:
            self._failures.pop(username, None)

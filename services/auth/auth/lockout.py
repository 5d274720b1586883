"""Throttle failed logins so that guessing is slow and strangers cannot lock users out.

A source is the client address (IPv6 counted per /64: one host usually owns a whole /64).
Within a window (300 s), counting failed logins only:
- per (source, username): max_failures (5) make that source answer 429 for that name until the
  oldest of them leaves the window. Guessing one password from one address is slow.
- per source: source_max_failures (30) over all names make the source answer 429 for every name
  (password spraying), except for names that logged in successfully from that source within
  known_good_ttl (24 h): behind one address (an office NAT) the regulars keep working while a
  stranger there sprays. For such a name a wrong password answers the same 429 as a refused one,
  so the stranger learns nothing about who the regulars are from the status.
- per account: from delay_after (5) failures on, from any sources, every attempt for the name
  waits delay_base * 2^(n - delay_after) seconds, at most delay_max (4 s), before it is checked.
  A delay, never a refusal: a stranger's failures alone can never keep the right password from
  an unthrottled source out. A success clears the account's count and its own pair.

In memory and per process: with N replicas each counts on its own. Every table is bounded
(max_entries, oldest dropped first).
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Callable, Hashable


def source_key(address: str) -> str:
    """The unit a client address is counted in."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class _Window:
    """Timestamps of failures per key within a sliding window, bounded in keys and per key."""

    def __init__(self, window: float, keep: int, max_entries: int):
        self.window, self.keep, self.max_entries = window, keep, max_entries
        self._q: OrderedDict[Hashable, deque[float]] = OrderedDict()

    def _prune(self, key, now) -> deque[float] | None:
        q = self._q.get(key)
        if q is None:
            return None
        while q and q[0] <= now - self.window:
            q.popleft()
        if not q:
            del self._q[key]
            return None
        return q

    def count(self, key, now) -> int:
        q = self._prune(key, now)
        return len(q) if q else 0

    def retry_after(self, key, now, limit: int) -> int:
        """Seconds until fewer than limit failures are in the window; 0 if already so."""
        q = self._prune(key, now)
        if q is None or len(q) < limit:
            return 0
        release = q[len(q) - limit] + self.window
        return max(1, math.ceil(release - now))

    def add(self, key, now) -> None:
        q = self._prune(key, now)
        if q is None:
            q = self._q[key] = deque()
        q.append(now)
        self._q.move_to_end(key)
        while len(q) > self.keep:
            q.popleft()
        while len(self._q) > self.max_entries:
            self._q.popitem(last=False)

    def clear(self, key) -> None:
        self._q.pop(key, None)


@dataclass(frozen=True)
class Decision:
    retry_after: int = 0         # > 0: refuse with 429 now, without checking the password
    delay: float = 0.0           # seconds to wait before checking
    source_retry_after: int = 0  # > 0: the source is throttled but this name is a regular there


class Lockout:
    def __init__(self, max_failures: int = 5, window: float = 300.0,
                 clock: Callable[[], float] = time.monotonic, max_entries: int = 10000,
                 source_max_failures: int = 30, delay_after: int = 5, delay_base: float = 0.5,
                 delay_max: float = 4.0, known_good_ttl: float = 86400.0):
        self.max_failures = max_failures
        self.source_max_failures = source_max_failures
        self.delay_after, self.delay_base, self.delay_max = delay_after, delay_base, delay_max
        self.known_good_ttl = known_good_ttl
        self.clock = clock
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._pairs = _Window(window, max_failures, max_entries)
        self._sources = _Window(window, source_max_failures, max_entries)
        self._accounts = _Window(window, delay_after + 16, max_entries)
        self._known_good: OrderedDict[tuple[str, str], float] = OrderedDict()

    def _regular(self, source: str, username: str, now: float) -> bool:
        seen = self._known_good.get((source, username))
        return seen is not None and now - seen < self.known_good_ttl

    def decide(self, username: str, source: str = "") -> Decision:
        now = self.clock()
        with self._lock:
            wait = self._pairs.retry_after((source, username), now, self.max_failures)
            if wait:
                return Decision(retry_after=wait)
            source_wait = self._sources.retry_after(source, now, self.source_max_failures)
            if source_wait and not self._regular(source, username, now):
                return Decision(retry_after=source_wait)
            n = self._accounts.count(username, now)
            delay = 0.0
            if n >= self.delay_after:
                delay = min(self.delay_base * 2 ** (n - self.delay_after), self.delay_max)
            return Decision(delay=delay, source_retry_after=source_wait)

    def retry_after(self, username: str, source: str = "") -> int:
        """Seconds until this name may be tried from this source; 0 when it may try now."""
        return self.decide(username, source).retry_after

    def failure(self, username: str, source: str = "") -> None:
        now = self.clock()
        with self._lock:
            self._pairs.add((source, username), now)
            self._sources.add(source, now)
            self._accounts.add(username, now)

    def success(self, username: str, source: str = "") -> None:
        now = self.clock()
        with self._lock:
            self._pairs.clear((source, username))
            self._accounts.clear(username)
            self._known_good[(source, username)] = now
            self._known_good.move_to_end((source, username))
            while len(self._known_good) > self.max_entries:
                self._known_good.popitem(last=False)

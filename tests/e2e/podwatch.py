"""Watching the single-writer guarantee happen: the pods of one workload as the API reports them,
and a client that writes todos through the web API the whole time.

Used by test_single_writer.py (a stand-in process in the program's own GridDB workload spec) and
by test_deploy.py (the real GridDB, with E2E_GRIDDB_IMAGE).
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Optional

import requests


@dataclass
class Container:
    """What the API last said about one pod's container."""

    pod: str
    uid: str
    running: bool = False
    ready: bool = False
    started_at: Optional[str] = None  # RFC 3339, seconds
    finished_at: Optional[str] = None
    deleted: bool = False


@dataclass
class PodWatch:
    """Follows `kubectl get pods --watch` for a label selector and records, after every event, how
    many pods have `container` running. A StatefulSet's replacement pod can only appear after the
    old pod object is gone, so any moment with two is a real overlap, not a reporting lag."""

    env: dict[str, str]
    namespace: str
    selector: str
    container: str
    containers: dict[str, Container] = field(default_factory=dict)
    max_running: int = 0
    # (seconds since start, names of the pods with the container running), one per change
    timeline: list[tuple[float, tuple[str, ...]]] = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._process: Optional[subprocess.Popen] = None
        self._reader: Optional[threading.Thread] = None
        self.deleted_at: Optional[datetime] = None  # when replace_pod asked for the deletion

    def __enter__(self) -> "PodWatch":
        self._process = subprocess.Popen(
            ["kubectl", "-n", self.namespace, "get", "pods", "-l", self.selector, "--watch",
             "--output-watch-events", "-o", "json"],
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def __exit__(self, *_):
        assert self._process is not None
        self._process.terminate()
        self._process.wait(timeout=10)

    def _read(self) -> None:
        """kubectl prints one pretty-printed JSON document per event, back to back."""
        decoder = json.JSONDecoder()
        buffer = ""
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            buffer += line
            while True:
                stripped = buffer.lstrip()
                try:
                    event, end = decoder.raw_decode(stripped)
                except json.JSONDecodeError:
                    break
                buffer = stripped[end:]
                self._observe(event)

    def _observe(self, event: dict) -> None:
        pod = event["object"]
        uid, name = pod["metadata"]["uid"], pod["metadata"]["name"]
        with self._lock:
            seen = self.containers.setdefault(uid, Container(pod=name, uid=uid))
            if event["type"] == "DELETED":
                seen.running, seen.ready, seen.deleted = False, False, True
            statuses = pod.get("status", {}).get("containerStatuses") or []
            status = next((s for s in statuses if s["name"] == self.container), None)
            if status is not None:
                state = status.get("state", {})
                seen.running = "running" in state and event["type"] != "DELETED"
                seen.ready = bool(status.get("ready")) and seen.running
                seen.started_at = state.get("running", {}).get("startedAt") or \
                    state.get("terminated", {}).get("startedAt") or seen.started_at
                seen.finished_at = state.get("terminated", {}).get("finishedAt") or seen.finished_at
            running = tuple(sorted(c.pod + "/" + c.uid[:8] for c in self.containers.values() if c.running))
            self.max_running = max(self.max_running, len(running))
            if not self.timeline or self.timeline[-1][1] != running:
                self.timeline.append((round(time.monotonic() - self._started, 1), running))

    def snapshot(self) -> list[Container]:
        with self._lock:
            return [Container(**vars(c)) for c in self.containers.values()]

    def wait_for(self, check, what: str, seconds: float) -> list[Container]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            containers = self.snapshot()
            if check(containers):
                return containers
            time.sleep(0.2)
        raise AssertionError(f"timed out after {seconds} s waiting for {what}; timeline: {self.timeline}")

    def replace_pod(self, kubectl, seconds: float = 300) -> tuple[Container, Container]:
        """Delete the one running pod and follow it until its replacement's container is ready.
        Returns (old, new) as the API last reported them."""
        (old,) = [c for c in self.wait_for(lambda cs: len([c for c in cs if c.ready]) == 1, "one ready pod", 120)
                  if c.ready]
        self.deleted_at = datetime.now(timezone.utc)
        kubectl("-n", self.namespace, "delete", "pod", old.pod, "--wait=false")
        containers = self.wait_for(
            lambda cs: any(c.uid != old.uid and c.ready for c in cs)
            and any(c.uid == old.uid and c.deleted for c in cs),
            "the old pod to be gone and its replacement ready", seconds,
        )
        gone = next(c for c in containers if c.uid == old.uid)
        new = next(c for c in containers if c.uid != old.uid and c.ready)
        return gone, new


def timestamp(text: str) -> datetime:
    """A Kubernetes RFC 3339 time (seconds, 'Z')."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class TodoWriter:
    """Creates todos through the web API, one after another, until stopped; remembers each one
    the API acknowledged (201 with an id). Refusals (503 while GridDB is away) and connection
    errors are counted, never retried: a refused todo was never promised."""

    api: str
    token: str
    label: str
    acknowledged: list[dict] = field(default_factory=list)
    refused: int = 0
    errors: int = 0

    def __post_init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "TodoWriter":
        self._thread.start()
        return self

    def __exit__(self, *_):
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        number = 0
        while not self._stop.is_set():
            number += 1
            try:
                response = requests.post(self.api, json={"title": f"{self.label} {number}"}, headers=headers, timeout=10)
            except requests.RequestException:
                self.errors += 1
                time.sleep(0.1)
                continue
            if response.status_code in (200, 201) and "id" in response.json():
                self.acknowledged.append(response.json())
            else:
                self.refused += 1
                time.sleep(0.1)

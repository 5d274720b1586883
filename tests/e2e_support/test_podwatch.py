"""The e2e single-writer check's pod watcher (tests/e2e/podwatch.py), offline: fed the watch
events a Deployment and a StatefulSet produce when their pod is deleted, it must see two GridDB
containers running at once in the first case and never in the second. Without this, the e2e
check could pass because its watcher sees nothing."""

import json
import os
import stat
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from podwatch import PodWatch  # noqa: E402


def pod(uid, state, ready=False, name=None):
    states = {
        "running": {"running": {"startedAt": "2026-12-02T02:00:00Z"}},
        "terminated": {"terminated": {"startedAt": "2026-12-02T02:00:00Z", "finishedAt": "2026-12-02T02:00:09Z"}},
        "waiting": {"waiting": {"reason": "ContainerCreating"}},
    }
    return {"metadata": {"uid": uid, "name": name or f"griddb-{uid}"},
            "status": {"containerStatuses": [{"name": "griddb", "ready": ready, "state": states[state]}]}}


DEPLOYMENT_RECREATED = [  # the replacement runs while the old one still stops (issue 12)
    ("ADDED", pod("a", "running", True)),
    ("ADDED", pod("b", "waiting")),
    ("MODIFIED", pod("b", "running", True)),
    ("MODIFIED", pod("a", "terminated")),
    ("DELETED", pod("a", "terminated")),
]
STATEFULSET_REPLACED = [  # same name, the new uid only after the old pod object is gone
    ("ADDED", pod("a", "running", True, "griddb-0")),
    ("MODIFIED", pod("a", "terminated", False, "griddb-0")),
    ("DELETED", pod("a", "terminated", False, "griddb-0")),
    ("ADDED", pod("b", "waiting", False, "griddb-0")),
    ("MODIFIED", pod("b", "running", True, "griddb-0")),
]


@pytest.fixture
def fake_kubectl(tmp_path, monkeypatch):
    """A kubectl that prints the given events as `get --watch --output-watch-events -o json` does:
    pretty-printed JSON documents back to back; the first one, then the rest a second later."""
    def install(events):
        def document(events):
            return "".join(json.dumps({"type": t, "object": o}, indent=4) + "\n" for t, o in events)
        (tmp_path / "first.json").write_text(document(events[:1]))
        (tmp_path / "rest.json").write_text(document(events[1:]))
        script = tmp_path / "kubectl"
        script.write_text(f"#!/bin/sh\ncat {tmp_path / 'first.json'}\nsleep 1\ncat {tmp_path / 'rest.json'}\n"
                          "exec sleep 30\n")
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
        return {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    return install


def watch(env):
    with PodWatch(env, "ns", "app.kubernetes.io/name=griddb", "griddb") as w:
        w.wait_for(lambda cs: len(cs) == 2 and any(c.deleted for c in cs) and any(c.ready for c in cs), "events", 10)
        time.sleep(0.2)
    return w


def test_two_running_containers_are_seen(fake_kubectl):
    w = watch(fake_kubectl(DEPLOYMENT_RECREATED))
    assert w.max_running == 2


def test_a_clean_handover_is_never_two(fake_kubectl):
    w = watch(fake_kubectl(STATEFULSET_REPLACED))
    assert w.max_running == 1
    old = next(c for c in w.snapshot() if c.uid == "a")
    assert old.deleted and old.finished_at == "2026-12-02T02:00:09Z"
    assert [running for _, running in w.timeline] == [("griddb-0/a",), (), ("griddb-0/b",)]


def test_replace_pod_deletes_the_ready_pod_and_follows_its_replacement(fake_kubectl):
    deleted = []
    with PodWatch(fake_kubectl(STATEFULSET_REPLACED), "ns", "app.kubernetes.io/name=griddb", "griddb") as w:
        old, new = w.replace_pod(lambda *args: deleted.append(args), seconds=10)
    assert deleted == [("-n", "ns", "delete", "pod", "griddb-0", "--wait=false")]
    assert (old.uid, old.deleted, new.uid, new.ready) == ("a", True, "b", True)
    assert w.deleted_at is not None and w.max_running == 1

"""The entrypoint's lifecycle against a fake gsserver that speaks the node's REST API.

Checks what a user of the pod would notice: the node is joined without human steps,
SIGTERM stops the cluster before the node (so the node writes its checkpoint), the
server exits cleanly, and the password is neither in the server's environment nor on
any command line.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest

from griddb_node import config, entrypoint

FAKE_GSSERVER = textwrap.dedent('''\
    import base64, json, os, sys, threading
    from http.server import BaseHTTPRequestHandler, HTTPServer
    port, record = int(os.environ["FAKE_PORT"]), os.environ["FAKE_RECORD"]
    with open(record, "a") as f:
        f.write(json.dumps({"argv": sys.argv[1:], "env_has_password": "GRIDDB_PASSWORD" in os.environ}) + "\\n")
    state = {"node": "INACTIVE", "cluster": "SUB_CLUSTER"}
    auth = "Basic " + base64.b64encode(b"admin:pw").decode()
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a): pass
        def _reply(self, body=b"{}"):
            self.send_response(200); self.send_header("Content-Length", str(len(body)))
            self.end_headers(); self.wfile.write(body)
        def _note(self):
            with open(record, "a") as f:
                f.write(json.dumps({"req": self.command + " " + self.path.split("?")[0]}) + "\\n")
            if self.headers.get("Authorization") != auth:
                self.send_response(401); self.send_header("Content-Length", "0"); self.end_headers()
                return False
            return True
        def do_GET(self):
            if self._note():
                self._reply(json.dumps({"cluster": {"nodeStatus": state["node"],
                                                    "clusterStatus": state["cluster"]}}).encode())
        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0); self.rfile.read(n)
            if not self._note(): return
            if self.path == "/node/join":
                state.update(node="ACTIVE", cluster="MASTER")
            elif self.path == "/cluster/stop":
                state.update(node="INACTIVE", cluster="SUB_CLUSTER")
            elif self.path == "/node/shutdown":
                self._reply(); threading.Timer(0.3, lambda: os._exit(0)).start(); return
            self._reply()
    HTTPServer(("127.0.0.1", port), H).serve_forever()
''')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def node(tmp_path, monkeypatch):
    gs_home = tmp_path / "gridstore"
    (gs_home / "conf").mkdir(parents=True)
    fake = tmp_path / "gsserver"
    fake.write_text(f"#!{sys.executable}\n" + FAKE_GSSERVER)
    fake.chmod(0o755)
    record = tmp_path / "record.jsonl"
    port = free_port()
    monkeypatch.setattr(config, "GS_HOME", str(gs_home))
    monkeypatch.setattr(config, "CONF_DIR", str(gs_home / "conf"))
    monkeypatch.setattr(entrypoint, "GSSERVER", str(fake))
    monkeypatch.setattr(entrypoint, "API_PORT", port)
    monkeypatch.setenv("FAKE_PORT", str(port))
    monkeypatch.setenv("FAKE_RECORD", str(record))
    monkeypatch.setenv("GRIDDB_PASSWORD", "pw")
    (gs_home / "conf" / "gridstore.pid").write_text("12345\n")  # left by an earlier container
    settings = config.Settings(cluster_name="myCluster", username="admin", password="pw",
                               pod_ip="10.0.0.5")
    n = entrypoint.Node(settings)

    def events():
        return [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []

    return n, events, gs_home


def run_in_thread(n):
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("rc", n.run()), daemon=True)
    t.start()
    return t, result


def wait_for(pred, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_joins_then_stops_cluster_before_node_on_sigterm(node):
    n, events, gs_home = node
    t, result = run_in_thread(n)
    assert wait_for(lambda: any(e.get("req") == "POST /node/join" for e in events()))
    assert not (gs_home / "conf" / "gridstore.pid").exists()
    time.sleep(1.2)  # the entrypoint sees MASTER
    n.stop_requested.set()  # what the SIGTERM handler does
    t.join(timeout=20)
    assert not t.is_alive()
    assert result["rc"] == 0
    reqs = [e["req"] for e in events() if "req" in e]
    posts = [r for r in reqs if r.startswith("POST")]
    assert posts == ["POST /node/join", "POST /cluster/stop", "POST /node/shutdown"]
    start = events()[0]
    assert start["argv"] == ["--conf", str(gs_home / "conf")]
    assert start["env_has_password"] is False


def test_sigterm_before_join_still_shuts_down(node):
    n, events, _ = node
    n.stop_requested.set()
    t, result = run_in_thread(n)
    t.join(timeout=20)
    assert result["rc"] == 0
    posts = [e["req"] for e in events() if e.get("req", "").startswith("POST")]
    assert "POST /cluster/stop" not in posts  # the node never joined
    assert posts[-1:] == ["POST /node/shutdown"]


def test_server_crash_is_reported_as_failure(node, monkeypatch, tmp_path):
    n, _, _ = node
    crash = tmp_path / "crash"
    crash.write_text("#!/bin/sh\nexit 7\n")
    crash.chmod(0o755)
    monkeypatch.setattr(entrypoint, "GSSERVER", str(crash))
    assert n.run() == 7


def test_event_log_is_copied_to_stdout_and_the_tail_stops(tmp_path, capfdbinary):
    logs = tmp_path / "log"
    logs.mkdir()
    (logs / "gridstore-20260101-1.log").write_bytes(b"old container line\n")
    halt = threading.Event()
    tail = entrypoint.EventLogTail(str(logs), halt)
    tail.start()
    time.sleep(0.2)
    with open(logs / "gridstore-20260101-1.log", "ab") as f:
        f.write(b"recovery finished\n")
    time.sleep(0.8)
    (logs / "gridstore-20260101-2.log").write_bytes(b"rotated line\n")
    time.sleep(0.8)
    halt.set()
    tail.join(timeout=2)
    assert not tail.is_alive()
    out = capfdbinary.readouterr().out
    assert b"recovery finished\n" in out and b"rotated line\n" in out
    assert b"old container line" not in out


def _dirs(monkeypatch, tmp_path, conf):
    storage = tmp_path / "storage"
    storage.mkdir()
    monkeypatch.setattr(config, "DATA_DIR", str(storage / "data"))
    monkeypatch.setattr(config, "TXNLOG_DIR", str(storage / "txnlog"))
    monkeypatch.setattr(config, "CONF_DIR", str(conf))
    monkeypatch.setattr(config, "LOG_DIR", str(tmp_path / "log"))
    monkeypatch.setattr(config, "SCRATCH_DIR", str(tmp_path / "tmp" / "griddb"))
    return storage


def test_check_dirs_creates_what_it_may(monkeypatch, tmp_path):
    storage = _dirs(monkeypatch, tmp_path, tmp_path / "conf")
    assert entrypoint.check_dirs() is None
    assert (storage / "data").is_dir() and (storage / "txnlog").is_dir()
    assert not list((tmp_path / "conf").iterdir())  # the write probe is cleaned up


def test_check_dirs_explains_an_unwritable_conf_dir(monkeypatch, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    _dirs(monkeypatch, tmp_path, blocker / "conf")
    problem = entrypoint.check_dirs()
    assert problem and "conf" in problem and "emptyDir" in problem


# --- the volume, as the server user finds it (no container of the pod runs as root) ----------

SERVER_UID = 10001


def _check_dirs_as_server_user() -> "str | None":
    """check_dirs() in a child process running as uid/gid 10001, as in the pod (root's checks
    would pass whatever the modes say). A fork, not a new interpreter: /root's python is not
    reachable for uid 10001. The child only makes system calls and exits (Python warns about
    fork() in a threaded test process; no lock is taken between fork and _exit)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop to the server user, report the result, never return
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(SERVER_UID)
            os.setuid(SERVER_UID)
            result = entrypoint.check_dirs()
            os.write(write_end, json.dumps(result).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    return json.loads(data)


@pytest.fixture
def volume_root(monkeypatch):
    """A volume mount point and writable emptyDir stand-ins, under a directory uid 10001 can
    traverse (pytest's tmp_path is private to root)."""
    if os.geteuid() != 0:
        pytest.skip("switching to uid 10001 needs root")
    top = Path(tempfile.mkdtemp(prefix="griddb-volume-"))
    os.chmod(top, 0o755)
    for name in ("conf", "log", "tmp"):
        (top / name).mkdir()
        os.chown(top / name, SERVER_UID, SERVER_UID)
    storage = top / "storage"
    storage.mkdir(mode=0o755)  # root-owned, as hostPath's DirectoryOrCreate makes it
    monkeypatch.setattr(config, "DATA_DIR", str(storage / "data"))
    monkeypatch.setattr(config, "TXNLOG_DIR", str(storage / "txnlog"))
    monkeypatch.setattr(config, "CONF_DIR", str(top / "conf"))
    monkeypatch.setattr(config, "LOG_DIR", str(top / "log"))
    monkeypatch.setattr(config, "SCRATCH_DIR", str(top / "tmp" / "griddb"))
    yield storage
    shutil.rmtree(top)


def test_a_root_owned_volume_is_refused_with_the_fix(monkeypatch, volume_root):
    problem = _check_dirs_as_server_user()
    assert problem is not None
    assert f"{volume_root}/data is missing and uid 10001 cannot create it" in problem
    assert "owner 0:0, mode 0755" in problem and "Permission denied" in problem
    assert "sudo install -d -o 10001 -g 10001 -m 0750 <griddbHostPath>" in problem
    assert not (volume_root / "data").exists()


def test_a_volume_prepared_for_10001_gets_data_and_txnlog_from_the_server(monkeypatch, volume_root):
    os.chown(volume_root, SERVER_UID, SERVER_UID)  # `install -d -o 10001 -g 10001`
    assert _check_dirs_as_server_user() is None
    for name in ("data", "txnlog"):
        st = os.stat(volume_root / name)
        assert (st.st_uid, st.st_gid) == (SERVER_UID, SERVER_UID)
        assert stat.S_IMODE(st.st_mode) == 0o750


def test_a_world_writable_volume_works_too(monkeypatch, volume_root):
    """local-path's directories are 0777 and root-owned (tools/e2e/manifests/local-path.yaml)."""
    os.chmod(volume_root, 0o777)
    assert _check_dirs_as_server_user() is None
    assert os.stat(volume_root / "data").st_uid == SERVER_UID


def test_data_left_by_another_user_is_refused_with_the_chown(monkeypatch, volume_root):
    """An older release's volume: data/ owned by the official image's gsadm (1224)."""
    for name in ("data", "txnlog"):
        (volume_root / name).mkdir(mode=0o750)
        os.chown(volume_root / name, 1224, 1224)
    problem = _check_dirs_as_server_user()
    assert f"{volume_root}/data is not writable by uid 10001 (owner 1224:1224, mode 0750)" in problem
    assert "sudo chown -R 10001:10001 <griddbHostPath>" in problem

"""griddb-entrypoint: render the config, run gsserver, join the one-node cluster, stop cleanly.

Every start:
  1. settings from the environment (POD_IP from the downward API; under plain
     `docker run` without POD_IP, the container's own address is detected);
  2. conf/ is rendered from scratch (current IP, cluster name, password digest,
     logWriteMode), whatever a previous start left;
  3. gsserver runs as a child in the foreground; once its REST API answers, the
     node joins its cluster (minNodeNum 1) and becomes MASTER;
  4. gsserver's event log is copied to stdout, so `kubectl logs` shows it.

On SIGTERM/SIGINT: stop the cluster, wait for the node to be INACTIVE, shut the
node down (it writes its checkpoint), wait for gsserver to exit; all within
STOP_BUDGET_SECONDS (the pod's grace period is 60 s), then SIGTERM/SIGKILL as a
last resort.
"""

from __future__ import annotations

import glob
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from typing import Optional

from . import config
from .rest import NodeApiError, NodeClient

STOP_BUDGET_SECONDS = 50.0
START_TIMEOUT_SECONDS = float(os.environ.get("GRIDDB_START_TIMEOUT_SECONDS", "600"))
GSSERVER = "gsserver"
API_HOST = "127.0.0.1"
API_PORT = config.PORTS["system"]


def log(msg: str) -> None:
    sys.stderr.write(f"griddb-entrypoint: {msg}\n")
    sys.stderr.flush()


def detect_ip() -> Optional[str]:
    """The container's address when POD_IP is not given (Docker writes it to /etc/hosts)."""
    try:
        ip = socket.gethostbyname(socket.gethostname())
    except OSError:
        return None
    return None if ip.startswith("127.") else ip


def _owner_and_mode(path: str) -> str:
    st = os.stat(path)
    return f"owner {st.st_uid}:{st.st_gid}, mode {stat.S_IMODE(st.st_mode):04o}"


def _volume_fix() -> str:
    """How a user hands the volume to the server user: no container of the pod runs as root
    (Pod Security "restricted"), so it must be writable when the pod starts."""
    uid, gid = os.getuid(), os.getgid()
    return (f"hand it to uid {uid} first - on k3s (hostPath volume) prepare the host directory once: "
            f"`sudo install -d -o {uid} -g {gid} -m 0750 <griddbHostPath>` (data from an older "
            f"release: `sudo chown -R {uid}:{gid} <griddbHostPath>`), README \"Prepare k3s\"; "
            f"other volume types get it from the pod's fsGroup or are world-writable (local-path)")


def check_dirs() -> Optional[str]:
    """What must be writable by the server user, with the fix in the message.

    data/ and txnlog/ are made here, by the server user, when the volume's root lets it (a
    volume chowned for the pod's fsGroup, local-path's world-writable directory, or a host
    directory the platform prepared); once they exist the volume's root is never written again."""
    for d in (config.DATA_DIR, config.TXNLOG_DIR):
        if not os.path.isdir(d):
            try:
                os.mkdir(d, 0o750)
            except OSError as e:
                parent = os.path.dirname(d)
                where = f" ({_owner_and_mode(parent)})" if os.path.isdir(parent) else ""
                return (f"{d} is missing and uid {os.getuid()} cannot create it in the volume "
                        f"{parent}{where}: {e.strerror}; {_volume_fix()}")
        if not os.access(d, os.W_OK | os.X_OK):
            return (f"{d} is not writable by uid {os.getuid()} ({_owner_and_mode(d)}); "
                    f"{_volume_fix()}")
    for d in (config.CONF_DIR, config.LOG_DIR, config.SCRATCH_DIR):
        try:
            os.makedirs(d, exist_ok=True)
            probe = os.path.join(d, f".write-test-{os.getpid()}")
            with open(probe, "w"):
                pass
            os.remove(probe)
        except OSError as e:
            return (f"{d} is not writable by uid {os.getuid()} ({e.strerror}); mount an "
                    "emptyDir there (Kubernetes) or a tmpfs with uid=10001,gid=10001 (Docker)")
    return None


class EventLogTail(threading.Thread):
    """Copy gsserver's newest event log file (log/gridstore-*.log) to stdout."""

    def __init__(self, log_dir: str, stop: threading.Event) -> None:
        super().__init__(name="event-log-tail", daemon=True)
        self._dir = log_dir
        self._halt = stop
        self._path: Optional[str] = None
        self._pos = 0

    def _newest(self) -> Optional[str]:
        files = glob.glob(os.path.join(self._dir, "gridstore-*.log"))
        return max(files, key=os.path.getmtime) if files else None

    def pump(self) -> None:
        newest = self._newest()
        if newest and newest != self._path:
            self._pump_file()  # finish the old file first
            self._path, self._pos = newest, 0
        self._pump_file()

    def _pump_file(self) -> None:
        if not self._path:
            return
        try:
            with open(self._path, "rb") as f:
                f.seek(self._pos)
                chunk = f.read()
        except OSError:
            return
        if chunk:
            self._pos += len(chunk)
            sys.stdout.buffer.write(chunk)
            sys.stdout.flush()

    def run(self) -> None:
        # logs written before this start belong to an earlier container of the pod
        self._path = self._newest()
        self._pos = os.path.getsize(self._path) if self._path else 0
        while not self._halt.wait(0.5):
            self.pump()
        self.pump()


class Node:
    def __init__(self, settings: config.Settings) -> None:
        self.s = settings
        self.api = NodeClient(settings.username, settings.password, host=API_HOST, port=API_PORT)
        self.stop_requested = threading.Event()
        self.child: Optional[subprocess.Popen] = None

    def start_server(self) -> None:
        env = dict(os.environ)
        env.setdefault("GS_HOME", config.GS_HOME)
        env.setdefault("GS_LOG", config.LOG_DIR)
        # the admin password is in conf/password (as a digest); the server needs no copy
        env.pop("GRIDDB_PASSWORD", None)
        pidfile = os.path.join(config.CONF_DIR, "gridstore.pid")
        if os.path.exists(pidfile):  # left by an earlier container of this pod
            os.remove(pidfile)
        self.child = subprocess.Popen([GSSERVER, "--conf", config.CONF_DIR],
                                      cwd=config.GS_HOME, env=env)
        log(f"gsserver started (pid {self.child.pid})")

    def _status(self) -> tuple:
        try:
            cluster = self.api.stat().get("cluster") or {}
        except (NodeApiError, ValueError):
            return (None, None)
        return (cluster.get("nodeStatus"), cluster.get("clusterStatus"))

    def run(self) -> int:
        t0 = time.monotonic()
        self.start_server()
        assert self.child is not None
        join_sent_at: Optional[float] = None
        master = False
        recovering_logged = False
        while True:
            rc = self.child.poll()
            if rc is not None:
                log(f"gsserver exited with status {rc}")
                return rc if rc != 0 else (0 if self.stop_requested.is_set() else 1)
            if self.stop_requested.is_set():
                return self.stop()
            if not master:
                node_status, cluster_status = self._status()
                if node_status == "INACTIVE" and (
                        join_sent_at is None or time.monotonic() - join_sent_at > 10):
                    try:
                        self.api.join(self.s.cluster_name, 1)
                        join_sent_at = time.monotonic()
                        log(f"join requested for cluster {self.s.cluster_name!r}")
                    except NodeApiError as e:
                        if "under recovering" in str(e):
                            if not recovering_logged:
                                log("node is recovering its database; will join afterwards")
                                recovering_logged = True
                        else:
                            log(f"join failed, will retry: {e}")
                elif node_status == "ACTIVE" and cluster_status == "MASTER":
                    master = True
                    log(f"node is MASTER of {self.s.cluster_name!r} at "
                        f"{self.s.pod_ip}:{config.PORTS['transaction']} "
                        f"{time.monotonic() - t0:.1f} s after start")
                elif time.monotonic() - t0 > START_TIMEOUT_SECONDS:
                    log(f"not MASTER after {START_TIMEOUT_SECONDS:.0f} s "
                        f"(node {node_status}, cluster {cluster_status}); giving up")
                    self.stop_requested.set()
                    self.stop()
                    return 1
            self.stop_requested.wait(0.5 if not master else 1.0)

    def _wait_node(self, want: str, until: float) -> bool:
        while time.monotonic() < until:
            if self.child is not None and self.child.poll() is not None:
                return False
            if self._status()[0] == want:
                return True
            time.sleep(0.2)
        return False

    def stop(self) -> int:
        assert self.child is not None
        t0 = time.monotonic()
        deadline = t0 + STOP_BUDGET_SECONDS
        log("stopping: cluster first, then node")
        node_status, _ = self._status()
        if node_status == "ACTIVE":
            try:
                self.api.stop_cluster()
                if not self._wait_node("INACTIVE", min(deadline, t0 + 25)):
                    log("node did not become INACTIVE in time")
            except NodeApiError as e:
                log(f"stop cluster failed: {e}")
        # the node may still be starting (API not answering yet): keep asking
        shutdown_sent = False
        while not shutdown_sent and self.child.poll() is None and time.monotonic() < deadline - 8:
            try:
                self.api.shutdown(force=self._status()[0] not in ("INACTIVE", None))
                shutdown_sent = True
            except NodeApiError as e:
                if time.monotonic() - t0 > 2:
                    log(f"shutdown request failed, retrying: {e}")
                time.sleep(0.5)
        try:
            rc = self.child.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log("gsserver still running at the end of the stop budget: SIGTERM")
            self.child.terminate()
            try:
                rc = self.child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                log("SIGKILL")
                self.child.kill()
                rc = self.child.wait()
        log(f"gsserver stopped with status {rc} in {time.monotonic() - t0:.2f} s")
        return rc


def main() -> int:
    env = os.environ
    pod_ip = env.get("POD_IP") or None
    if pod_ip is None:
        pod_ip = detect_ip()
        if pod_ip is None:
            log("POD_IP is not set and no non-loopback address was found")
            return 2
        log(f"POD_IP not set; using the detected address {pod_ip}")
    try:
        settings = config.settings_from_env(env, pod_ip=pod_ip)
    except config.ConfigError as e:
        log(f"configuration error: {e}")
        return 2

    problem = check_dirs()
    if problem:
        log(problem)
        return 3
    for d in (config.LOG_DIR, config.SYNC_TEMP_DIR, config.SQL_SWAP_DIR, config.BACKUP_DIR):
        os.makedirs(d, exist_ok=True)

    has_data = bool(os.listdir(config.DATA_DIR))
    config.write_config(config.CONF_DIR, settings)
    log(f"config rendered into {config.CONF_DIR}: cluster {settings.cluster_name!r}, "
        f"address {settings.pod_ip}, logWriteMode {settings.log_write_mode}, "
        f"existing data: {'yes' if has_data else 'no'}")

    node = Node(settings)

    def on_signal(signum, _frame):
        log(f"received signal {signum}")
        node.stop_requested.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    tail_stop = threading.Event()
    tail = EventLogTail(config.LOG_DIR, tail_stop)
    tail.start()
    try:
        return node.run()
    finally:
        tail_stop.set()
        tail.join(timeout=2)


if __name__ == "__main__":
    sys.exit(main())

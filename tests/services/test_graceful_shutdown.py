"""SIGTERM, as the kubelet sends it after the preStop pause (issue 9), to the real processes.

A login is slow by nature (the password hash), and slower still with a bcrypt cost chosen
here (auth), or behind an auth double that takes its time (web): it is the request kept in flight. The process must answer it with 200, refuse new
connections meanwhile, and exit 0 well inside the drain time (components/workload.py).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import bcrypt
import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ROOT = Path(__file__).resolve().parents[2]

DRAIN_SECONDS = 10
SLOW_LOGIN_SECONDS = 2.0  # the auth double's answer time (web's test)
SLOW_HASH_SECONDS = 1.0  # 1-2 s: the bcrypt cost is picked to take this long here (auth's tests)


def slow_hash(password: bytes) -> str:
    """A bcrypt hash whose check takes SLOW_HASH_SECONDS to twice that on this machine (well inside
    the drain time even when the machine is busy)."""
    rounds = 10
    started = time.perf_counter()
    bcrypt.hashpw(password, bcrypt.gensalt(rounds))
    took = time.perf_counter() - started
    while took < SLOW_HASH_SECONDS and rounds < 20:
        rounds, took = rounds + 1, took * 2
    return bcrypt.hashpw(password, bcrypt.gensalt(rounds)).decode()


@pytest.fixture(scope="module")
def slow_account() -> dict:
    return {"username": "slow", "password": "slow-pass", "hash": slow_hash(b"slow-pass")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def write_ec_key(path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


class Processes:
    """auth and web on loopback (web with the memory store), each its own process."""

    def __init__(self, tmp_path, slow_account):
        write_ec_key(tmp_path / "private.pem")
        (tmp_path / "accounts.json").write_text(json.dumps({slow_account["username"]: slow_account["hash"]}))
        self.ports = {"auth": free_port(), "web": free_port()}
        metrics_ports = {"AUTH_METRICS_PORT": str(free_port()), "WEB_METRICS_PORT": str(free_port())}
        base = {k: v for k, v in os.environ.items() if not k.startswith(("GRIDDB_", "AUTH_", "WEB_"))}
        base["SHUTDOWN_DRAIN_SECONDS"] = str(DRAIN_SECONDS)
        self.env = {
            "auth": {**base, "AUTH_PORT": str(self.ports["auth"]), "AUTH_METRICS_PORT": metrics_ports["AUTH_METRICS_PORT"],
                     "AUTH_SIGNING_KEY_FILE": str(tmp_path / "private.pem"),
                     "AUTH_ACCOUNTS_FILE": str(tmp_path / "accounts.json"),
                     "PYTHONPATH": str(ROOT / "services/auth")},
            "web": {**base, "WEB_PORT": str(self.ports["web"]), "WEB_METRICS_PORT": metrics_ports["WEB_METRICS_PORT"],
                    "TODO_STORE": "memory",
                    "AUTH_URL": f"http://127.0.0.1:{self.ports['auth']}",
                    "PYTHONPATH": str(ROOT / "services/web")},
        }
        self.logs = {name: tmp_path / f"{name}.log" for name in self.env}
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, **extra_env) -> subprocess.Popen:
        out = open(self.logs[name], "wb")
        self.procs[name] = subprocess.Popen([sys.executable, "-m", name], env={**self.env[name], **extra_env},
                                            stdout=out, stderr=subprocess.STDOUT, cwd=self.logs[name].parent)
        wait_http(self.url(name) + "/healthz")
        return self.procs[name]

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def log_lines(self, name: str) -> list[dict]:
        return [json.loads(line) for line in self.logs[name].read_text().splitlines() if line.startswith("{")]

    def stop_all(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)


@pytest.fixture()
def processes(tmp_path, slow_account):
    procs = Processes(tmp_path, slow_account)
    yield procs
    procs.stop_all()


def in_flight(method: str, url: str, **kwargs) -> tuple[threading.Thread, dict]:
    """Send a request from a thread; its response (or error) lands in the returned dict."""
    result: dict = {}

    def send():
        try:
            result["response"] = httpx.request(method, url, timeout=30, **kwargs)
        except httpx.HTTPError as error:  # reported by the assertions below
            result["error"] = repr(error)

    thread = threading.Thread(target=send)
    thread.start()
    return thread, result


def sigterm_while_in_flight(proc, url: str, thread) -> float:
    """SIGTERM `proc` while `thread`'s request is in flight; return how long the process took to exit."""
    time.sleep(0.5)  # the request is accepted and inside the password check
    assert thread.is_alive(), "the request was not slow enough to still be in flight"
    proc.send_signal(signal.SIGTERM)
    started = time.monotonic()
    time.sleep(0.3)
    # No new connections once it stops listening (Kubernetes sent no more: the preStop pause).
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/healthz", timeout=2)
    thread.join(timeout=DRAIN_SECONDS + 5)
    proc.wait(timeout=DRAIN_SECONDS + 5)
    return time.monotonic() - started


class SlowAuth(BaseHTTPRequestHandler):
    """auth as web sees it, answering /token after SLOW_LOGIN_SECONDS whatever the machine's load
    (web gives auth 5 s: a bcrypt cost picked to be slow could pass that on a busy machine)."""

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        time.sleep(SLOW_LOGIN_SECONDS)
        body = json.dumps({"access_token": "a.b.c", "token_type": "Bearer", "expires_in": 900}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture()
def slow_auth():
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowAuth)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_web_finishes_a_request_in_flight_then_exits_0(processes, slow_auth):
    processes.env["web"]["AUTH_URL"] = slow_auth
    web = processes.start("web")
    login = {"username": "slow", "password": "slow-pass"}
    thread, result = in_flight("POST", processes.url("web") + "/api/login", json=login)
    took = sigterm_while_in_flight(web, processes.url("web"), thread)
    assert "error" not in result, result
    assert result["response"].status_code == 200
    assert result["response"].json()["access_token"] == "a.b.c"
    assert web.returncode == 0
    assert took < DRAIN_SECONDS, f"web took {took:.1f} s to stop"
    messages = [line["msg"] for line in processes.log_lines("web")]
    assert messages[-2:] == ["stopped", "store closed"]


def test_auth_finishes_a_request_in_flight_then_exits_0(processes, slow_account):
    auth = processes.start("auth")
    login = {"username": slow_account["username"], "password": slow_account["password"]}
    thread, result = in_flight("POST", processes.url("auth") + "/token", json=login)
    took = sigterm_while_in_flight(auth, processes.url("auth"), thread)
    assert "error" not in result, result
    assert result["response"].status_code == 200
    assert auth.returncode == 0
    assert took < DRAIN_SECONDS, f"auth took {took:.1f} s to stop"
    (stopped,) = [line for line in processes.log_lines("auth") if line["msg"] == "stopped"]
    assert stopped["signal"] == ["SIGTERM"]


def test_a_request_longer_than_the_drain_time_is_cut_off_and_the_process_still_exits(processes, slow_account):
    auth = processes.start("auth", SHUTDOWN_DRAIN_SECONDS="1")
    login = {"username": slow_account["username"], "password": slow_account["password"]}
    # Several slow logins queue up in auth's thread pool: more work than one second allows.
    calls = [in_flight("POST", processes.url("auth") + "/token", json=login) for _ in range(4)]
    time.sleep(0.5)
    auth.send_signal(signal.SIGTERM)
    started = time.monotonic()
    auth.wait(timeout=SLOW_HASH_SECONDS * 8 + 10)
    took = time.monotonic() - started
    for thread, _ in calls:
        thread.join(timeout=10)
    assert auth.returncode == 0
    # Cut off after the drain time (1 s), not after the four password checks.
    assert took < 1 + 2, f"auth took {took:.1f} s to stop"
    for _, result in calls:
        assert "response" not in result or result["response"].status_code != 200

"""auth under attack (issue 13, items 2 and 5): hostile JSON is a clear 4xx, error bodies never
echo a password, and a password typed into the username field never reaches the log."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings, strategies as st

from auth.app import create_app
from auth.jsonlog import JsonFormatter
from auth.lockout import Lockout
from auth.settings import Settings

JSON = {"Content-Type": "application/json"}


@pytest.fixture()
def client(auth_files):
    settings_ = Settings(signing_key_file=str(auth_files["key_path"]),
                         accounts_file=str(auth_files["accounts_path"]))
    return TestClient(create_app(settings_, lockout=Lockout(max_failures=10_000)),
                      raise_server_exceptions=False)


@pytest.mark.parametrize("raw", [
    b"{nope", b'{"username": "alice", "password": NaN}', b'{"username": "alice", "password": Infinity}',
    b'{"username": -Infinity, "password": "x"}', b'{"username": 1e999999, "password": "x"}',
    b'{"username": ' + b"[" * 60000, b"[" * 30000 + b"]" * 30000,
    b'{"username": "\\ud800", "password": "pw-secret"}', b'{"username": "alice", "password": "\\udfffpw"}',
    b'{"username": "alice", "password": "\xc3\x28"}', b'{"username": "a", "username": "b", "password": "x"}',
    b'{"username": "alice", "password": 1' + b"0" * 5000 + b"}",
])
def test_hostile_json_is_400(client, raw):
    r = client.post("/token", content=raw, headers=JSON)
    assert r.status_code == 400, (raw[:60], r.status_code, r.text[:200])
    assert r.json()["detail"].startswith("request body is not valid JSON")
    assert "pw-secret" not in r.text and r.headers["x-content-type-options"] == "nosniff"


def test_oversized_body_is_413(client):
    r = client.post("/token", content=b'{"username": "alice", "password": "' + b"x" * 70000 + b'"}',
                    headers=JSON)
    assert r.status_code == 413 and "xxxx" not in r.text


@pytest.mark.parametrize("body", [
    {"username": "alice", "password": "pw-secret-1", "extra": "x"},
    {"username": "a" * 65, "password": "pw-secret-1"},
    {"username": ["alice"], "password": "pw-secret-1"},
    {"username": "alice", "password": ["pw-secret-1"]},
    {"username": "alice", "password": "pw-secret-1" * 200},
    {"password": "pw-secret-1"},
])
def test_422_never_echoes_the_submitted_values(client, body):
    r = client.post("/token", json=body)
    assert r.status_code == 422
    assert "pw-secret-1" not in r.text
    assert r.json()["errors"] and all(set(e) == {"loc", "msg"} for e in r.json()["errors"])


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.lists(st.one_of(st.sampled_from(["\ud800", "\udfff", "\x00"]), st.characters(exclude_categories=()))).map("".join),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(username=JSON_VALUES, password=JSON_VALUES, extra=st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=2))
def test_fuzz_every_field_never_5xx_never_echoes(client, username, password, extra):
    body = {**extra, "username": username, "password": password}
    raw = json.dumps(body, ensure_ascii=True, allow_nan=True).encode()
    r = client.post("/token", content=raw, headers=JSON)
    assert r.status_code in (400, 401, 422, 429), r.text
    if isinstance(password, str) and len(password) >= 4:
        assert json.dumps(password)[1:-1] not in r.text


# ---- 5. no raw unknown usernames in the log ------------------------------------------------

class Capture(logging.Handler):
    def __init__(self):
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines = []

    def emit(self, record):
        self.lines.append(self.format(record))


@pytest.fixture()
def log_lines():
    h = Capture()
    root = logging.getLogger()
    old = root.level
    root.addHandler(h)
    root.setLevel(logging.INFO)
    yield h.lines
    root.removeHandler(h)
    root.setLevel(old)


def test_a_password_typed_as_the_username_never_reaches_the_log(auth_files, log_lines):
    settings_ = Settings(signing_key_file=str(auth_files["key_path"]),
                         accounts_file=str(auth_files["accounts_path"]))
    c = TestClient(create_app(settings_, lockout=Lockout(max_failures=2)))
    typed = "Tr0ub4dor&3-typed-as-name"
    for _ in range(3):  # two failures, then the locked-out path
        c.post("/token", json={"username": typed, "password": "whatever"})
    text = "\n".join(log_lines)
    assert "Tr0ub4dor" not in text
    failed = [json.loads(x) for x in log_lines if '"login failed"' in x]
    refused = [json.loads(x) for x in log_lines if '"login refused' in x]
    assert failed and refused
    # the same unknown name always logs the same keyed hash, so attempts can be correlated
    assert len({e["user_hash"] for e in failed + refused}) == 1
    assert all("user" not in e for e in failed + refused)
    # a known account is still logged by name
    c.post("/token", json={"username": "alice", "password": "wrong"})
    assert any(json.loads(x).get("user") == "alice" for x in log_lines if '"login failed"' in x)


def test_a_500_is_clean_json_with_nosniff_and_no_store(auth_files):
    settings_ = Settings(signing_key_file=str(auth_files["key_path"]),
                         accounts_file=str(auth_files["accounts_path"]))
    app = create_app(settings_)

    def broken(*_):
        raise RuntimeError("internal detail")
    app.state.accounts.check = broken
    r = TestClient(app, raise_server_exceptions=False).post(
        "/token", json={"username": "alice", "password": "alice-pass"})
    assert r.status_code == 500 and r.json() == {"detail": "internal error"}
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"


def test_head_and_relative_redirect(client):
    assert client.head("/healthz").status_code == 200
    assert client.head("/.well-known/jwks.json").status_code == 200
    r = client.get("/healthz/", headers={"Host": "evil.example"}, follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/healthz"

"""Shared fixtures for the service tests.

The services are plain directories, not installed packages: this conftest puts
services/auth and services/web on sys.path so `import auth` and `import web` work under a
plain `pytest` from the repository root.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
for sub in ("services/auth", "services/web"):
    p = str(ROOT / sub)
    if p not in sys.path:
        sys.path.insert(0, p)

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402


def write_ec_key(path: Path, fmt: str = "sec1") -> ec.EllipticCurvePrivateKey:
    key = ec.generate_private_key(ec.SECP256R1())
    form = (serialization.PrivateFormat.TraditionalOpenSSL if fmt == "sec1"
            else serialization.PrivateFormat.PKCS8)
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, form,
                                       serialization.NoEncryption()))
    return key


@pytest.fixture(scope="session")
def griddb_classpath():
    """A CLASSPATH for web's GridDB store: the client jars (from CLASSPATH if it names gridstore,
    else fetched once from Maven Central into build/griddb-jars with jars.lock's sha256 checks)
    plus web's own row reader, compiled anew from services/web/java-src into the same directory."""
    import shutil
    if not shutil.which("java") and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java runtime (JPype needs one)")
    given = os.environ.get("CLASSPATH", "")
    if "gridstore" in given:
        return given
    prepare = ROOT / "services/web/docker/prepare_jars.py"
    r = subprocess.run([sys.executable, str(prepare), str(ROOT / "build" / "griddb-jars")],
                       capture_output=True, text=True, timeout=400)
    if r.returncode == 3:  # prepare_jars.CANNOT_FETCH: no Maven Central here
        pytest.skip(f"cannot fetch the GridDB client jars: {r.stderr.strip()[-200:]}")
    assert r.returncode == 0, f"prepare_jars.py failed:\n{r.stderr[-2000:]}"
    cp = r.stdout.strip()
    os.environ["CLASSPATH"] = cp
    return cp


@pytest.fixture(scope="session")
def bcrypt_hash_alice() -> str:
    import bcrypt
    # $2a$10$ is what pulumi_random's RandomPassword.bcrypt_hash produces
    return bcrypt.hashpw(b"alice-pass", bcrypt.gensalt(10, prefix=b"2a")).decode()


@pytest.fixture(scope="session")
def argon2_hash_bob() -> str:
    from argon2 import PasswordHasher
    return PasswordHasher().hash("bob-pass")


@pytest.fixture()
def auth_files(tmp_path, bcrypt_hash_alice, argon2_hash_bob):
    key_path = tmp_path / "private.pem"
    key = write_ec_key(key_path)
    accounts_path = tmp_path / "accounts.json"
    accounts_path.write_text(json.dumps({"alice": bcrypt_hash_alice, "bob": argon2_hash_bob}))
    return {"key_path": key_path, "key": key, "accounts_path": accounts_path}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 20.0) -> None:
    import httpx
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


@pytest.fixture()
def live_stack(tmp_path, auth_files):
    """Real auth and web processes on loopback (web with the memory store)."""
    auth_port, web_port = free_port(), free_port()
    auth_metrics_port, web_metrics_port = free_port(), free_port()
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("GRIDDB_", "AUTH_", "WEB_"))}
    env_auth = {**base_env, "AUTH_PORT": str(auth_port), "AUTH_METRICS_PORT": str(auth_metrics_port),
                "AUTH_SIGNING_KEY_FILE": str(auth_files["key_path"]),
                "AUTH_ACCOUNTS_FILE": str(auth_files["accounts_path"]),
                "AUTH_TRUSTED_CLIENT_HEADER": "X-Todo-Client-Address",  # as components/auth.py sets
                "PYTHONPATH": str(ROOT / "services/auth")}
    env_web = {**base_env, "WEB_PORT": str(web_port), "WEB_METRICS_PORT": str(web_metrics_port),
               "AUTH_URL": f"http://127.0.0.1:{auth_port}",
               "TODO_STORE": "memory", "PYTHONPATH": str(ROOT / "services/web")}
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = []
    try:
        for name, env in (("auth", env_auth), ("web", env_web)):
            out = open(logs / f"{name}.log", "wb")
            procs.append(subprocess.Popen([sys.executable, "-m", name], env=env, stdout=out,
                                          stderr=subprocess.STDOUT, cwd=tmp_path))
        wait_http(f"http://127.0.0.1:{auth_port}/healthz")
        wait_http(f"http://127.0.0.1:{web_port}/healthz")
        yield {"auth": f"http://127.0.0.1:{auth_port}", "web": f"http://127.0.0.1:{web_port}",
               "auth_metrics": f"http://127.0.0.1:{auth_metrics_port}/metrics",
               "web_metrics": f"http://127.0.0.1:{web_metrics_port}/metrics", "logs": logs}
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


# ---- web fixtures: a signing key like auth's, a verifier fed from it, token minting --------

ISSUER, AUDIENCE = "griddb-todo-auth", "griddb-todo-web"


class Minter:
    """Mints tokens the way auth does (ES256, kid = RFC 7638 thumbprint)."""

    def __init__(self) -> None:
        from auth.keys import public_jwk, thumbprint
        self.key = ec.generate_private_key(ec.SECP256R1())
        jwk = public_jwk(self.key.public_key())
        self.kid = thumbprint(jwk)
        self.jwk = {**jwk, "kid": self.kid, "use": "sig", "alg": "ES256"}

    def claims(self, sub: str = "alice", **over) -> dict:
        now = int(time.time())
        c = {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + 600}
        c.update(over)
        return {k: v for k, v in c.items() if v is not None}

    def token(self, sub: str = "alice", *, key=None, kid: str | None = None, **over) -> str:
        import jwt
        return jwt.encode(self.claims(sub, **over), key or self.key, algorithm="ES256",
                          headers={"kid": kid or self.kid})


@pytest.fixture()
def minter() -> Minter:
    return Minter()


@pytest.fixture()
def jwks_source(minter):
    """A fake JWKS endpoint: a callable returning the current key set, counting its calls."""
    class Source:
        def __init__(self):
            self.keys = [minter.jwk]
            self.calls = 0
            self.fail = False

        def __call__(self):
            import httpx
            self.calls += 1
            if self.fail:
                raise httpx.ConnectError("auth down")
            return {"keys": list(self.keys)}
    return Source()


@pytest.fixture()
def web_app(jwks_source):
    """The web app with the memory store, the fake JWKS, and a fake auth for /api/login."""
    import httpx
    from web.app import create_app
    from web.settings import Settings
    from web.store import MemoryStore
    from web.tokens import TokenVerifier

    def fake_auth(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if request.url.path != "/token":
            return httpx.Response(404)
        if body == {"username": "alice", "password": "alice-pass"}:
            return httpx.Response(200, json={"access_token": "tok", "token_type": "Bearer",
                                             "expires_in": 900})
        if body["username"] == "locked":
            return httpx.Response(429, json={"detail": "too many failed logins; try again in 42 seconds"},
                                  headers={"Retry-After": "42"})
        if body["username"] == "broken":
            return httpx.Response(500, text="boom")
        return httpx.Response(401, json={"detail": "invalid username or password"})

    store = MemoryStore()
    verifier = TokenVerifier(jwks_source, ISSUER, AUDIENCE)
    auth_client = httpx.Client(base_url="http://auth.test", transport=httpx.MockTransport(fake_auth))
    app = create_app(Settings(store="memory"), store, verifier, auth_client=auth_client)
    app.state.verifier = verifier
    return app


@pytest.fixture()
def client(web_app):
    from fastapi.testclient import TestClient
    with TestClient(web_app) as c:
        yield c


@pytest.fixture()
def auth_header(minter):
    def make(sub: str = "alice") -> dict:
        return {"Authorization": f"Bearer {minter.token(sub)}"}
    return make


@pytest.fixture()
def new_minter():
    """Factory for further signing keys (e.g. a rotated auth key)."""
    return Minter


@pytest.fixture()
def ec_key_writer():
    return write_ec_key


@pytest.fixture()
def repo_root() -> Path:
    return ROOT

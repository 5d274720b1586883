"""auth: logins, tokens, JWKS, lockout, accounts file handling."""

from __future__ import annotations

import base64
import hashlib
import json

import jwt
import pytest
from fastapi.testclient import TestClient

from auth.accounts import AccountsError, AccountStore, parse_accounts
from auth.app import create_app
from auth.keys import load_signing_key
from auth.lockout import Lockout
from auth.settings import Settings, from_env


def make_client(auth_files, **kw) -> TestClient:
    settings = Settings(signing_key_file=str(auth_files["key_path"]),
                        accounts_file=str(auth_files["accounts_path"]))
    return TestClient(create_app(settings, **kw))


def b64u(n: int) -> str:
    return base64.urlsafe_b64encode(n.to_bytes(32, "big")).rstrip(b"=").decode()


def test_good_login_bcrypt_2a_returns_verifiable_es256_token(auth_files):
    c = make_client(auth_files)
    r = c.post("/token", json={"username": "alice", "password": "alice-pass"})
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert r.headers["cache-control"] == "no-store"
    token = body["access_token"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256"
    # kid is the RFC 7638 thumbprint, computed here independently of auth.keys
    nums = auth_files["key"].public_key().public_numbers()
    canonical = '{"crv":"P-256","kty":"EC","x":"%s","y":"%s"}' % (b64u(nums.x), b64u(nums.y))
    expected_kid = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
    assert header["kid"] == expected_kid
    claims = jwt.decode(token, auth_files["key"].public_key(), algorithms=["ES256"],
                        audience="griddb-todo-web", issuer="griddb-todo-auth")
    assert claims["sub"] == "alice"
    assert claims["exp"] - claims["iat"] == 900


def test_argon2id_account_and_pkcs8_key(auth_files, ec_key_writer):
    ec_key_writer(auth_files["key_path"], fmt="pkcs8")
    assert b"BEGIN PRIVATE KEY" in auth_files["key_path"].read_bytes()
    c = make_client(auth_files)
    r = c.post("/token", json={"username": "bob", "password": "bob-pass"})
    assert r.status_code == 200
    assert jwt.decode(r.json()["access_token"], options={"verify_signature": False})["sub"] == "bob"


def test_sec1_key_form_is_accepted(auth_files):
    assert b"BEGIN EC PRIVATE KEY" in auth_files["key_path"].read_bytes()
    assert load_signing_key(str(auth_files["key_path"])).jwk["crv"] == "P-256"


def test_issuer_audience_ttl_come_from_env(auth_files):
    s = from_env({"TOKEN_ISSUER": "iss-x", "TOKEN_AUDIENCE": "aud-y", "AUTH_TOKEN_TTL_SECONDS": "60",
                  "AUTH_SIGNING_KEY_FILE": str(auth_files["key_path"]),
                  "AUTH_ACCOUNTS_FILE": str(auth_files["accounts_path"])})
    c = TestClient(create_app(s))
    tok = c.post("/token", json={"username": "alice", "password": "alice-pass"}).json()["access_token"]
    claims = jwt.decode(tok, auth_files["key"].public_key(), algorithms=["ES256"], audience="aud-y",
                        issuer="iss-x")
    assert claims["exp"] - claims["iat"] == 60


def test_wrong_password_and_unknown_user_get_the_same_401(auth_files):
    c = make_client(auth_files)
    wrong = c.post("/token", json={"username": "alice", "password": "nope"})
    unknown = c.post("/token", json={"username": "mallory", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "invalid username or password"}
    assert "access_token" not in wrong.text


def test_no_credentials_no_token(auth_files):
    c = make_client(auth_files)
    for body in ({}, {"username": "alice"}, {"username": "alice", "password": ""},
                 {"username": "", "password": "x"}):
        r = c.post("/token", json=body)
        assert r.status_code == 422, body
        assert "access_token" not in r.text
    assert c.post("/token").status_code == 422
    assert c.get("/token").status_code == 405


def test_lockout_after_five_failures_then_released(auth_files):
    now = [1000.0]
    lock = Lockout(max_failures=5, window=300, clock=lambda: now[0])
    c = make_client(auth_files, lockout=lock)
    for _ in range(5):
        assert c.post("/token", json={"username": "alice", "password": "bad"}).status_code == 401
    r = c.post("/token", json={"username": "alice", "password": "alice-pass"})
    assert r.status_code == 429
    assert r.headers["retry-after"] == "300"
    assert "access_token" not in r.text
    # other accounts are not affected
    assert c.post("/token", json={"username": "bob", "password": "bob-pass"}).status_code == 200
    now[0] += 120
    r = c.post("/token", json={"username": "alice", "password": "alice-pass"})
    assert r.status_code == 429 and r.headers["retry-after"] == "180"
    now[0] += 181
    assert c.post("/token", json={"username": "alice", "password": "alice-pass"}).status_code == 200


def test_lockout_applies_to_unknown_usernames_too(auth_files):
    c = make_client(auth_files, lockout=Lockout(max_failures=2, window=60))
    codes = [c.post("/token", json={"username": "ghost", "password": "x"}).status_code for _ in range(3)]
    assert codes == [401, 401, 429]


def test_success_resets_the_failure_count(auth_files):
    c = make_client(auth_files, lockout=Lockout(max_failures=3, window=60))
    for _ in range(2):
        c.post("/token", json={"username": "alice", "password": "bad"})
    assert c.post("/token", json={"username": "alice", "password": "alice-pass"}).status_code == 200
    for _ in range(2):
        assert c.post("/token", json={"username": "alice", "password": "bad"}).status_code == 401
    assert c.post("/token", json={"username": "alice", "password": "alice-pass"}).status_code == 200


def test_jwks_publishes_the_public_key_only(auth_files):
    c = make_client(auth_files)
    r = c.get("/.well-known/jwks.json")
    assert r.status_code == 200
    keys = r.json()["keys"]
    assert len(keys) == 1
    k = keys[0]
    assert set(k) == {"kty", "crv", "x", "y", "kid", "use", "alg"}
    assert "d" not in k
    nums = auth_files["key"].public_key().public_numbers()
    assert (k["x"], k["y"], k["alg"]) == (b64u(nums.x), b64u(nums.y), "ES256")
    tok = c.post("/token", json={"username": "alice", "password": "alice-pass"}).json()["access_token"]
    pub = jwt.algorithms.ECAlgorithm.from_jwk(json.dumps(k))
    assert jwt.decode(tok, pub, algorithms=["ES256"], audience="griddb-todo-web")["sub"] == "alice"


def test_probes(auth_files):
    c = make_client(auth_files)
    assert c.get("/healthz").json() == {"status": "ok"}
    assert c.get("/readyz").status_code == 200
    auth_files["accounts_path"].unlink()
    assert c.get("/readyz").status_code == 503
    assert c.get("/healthz").status_code == 200


def test_accounts_file_reloaded_on_change(auth_files, bcrypt_hash_alice):
    c = make_client(auth_files)
    assert c.post("/token", json={"username": "carol", "password": "alice-pass"}).status_code == 401
    auth_files["accounts_path"].write_text(json.dumps({"carol": bcrypt_hash_alice}) + "\n")
    assert c.post("/token", json={"username": "carol", "password": "alice-pass"}).status_code == 200
    assert c.post("/token", json={"username": "alice", "password": "alice-pass"}).status_code == 401


@pytest.mark.parametrize("value", ["hunter2", "$2a$10$short", "$argon2i$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", 42])
def test_plain_or_unknown_hashes_are_refused(value):
    with pytest.raises(AccountsError) as err:
        parse_accounts(json.dumps({"alice": value}))
    assert "hunter2" not in str(err.value)  # the offending value is never echoed


def test_bcrypt_2b_and_2y_prefixes_verify():
    import bcrypt
    from auth.accounts import verify_password
    h = bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode()
    assert h.startswith("$2b$")
    assert verify_password("pw", h) and verify_password("pw", "$2y$" + h[4:])
    assert not verify_password("pW", h)


def test_bad_key_fails_fast(tmp_path, auth_files):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    p384 = ec.generate_private_key(ec.SECP384R1())
    auth_files["key_path"].write_bytes(p384.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with pytest.raises(ValueError, match="P-256"):
        make_client(auth_files)
    with pytest.raises(ValueError, match="cannot read"):
        load_signing_key(str(tmp_path / "missing.pem"))

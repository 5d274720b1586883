"""web: every forged or broken token is refused with 401; the JWKS cache behaves."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def b64(data) -> str:
    if not isinstance(data, bytes):
        data = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def bearer(tok: str) -> dict:
    return {"Authorization": f"Bearer {tok}"}


def assert_401(client, headers):
    r = client.get("/api/todos", headers=headers)
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"].startswith("Bearer")
    r = client.post("/api/todos", json={"title": "x"}, headers=headers)
    assert r.status_code == 401


def test_valid_token_is_accepted(client, minter):
    assert client.get("/api/todos", headers=bearer(minter.token())).status_code == 200


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": ""}, {"Authorization": "Bearer"}, {"Authorization": "Bearer "},
    {"Authorization": "Basic YWxpY2U6YWxpY2UtcGFzcw=="}, {"Authorization": "Bearer not.a.jwt"},
    {"Authorization": "Bearer garbage"},
])
def test_missing_or_malformed(client, headers):
    assert_401(client, headers)


def test_expired(client, minter):
    now = int(time.time())
    assert_401(client, bearer(minter.token(iat=now - 3600, exp=now - 60)))


def test_tampered_payload(client, minter):
    h, p, s = minter.token("alice").split(".")
    claims = json.loads(base64.urlsafe_b64decode(p + "=="))
    claims["sub"] = "bob"
    assert_401(client, bearer(f"{h}.{b64(claims)}.{s}"))


def test_tampered_signature(client, minter):
    h, p, s = minter.token().split(".")
    sig = bytearray(base64.urlsafe_b64decode(s + "=="))
    sig[5] ^= 1
    assert_401(client, bearer(f"{h}.{p}.{b64(bytes(sig))}"))


def test_wrong_key_same_kid(client, minter):
    other = ec.generate_private_key(ec.SECP256R1())
    assert_401(client, bearer(minter.token(key=other)))


def test_wrong_key_unknown_kid(client, minter):
    other = ec.generate_private_key(ec.SECP256R1())
    assert_401(client, bearer(minter.token(key=other, kid="someone-elses")))


def test_alg_none(client, minter):
    for alg in ("none", "None", "NONE"):
        tok = f"{b64({'alg': alg, 'typ': 'JWT', 'kid': minter.kid})}.{b64(minter.claims())}."
        assert_401(client, bearer(tok))
    # PyJWT's own "none" encoder too
    assert_401(client, bearer(jwt.encode(minter.claims(), None, algorithm="none",
                                         headers={"kid": minter.kid})))


def test_hs256_with_the_public_key_as_secret(client, minter):
    pem = minter.key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    for secret in (pem, json.dumps(minter.jwk).encode(), minter.jwk["x"].encode()):
        signing_input = f"{b64({'alg': 'HS256', 'typ': 'JWT', 'kid': minter.kid})}.{b64(minter.claims())}"
        sig = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        assert_401(client, bearer(f"{signing_input}.{b64(sig)}"))


def test_wrong_issuer(client, minter):
    assert_401(client, bearer(minter.token(iss="someone-else")))


def test_wrong_audience(client, minter):
    assert_401(client, bearer(minter.token(aud="another-app")))


@pytest.mark.parametrize("claim", ["exp", "iss", "aud", "sub", "iat"])
def test_missing_required_claim(client, minter, claim):
    assert_401(client, bearer(minter.token(**{claim: None})))


def test_es384_or_rs256_are_not_es256(client, minter):
    p384 = ec.generate_private_key(ec.SECP384R1())
    tok = jwt.encode(minter.claims(), p384, algorithm="ES384", headers={"kid": minter.kid})
    assert_401(client, bearer(tok))


def test_unknown_kid_refreshes_jwks_once_then_rate_limited(client, minter, jwks_source, new_minter):
    # a long interval, so a slow machine cannot let the real clock pass it mid-test
    # (test_web_key_rotation checks the 1 s default with a fake clock)
    client.app.state.verifier.min_refresh_interval = 30
    # first use fetches the JWKS
    assert client.get("/api/todos", headers=bearer(minter.token())).status_code == 200
    assert jwks_source.calls == 1
    # auth rotated its key: the new kid is fetched on first sight
    rotated = new_minter()
    jwks_source.keys.append(rotated.jwk)
    client.app.state.verifier._last_refresh -= 60  # pretend the cache is old enough
    assert client.get("/api/todos", headers=bearer(rotated.token())).status_code == 200
    assert jwks_source.calls == 2
    # a flood of unknown kids causes no further fetches inside the refresh interval
    stranger = ec.generate_private_key(ec.SECP256R1())
    for i in range(20):
        assert client.get("/api/todos", headers=bearer(minter.token(key=stranger, kid=f"k{i}"))).status_code == 401
    assert jwks_source.calls == 2
    # known keys keep working without fetching
    assert client.get("/api/todos", headers=bearer(minter.token())).status_code == 200
    assert jwks_source.calls == 2


def test_jwks_unreachable_at_first_is_503_not_401(client, minter, jwks_source):
    jwks_source.fail = True
    r = client.get("/api/todos", headers=bearer(minter.token()))
    assert r.status_code == 503 and "auth service unavailable" in r.json()["detail"]
    jwks_source.fail = False
    client.app.state.verifier._last_refresh -= 60
    assert client.get("/api/todos", headers=bearer(minter.token())).status_code == 200


def test_jwks_entries_for_other_algorithms_are_ignored(client, minter, jwks_source):
    jwks_source.keys = [{**minter.jwk, "alg": "HS256"}]
    assert client.get("/api/todos", headers=bearer(minter.token())).status_code in (401, 503)


def test_a_cached_token_still_expires_on_time(client, minter):
    verifier = client.app.state.verifier
    verifier.leeway = 0
    tok = minter.token(exp=int(time.time()) + 2)
    assert client.get("/api/todos", headers=bearer(tok)).status_code == 200  # now cached
    assert tok in verifier._verified
    time.sleep(2.6)
    assert client.get("/api/todos", headers=bearer(tok)).status_code == 401

"""Signing-key rotation without logging anyone out (issue 9), auth's side and web's together.

The stack keeps keys by generation (components/auth.py): generation N signs with key N and
publishes keys N-1 and N+1 as well. Here auth processes of consecutive generations run side by
side, as during a rollout behind one Service, and web verifies their tokens with whichever key
set it happened to fetch.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timezone

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from auth.app import create_app
from auth.keys import load_published_key, public_jwk, thumbprint
from auth.settings import ConfigError, Settings, from_env

ISSUER, AUDIENCE = "griddb-todo-auth", "griddb-todo-web"


@pytest.fixture()
def keys(tmp_path):
    """Generation -> (private PEM path, public PEM path), like the stack's pulumi_tls keys."""
    made = {}
    for generation in range(1, 6):
        key = ec.generate_private_key(ec.SECP256R1())
        private, public = tmp_path / f"g{generation}.pem", tmp_path / f"g{generation}.pub.pem"
        private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
        public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                         serialization.PublicFormat.SubjectPublicKeyInfo))
        made[generation] = (private, public, thumbprint(public_jwk(key.public_key())))
    return made


def auth_of_generation(n: int, keys, auth_files, previous_until=None, clock=None) -> TestClient:
    """auth as the stack deploys it at signingKeyGeneration n (the previous key retiring at
    `previous_until`, Unix seconds, by `clock`)."""
    settings = Settings(signing_key_file=str(keys[n][0]), accounts_file=str(auth_files["accounts_path"]),
                        published_key_files=(str(keys[n + 1][1]),) if n + 1 in keys else (),
                        previous_key_file=str(keys[n - 1][1]) if n - 1 in keys else "",
                        previous_key_until=previous_until)
    return TestClient(create_app(settings, **({"clock": clock} if clock else {})))


def kids(client: TestClient) -> list[str]:
    return [k["kid"] for k in client.get("/.well-known/jwks.json").json()["keys"]]


def login(client: TestClient) -> str:
    response = client.post("/token", json={"username": "alice", "password": "alice-pass"})
    assert response.status_code == 200
    return response.json()["access_token"]


def test_jwks_holds_the_signing_key_first_then_the_previous_and_next(keys, auth_files):
    auth = auth_of_generation(2, keys, auth_files)
    assert kids(auth) == [keys[2][2], keys[1][2], keys[3][2]]
    import jwt
    assert jwt.get_unverified_header(login(auth))["kid"] == keys[2][2], "signs with the current key only"
    assert kids(auth_of_generation(1, keys, auth_files)) == [keys[1][2], keys[2][2]]


def test_a_published_key_is_described_like_the_signing_key(keys):
    jwk = load_published_key(str(keys[1][1]))
    assert set(jwk) == {"kty", "crv", "x", "y", "kid", "use", "alg"}
    assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"], jwk["kid"]) == ("EC", "P-256", "ES256", "sig", keys[1][2])


def test_published_key_files_come_from_the_environment():
    assert from_env({"AUTH_PUBLISHED_KEY_FILES": "/k/a.pub.pem, /k/next.pub.pem"}).published_key_files == (
        "/k/a.pub.pem", "/k/next.pub.pem")
    assert from_env({}).published_key_files == ()
    settings = from_env({"AUTH_PREVIOUS_KEY_FILE": "/k/previous.pub.pem",
                         "AUTH_PREVIOUS_KEY_UNTIL": "2026-12-01T10:25:00Z"})
    assert settings.previous_key_file == "/k/previous.pub.pem"
    assert settings.previous_key_until == datetime(2026, 12, 1, 10, 25, tzinfo=timezone.utc).timestamp()
    assert from_env({}).previous_key_until is None


@pytest.mark.parametrize("raw", ["tomorrow", "2026-12-01T10:25:00", "1764584700"])
def test_a_retirement_time_without_an_offset_stops_auth_at_start(raw):
    with pytest.raises(ConfigError, match="AUTH_PREVIOUS_KEY_UNTIL"):
        from_env({"AUTH_PREVIOUS_KEY_UNTIL": raw})


def test_the_previous_key_leaves_the_jwks_when_its_last_token_has_expired(keys, auth_files):
    """Published until AUTH_PREVIOUS_KEY_UNTIL (set by the stack past the last token the old
    key can have signed), then left out: web stops accepting it within its key-set refresh."""
    from web.tokens import InvalidToken

    now = [1_000.0]
    token_g1 = login(auth_of_generation(1, keys, auth_files))
    after = auth_of_generation(2, keys, auth_files, previous_until=2_000.0, clock=lambda: now[0])
    assert kids(after) == [keys[2][2], keys[1][2], keys[3][2]]
    assert web_verifier(RollingJwks(after)).verify(token_g1)["sub"] == "alice"
    now[0] = 2_000.0
    assert kids(after) == [keys[2][2], keys[3][2]]
    with pytest.raises(InvalidToken):
        web_verifier(RollingJwks(after)).verify(token_g1)


@pytest.mark.parametrize("content", [b"not a key", None])
def test_an_unusable_published_key_stops_auth_at_start(keys, auth_files, tmp_path, content):
    bad = tmp_path / "bad.pub.pem"
    if content is not None:
        bad.write_bytes(content)
    settings = Settings(signing_key_file=str(keys[1][0]), accounts_file=str(auth_files["accounts_path"]),
                        published_key_files=(str(bad),))
    with pytest.raises(ValueError, match="published key"):
        create_app(settings)


def test_a_private_key_or_another_curve_is_not_published(keys, tmp_path):
    with pytest.raises(ValueError, match="not a PEM public key"):
        load_published_key(str(keys[1][0]))
    other = tmp_path / "p384.pub.pem"
    other.write_bytes(ec.generate_private_key(ec.SECP384R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    with pytest.raises(ValueError, match="P-256"):
        load_published_key(str(other))


class RollingJwks:
    """auth's Service during a rollout: each JWKS fetch lands on the next pod in turn."""

    def __init__(self, *pods: TestClient):
        self.pods = itertools.cycle(pods)

    def __call__(self) -> dict:
        return next(self.pods).get("/.well-known/jwks.json").json()


def web_verifier(jwks):
    from web.tokens import TokenVerifier
    return TokenVerifier(jwks, ISSUER, AUDIENCE, min_refresh_interval=0)


@pytest.mark.parametrize(("web_fetches_from", "token_from"), [("old", "new"), ("new", "old")])
def test_during_a_rotation_tokens_of_either_generation_verify_whichever_pod_web_fetched_from(
        keys, auth_files, web_fetches_from, token_from):
    """Mid-rollout, web's JWKS fetches (its refresh on an unknown kid included) may all land on
    a pod of the other generation: the new key was published before it signed, the old one is
    still published after."""
    pods = {"old": auth_of_generation(1, keys, auth_files), "new": auth_of_generation(2, keys, auth_files)}
    verifier = web_verifier(RollingJwks(pods[web_fetches_from]))
    assert verifier.verify(login(pods[token_from]))["sub"] == "alice"


def test_a_rollout_behind_one_service_logs_no_one_out(keys, auth_files):
    old, new = auth_of_generation(1, keys, auth_files), auth_of_generation(2, keys, auth_files)
    verifier = web_verifier(RollingJwks(old, new))
    tokens = [login(old), login(new)]
    for round_ in range(4):
        for token in tokens:
            assert verifier.verify(token)["sub"] == "alice", round_
        verifier._last_success -= verifier.max_key_age + 1  # the next verify refetches (from the other pod)


def test_after_the_rotation_old_tokens_verify_until_the_next_one_retires_their_key(keys, auth_files):
    from web.tokens import InvalidToken

    token_g1 = login(auth_of_generation(1, keys, auth_files))
    after = auth_of_generation(2, keys, auth_files)
    assert web_verifier(RollingJwks(after)).verify(token_g1)["sub"] == "alice"
    # The next rotation takes key 1 out of the JWKS: its tokens no longer verify.
    retired = auth_of_generation(3, keys, auth_files)
    assert keys[1][2] not in kids(retired)
    with pytest.raises(InvalidToken):
        web_verifier(RollingJwks(retired)).verify(token_g1)


def test_raising_the_generation_by_two_retires_the_current_key_at_once(keys, auth_files):
    """The emergency path (a leaked key): generation 1 -> 3 publishes neither key 1 nor uses it."""
    from web.tokens import InvalidToken

    token_g1 = login(auth_of_generation(1, keys, auth_files))
    jumped = auth_of_generation(3, keys, auth_files)
    assert kids(jumped) == [keys[3][2], keys[2][2], keys[4][2]]
    with pytest.raises(InvalidToken):
        web_verifier(RollingJwks(jumped)).verify(token_g1)

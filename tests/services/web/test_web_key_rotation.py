"""web and auth's key rotation (issue 13, item 6), with a fake monotonic clock.

* a token signed with a new key is accepted at once (an unknown kid triggers a refresh);
* a flood of unknown kids still causes at most one JWKS fetch per second;
* a key gone from the JWKS stops verifying tokens, cached ones included;
* a token whose lifetime is longer than the maximum is refused.
"""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from cryptography.hazmat.primitives.asymmetric import ec

ISSUER, AUDIENCE = "griddb-todo-auth", "griddb-todo-web"


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture()
def rig(jwks_source):
    from web.app import create_app
    from web.settings import Settings
    from web.store import MemoryStore
    from web.tokens import TokenVerifier

    clock = FakeClock()
    verifier = TokenVerifier(jwks_source, ISSUER, AUDIENCE, clock=clock)
    client = TestClient(create_app(Settings(store="memory"), MemoryStore(), verifier))
    return client, clock, verifier


def status(client, token):
    return client.get("/api/todos", headers={"Authorization": f"Bearer {token}"}).status_code


def test_a_new_signing_key_is_accepted_at_once(rig, minter, jwks_source, new_minter):
    client, clock, _ = rig
    assert status(client, minter.token()) == 200
    assert jwks_source.calls == 1
    clock.now += 5  # well inside the old 30 s refresh interval
    rotated = new_minter()
    jwks_source.keys = [minter.jwk, rotated.jwk]
    assert status(client, rotated.token()) == 200
    assert jwks_source.calls == 2


def test_unknown_kids_cause_at_most_one_fetch_per_second(rig, minter, jwks_source):
    client, clock, _ = rig
    assert status(client, minter.token()) == 200
    stranger = ec.generate_private_key(ec.SECP256R1())
    clock.now += 2
    for i in range(30):
        assert status(client, minter.token(key=stranger, kid=f"forged-{i}")) == 401
    assert jwks_source.calls == 2  # one refresh for the whole burst
    clock.now += 0.5
    for i in range(10):
        status(client, minter.token(key=stranger, kid=f"again-{i}"))
    assert jwks_source.calls == 2
    clock.now += 1.0
    status(client, minter.token(key=stranger, kid="later"))
    assert jwks_source.calls == 3
    # known keys never wait for or cause a fetch
    assert status(client, minter.token()) == 200 and jwks_source.calls == 3


def test_a_retired_key_stops_verifying_even_cached_tokens(rig, minter, jwks_source, new_minter):
    client, clock, verifier = rig
    old_token = minter.token()
    assert status(client, old_token) == 200  # verified and cached
    rotated = new_minter()
    jwks_source.keys = [rotated.jwk]  # auth retired the old key
    # the next refresh (here: triggered by the new key's first token) drops the old key ...
    clock.now += 2
    assert status(client, rotated.token()) == 200
    # ... and the cached old token is refused at once
    assert status(client, old_token) == 401


def test_keys_are_refetched_when_the_cache_is_old(rig, minter, jwks_source, new_minter):
    client, clock, verifier = rig
    old_token = minter.token()
    assert status(client, old_token) == 200
    jwks_source.keys = [new_minter().jwk]
    clock.now += verifier.max_key_age + 1
    assert status(client, old_token) == 401
    assert jwks_source.calls == 2


def test_a_stale_cache_is_kept_while_auth_is_down(rig, minter, jwks_source):
    client, clock, verifier = rig
    assert status(client, minter.token()) == 200
    jwks_source.fail = True
    clock.now += verifier.max_key_age + 1
    assert status(client, minter.token()) == 200  # no outage because auth blinked


@pytest.mark.parametrize("lifetime", [86400 + 600, 100 * 365 * 86400])
def test_tokens_living_longer_than_the_maximum_are_refused(rig, minter, lifetime):
    client, _, _ = rig
    now = int(time.time())
    assert status(client, minter.token(iat=now, exp=now + lifetime)) == 401
    # also when iat is back-dated so exp - iat looks short
    assert status(client, minter.token(iat=now + lifetime - 600, exp=now + lifetime)) == 401
    assert status(client, minter.token(iat=now, exp=now + 86400)) == 200

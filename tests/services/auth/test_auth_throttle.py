"""auth: failed-login throttling that strangers cannot turn against users (issue 13, item 4).

Sources are client addresses. Limits: per (source, username) pair, per source (all names),
and per account a delay (not a refusal) that a correct password from an unthrottled source
still passes. The clock and the delay's sleep are fakes, so nothing here waits for real.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from auth.app import create_app
from auth.lockout import Lockout
from auth.settings import Settings, from_env

TRUSTED = "X-Todo-Client-Address"


def cheap(password: str) -> str:
    import bcrypt
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()


class Rig:
    def __init__(self, auth_files, accounts=None, **limits):
        import json
        # cost-4 hashes: these tests count answers, not time
        accounts = accounts or {"alice": cheap("alice-pass"), "bob": cheap("bob-pass")}
        auth_files["accounts_path"].write_text(json.dumps(accounts))
        self.now = 1000.0
        self.slept = []
        self.lockout = Lockout(clock=lambda: self.now, **limits)
        settings = Settings(signing_key_file=str(auth_files["key_path"]),
                            accounts_file=str(auth_files["accounts_path"]),
                            trusted_client_header=TRUSTED)
        self.client = TestClient(create_app(settings, lockout=self.lockout, sleep=self._sleep))

    async def _sleep(self, seconds):
        self.slept.append(seconds)

    def login(self, user, password, source):
        r = self.client.post("/token", json={"username": user, "password": password},
                             headers={TRUSTED: source})
        return r


@pytest.fixture()
def rig(auth_files):
    return Rig(auth_files)


def test_a_stranger_cannot_keep_the_right_password_out(rig):
    """The issue's attack: 5 failures, then one more each time Retry-After passes."""
    stranger, alice = "198.51.100.66", "203.0.113.10"
    refused = 0
    for round_ in range(12):
        for _ in range(5 if round_ == 0 else 1):
            r = rig.login("alice", "guess", stranger)
        if r.status_code == 429:
            rig.now += int(r.headers["retry-after"])
        else:
            rig.now += 1
        for _ in range(7):  # the real user keeps logging in meanwhile
            if rig.login("alice", "alice-pass", alice).status_code != 200:
                refused += 1
            rig.now += 1
    assert refused == 0
    assert max(rig.slept) <= 5  # the account delay: slower, never refused


def test_the_source_that_fails_is_refused_for_that_name(rig):
    codes = [rig.login("alice", "guess", "198.51.100.66").status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]
    r = rig.login("alice", "alice-pass", "198.51.100.66")
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0


def test_a_spraying_source_is_refused_for_every_name(rig):
    spray = "198.51.100.99"
    codes = [rig.login(f"user{i}", "Summer2026!", spray).status_code for i in range(40)]
    assert codes.count(401) == rig.lockout.source_max_failures
    assert codes[-1] == 429
    # another source is not affected
    assert rig.login("bob", "bob-pass", "203.0.113.20").status_code == 200


def test_many_users_behind_one_address_are_not_locked_out_by_a_stranger_there(auth_files):
    users = {f"staff{i}": cheap("alice-pass") for i in range(8)}
    rig = Rig(auth_files, accounts=users)
    office = "192.0.2.1"
    for name in users:  # everyone in the office logged in before
        assert rig.login(name, "alice-pass", office).status_code == 200
    rig.now += 60
    # a stranger in the same office sprays every name and more, then hammers staff0
    for i in range(60):
        rig.login(f"user{i}", "guess", office)
    for _ in range(10):
        rig.login("staff0", "guess", office)
    for name in users:
        r = rig.login(name, "alice-pass", office)
        if name == "staff0":
            # targeted from the same address: refused there for the window, fine elsewhere
            assert r.status_code == 429
            assert rig.login(name, "alice-pass", "203.0.113.50").status_code == 200
        else:
            assert r.status_code == 200, name
    # a wrong password from an office regular is still refused like a throttled one
    assert rig.login("staff1", "typo", office).status_code in (401, 429)


def test_the_account_delay_applies_to_every_source_and_grows(rig):
    for i in range(8):
        rig.login("alice", "guess", f"198.51.100.{i}")
    assert rig.slept and rig.slept == sorted(rig.slept)
    rig.slept.clear()
    assert rig.login("alice", "alice-pass", "203.0.113.10").status_code == 200
    assert rig.slept and 0 < rig.slept[0] <= 5
    # a success clears the account's failures: no more delay
    rig.slept.clear()
    assert rig.login("alice", "alice-pass", "203.0.113.10").status_code == 200
    assert rig.slept == []


def test_the_client_header_is_trusted_only_when_configured(auth_files):
    settings = Settings(signing_key_file=str(auth_files["key_path"]),
                        accounts_file=str(auth_files["accounts_path"]))
    c = TestClient(create_app(settings))
    # without the setting, a client cannot dodge the limit by inventing addresses
    codes = [c.post("/token", json={"username": "alice", "password": "x"},
                    headers={TRUSTED: f"198.51.100.{i}"}).status_code for i in range(6)]
    assert codes[-1] == 429
    assert from_env({"AUTH_TRUSTED_CLIENT_HEADER": TRUSTED}).trusted_client_header == TRUSTED
    assert from_env({}).trusted_client_header is None


def test_ipv6_sources_are_counted_per_64_prefix(rig):
    codes = [rig.login("alice", "guess", f"2001:db8:1:2::{i:x}").status_code for i in range(6)]
    assert codes[-1] == 429

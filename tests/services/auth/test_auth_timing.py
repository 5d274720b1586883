"""auth: an unknown username costs what a real account's check costs (issue 13, item 3)."""

from __future__ import annotations

import json
import statistics
import time

import bcrypt
import pytest
from argon2 import PasswordHasher, extract_parameters

from auth.accounts import AccountStore


def store_with(tmp_path, accounts: dict) -> AccountStore:
    p = tmp_path / "accounts.json"
    p.write_text(json.dumps(accounts))
    return AccountStore(str(p))


def hashes_checked(monkeypatch, store, username):
    import auth.accounts as mod
    seen = []
    real = mod.verify_password
    monkeypatch.setattr(mod, "verify_password", lambda pw, h: seen.append(h) or real(pw, h))
    assert store.check(username, "wrong") is False
    return seen


def test_unknown_users_are_checked_with_the_accounts_bcrypt_cost(tmp_path, monkeypatch):
    h12 = bcrypt.hashpw(b"pw", bcrypt.gensalt(12)).decode()
    store = store_with(tmp_path, {"carol": h12})
    (dummy,) = hashes_checked(monkeypatch, store, "nobody")
    assert dummy.startswith("$2b$12$") and dummy != h12


def test_unknown_users_are_checked_with_the_accounts_argon2_parameters(tmp_path, monkeypatch):
    real = PasswordHasher(time_cost=4, memory_cost=32768, parallelism=2).hash("pw")
    store = store_with(tmp_path, {"dave": real})
    (dummy,) = hashes_checked(monkeypatch, store, "nobody")
    assert dummy.startswith("$argon2id$") and dummy != real
    assert extract_parameters(dummy) == extract_parameters(real)


def test_mixed_accounts_an_unknown_name_always_costs_the_same(tmp_path, monkeypatch):
    """With several schemes, each unknown name is mapped (by a keyed hash) to one account's
    parameters, so asking twice for the same name costs the same both times."""
    accounts = {"a": bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode(),
                "b": PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("pw")}
    store = store_with(tmp_path, accounts)
    kinds = set()
    for name in [f"ghost{i}" for i in range(40)]:
        first = hashes_checked(monkeypatch, store, name)
        monkeypatch.undo()
        again = hashes_checked(monkeypatch, store, name)
        monkeypatch.undo()
        assert first == again
        kinds.add(first[0][:4])
    assert kinds == {"$2b$", "$arg"}  # both schemes are used for unknown names


def median_ms(fn, n):
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return statistics.median(out)


@pytest.mark.parametrize("scheme", ["bcrypt12", "argon2id"])
def test_wrong_password_and_unknown_user_take_the_same_time(tmp_path, scheme):
    h = (bcrypt.hashpw(b"pw", bcrypt.gensalt(12)).decode() if scheme == "bcrypt12"
         else PasswordHasher().hash("pw"))
    store = store_with(tmp_path, {"carol": h})
    known, unknown = [], []
    for i in range(9):  # interleaved, so machine load hits both alike
        known.append(median_ms(lambda: store.check("carol", "wrong"), 1))
        unknown.append(median_ms(lambda: store.check(f"nobody{i}", "wrong"), 1))
    # The fastest of each: the work's own cost, where a median still carries what other
    # processes took from this CPU (it failed once with a cluster busy beside it).
    k, u = min(known), min(unknown)
    assert abs(k - u) / k < 0.25, f"known {k:.0f} ms, unknown {u:.0f} ms"

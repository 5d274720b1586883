"""Median time of POST /token for a wrong password on a real account and for an unknown name.

    .venv/bin/python tools/bench/login_timing.py [--n 30]

In-process (FastAPI TestClient), throttling off, requests interleaved so machine load hits
both alike. Accounts: bcrypt cost 12 (what `python -m auth.hashpw` makes) and argon2id with
argon2-cffi's defaults, each measured on its own accounts file. Prints one line per scheme.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "services/auth"))

import bcrypt  # noqa: E402
from argon2 import PasswordHasher  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from auth.app import create_app  # noqa: E402
from auth.lockout import Lockout  # noqa: E402
from auth.settings import Settings  # noqa: E402


def client_for(tmp: Path, stored_hash: str) -> TestClient:
    key = tmp / "key.pem"
    key.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    accounts = tmp / "accounts.json"
    accounts.write_text(json.dumps({"carol": stored_hash}))
    settings = Settings(signing_key_file=str(key), accounts_file=str(accounts))
    try:  # throttling off (the per-source limit exists since issue 13)
        lockout = Lockout(max_failures=10**9, source_max_failures=10**9, delay_after=10**9)
    except TypeError:
        lockout = Lockout(max_failures=10**9)
    return TestClient(create_app(settings, lockout=lockout))


def timed(c: TestClient, username: str) -> float:
    t = time.perf_counter()
    r = c.post("/token", json={"username": username, "password": "wrong password"})
    elapsed = (time.perf_counter() - t) * 1000
    assert r.status_code == 401, r.text
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=30)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # one "login failed" line per request otherwise
    schemes = {"bcrypt cost 12": bcrypt.hashpw(b"pw", bcrypt.gensalt(12)).decode(),
               "argon2id defaults": PasswordHasher().hash("pw")}
    for label, stored in schemes.items():
        with tempfile.TemporaryDirectory() as tmp:
            c = client_for(Path(tmp), stored)
            timed(c, "carol"), timed(c, "warmup")
            known, unknown = [], []
            for i in range(args.n):
                known.append(timed(c, "carol"))
                unknown.append(timed(c, f"nobody{i}"))
            k, u = statistics.median(known), statistics.median(unknown)
            print(f"{label}: wrong password {k:.0f} ms, unknown user {u:.0f} ms "
                  f"(medians of {args.n}; unknown/known {u / k:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The documented hash command: python -m auth.hashpw reads the password from stdin/prompt."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

from auth.accounts import hash_kind, parse_accounts, verify_password


def run_hashpw(args, stdin):
    return subprocess.run([sys.executable, "-m", "auth.hashpw", *args], input=stdin,
                          capture_output=True, text=True, cwd=ROOT / "services/auth", timeout=60)


@pytest.mark.parametrize("scheme,kind", [("bcrypt", "bcrypt"), ("argon2id", "argon2id")])
def test_hash_from_stdin_verifies_and_is_accepted_by_the_accounts_file(scheme, kind):
    r = run_hashpw(["--scheme", scheme], "correct horse battery\n")
    assert r.returncode == 0, r.stderr
    h = r.stdout.strip()
    assert hash_kind(h) == kind
    assert "correct horse" not in r.stdout
    assert verify_password("correct horse battery", h)
    assert not verify_password("correct horse battery\n", h)
    assert parse_accounts('{"alice": "%s"}' % h) == {"alice": h}


def test_password_is_not_accepted_on_the_command_line():
    r = run_hashpw(["secret-on-argv"], "")
    assert r.returncode != 0
    assert "unrecognized arguments" in r.stderr


def test_empty_password_is_refused():
    r = run_hashpw([], "\n")
    assert r.returncode == 1 and "empty password" in r.stderr

"""Accounts: a JSON object {"username": "<bcrypt or argon2id hash>"} from a mounted file.

Plain-text passwords are refused: every value must look like a bcrypt ($2a$/$2b$/$2y$) or an
argon2id ($argon2id$) hash. The file is re-read when its modification time changes (a mounted
Secret is updated in place by the kubelet), keeping the last good copy if a new one is broken.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading

import bcrypt
from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

log = logging.getLogger("auth.accounts")

BCRYPT_RE = re.compile(r"^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$")
ARGON2ID_RE = re.compile(r"^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$")
USERNAME_RE = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")

_argon2 = PasswordHasher()


class AccountsError(ValueError):
    pass


def hash_kind(value: str) -> str | None:
    if BCRYPT_RE.match(value):
        return "bcrypt"
    if ARGON2ID_RE.match(value):
        return "argon2id"
    return None


def parse_accounts(text: str, source: str = "accounts file") -> dict[str, str]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AccountsError(f"{source} is not valid JSON (line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise AccountsError(f"{source} must hold a JSON object of username -> hash")
    accounts: dict[str, str] = {}
    for user, value in data.items():
        if not USERNAME_RE.match(user):
            raise AccountsError(f"{source}: username {user!r} is not allowed ([A-Za-z0-9._@-], 1-64)")
        if not isinstance(value, str) or hash_kind(value) is None:
            # Never echo the value: it might be a plain password someone put there by mistake.
            raise AccountsError(
                f"{source}: the entry for {user!r} is not a bcrypt ($2a$/$2b$/$2y$) or "
                "argon2id hash; plain-text passwords are not accepted"
            )
        accounts[user] = value
    return accounts


def verify_password(password: str, stored_hash: str) -> bool:
    """Constant-time check of password against a bcrypt or argon2id hash."""
    pw = password.encode("utf-8")
    kind = hash_kind(stored_hash)
    if kind == "bcrypt":
        if len(pw) > 72:
            # bcrypt only looks at 72 bytes; a longer password never matches rather than
            # silently matching on its prefix. Still spend the same work.
            bcrypt.checkpw(pw[:72], stored_hash.encode("ascii"))
            return False
        return bcrypt.checkpw(pw, stored_hash.encode("ascii"))
    if kind == "argon2id":
        try:
            return _argon2.verify(stored_hash, pw)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
    return False


def _cost_key(stored_hash: str) -> tuple:
    """What a hash's check costs: bcrypt's cost, or argon2's parameters (salt aside)."""
    if hash_kind(stored_hash) == "bcrypt":
        return ("bcrypt", int(stored_hash[4:6]))
    p = extract_parameters(stored_hash)
    return ("argon2id", p.time_cost, p.memory_cost, p.parallelism, p.hash_len, p.salt_len, p.version)


def dummy_like(stored_hash: str) -> str:
    """A hash of a random secret that costs exactly what checking stored_hash costs."""
    secret = secrets.token_bytes(16)
    if hash_kind(stored_hash) == "bcrypt":
        cost = int(stored_hash[4:6])
        return bcrypt.hashpw(secret, bcrypt.gensalt(cost)).decode("ascii")
    return PasswordHasher.from_parameters(extract_parameters(stored_hash)).hash(secret)


# With no accounts at all, unknown users cost what `python -m auth.hashpw` makes by default.
DEFAULT_DUMMY_COST = 12


class AccountStore:
    """Thread-safe view of the accounts file, reloaded when the file changes."""

    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()
        self._accounts: dict[str, str] = {}
        self._stamp: tuple[int, int] | None = None
        self.healthy = False
        # Per process: maps an unknown name to a dummy hash, and keys the hashes of unknown
        # names in the log (the same name, the same hash, within this process).
        self._key = secrets.token_bytes(32)
        self._dummy_cache: dict[tuple, str] = {}
        self._dummies: list[str] = []
        self.reload_if_changed(initial=True)

    def _build_dummies(self, accounts: dict[str, str]) -> list[str]:
        """One dummy per account, in the account's own scheme and cost, so that the time of
        an unknown name's check is drawn from the same spread as the real accounts' times."""
        out = []
        for user in sorted(accounts):
            key = _cost_key(accounts[user])
            if key not in self._dummy_cache:
                self._dummy_cache[key] = dummy_like(accounts[user])
            out.append(self._dummy_cache[key])
        if not out:
            out.append(bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(DEFAULT_DUMMY_COST)).decode())
        return out

    def _keyed(self, label: bytes, username: str) -> bytes:
        return hmac.new(self._key, label + username.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()

    def name_hash(self, username: str) -> str:
        """What the log shows instead of a name that is not an account (it may be a password)."""
        return self._keyed(b"log:", username).hex()[:16]

    def is_account(self, username: str) -> bool:
        return username in self._accounts

    def _dummy_for(self, username: str) -> str:
        # the same unknown name always meets the same dummy, so asking twice costs the same
        dummies = self._dummies
        return dummies[int.from_bytes(self._keyed(b"dummy:", username)[:8], "big") % len(dummies)]

    def _stat(self) -> tuple[int, int]:
        st = os.stat(self.path)
        return (st.st_mtime_ns, st.st_size)

    def reload_if_changed(self, initial: bool = False) -> None:
        try:
            stamp = self._stat()
        except OSError as exc:
            if initial:
                raise AccountsError(f"cannot read accounts file {self.path}: {exc.strerror}") from None
            if self.healthy:
                log.error("accounts file unreadable", extra={"fields": {"path": self.path}})
            self.healthy = False
            return
        if stamp == self._stamp:
            return
        with self._lock:
            if stamp == self._stamp:
                return
            try:
                with open(self.path, encoding="utf-8") as fh:
                    accounts = parse_accounts(fh.read(), self.path)
            except (OSError, AccountsError, UnicodeDecodeError) as exc:
                if initial:
                    raise AccountsError(str(exc)) from None
                log.error("accounts file rejected, keeping the previous accounts",
                          extra={"fields": {"path": self.path, "reason": str(exc)}})
                self._stamp = stamp
                return
            self._dummies = self._build_dummies(accounts)
            self._accounts = accounts
            self._stamp = stamp
            self.healthy = True
            log.info("accounts loaded", extra={"fields": {"path": self.path, "count": len(accounts)}})

    def check(self, username: str, password: str) -> bool:
        self.reload_if_changed()
        stored = self._accounts.get(username)
        if stored is None:
            verify_password(password, self._dummy_for(username))
            return False
        return verify_password(password, stored)

"""Configuration from the environment (names are the contract in docs/interfaces.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    port: int = 2828
    signing_key_file: str = "/etc/griddb-todo/auth/signing/private.pem"
    accounts_file: str = "/etc/griddb-todo/auth/accounts/accounts.json"
    token_ttl_seconds: int = 900
    issuer: str = "griddb-todo-auth"
    audience: str = "griddb-todo-web"
    # Lockout: this many failed logins for one username within the window -> 429 until the
    # oldest failure leaves the window. Constants, not env: the contract has no such variables.
    lockout_max_failures: int = 5
    lockout_window_seconds: int = 300


def _int(env: dict[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name}={value} is out of range [{lo}, {hi}]")
    return value


def from_env(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    d = Settings()
    return Settings(
        port=_int(env, "AUTH_PORT", d.port, 1, 65535),
        signing_key_file=env.get("AUTH_SIGNING_KEY_FILE") or d.signing_key_file,
        accounts_file=env.get("AUTH_ACCOUNTS_FILE") or d.accounts_file,
        token_ttl_seconds=_int(env, "AUTH_TOKEN_TTL_SECONDS", d.token_ttl_seconds, 30, 86400),
        issuer=env.get("TOKEN_ISSUER") or d.issuer,
        audience=env.get("TOKEN_AUDIENCE") or d.audience,
    )

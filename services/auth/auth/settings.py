"""Configuration from the environment (names are the contract in docs/interfaces.md)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    port: int = 2828
    metrics_port: int = 9090  # Prometheus metrics, on their own port
    signing_key_file: str = "/etc/griddb-todo/auth/signing/private.pem"
    accounts_file: str = "/etc/griddb-todo/auth/accounts/accounts.json"
    token_ttl_seconds: int = 900
    issuer: str = "griddb-todo-auth"
    audience: str = "griddb-todo-web"
    # Lockout: this many failed logins for one username within the window -> 429 until the
    # oldest failure leaves the window. Constants, not env: the contract has no such variables.
    lockout_max_failures: int = 5
    lockout_window_seconds: int = 300
    # The request header holding the client's address, set by web (AUTH_TRUSTED_CLIENT_HEADER).
    # None: throttle on the peer address. Set it only where nothing but web can reach auth
    # (the NetworkPolicy), since whoever can send it chooses the address counted.
    trusted_client_header: str | None = None
    # Public keys (PEM files) published in the JWKS beside the signing key's: the rotation's
    # next key (AUTH_PUBLISHED_KEY_FILES, comma-separated).
    published_key_files: tuple[str, ...] = ()
    # The key signing before the last rotation (AUTH_PREVIOUS_KEY_FILE): published, so that its
    # tokens verify, until previous_key_until (AUTH_PREVIOUS_KEY_UNTIL, RFC 3339; the stack sets
    # it past the last token that key can have signed), then left out. None: no end.
    previous_key_file: str = ""
    previous_key_until: float | None = None


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


def _instant(env: dict[str, str], name: str) -> float | None:
    """An RFC 3339 time with its offset (e.g. 2026-12-02T12:00:00Z) as Unix seconds."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise ConfigError(f"{name}={raw!r} is not an RFC 3339 time with an offset, e.g. 2026-12-02T12:00:00Z")
    return when.timestamp()


HEADER_RE = re.compile(r"^[A-Za-z0-9-]{1,64}$")


def _header_name(env: dict[str, str], name: str) -> str | None:
    raw = env.get(name) or None
    if raw is not None and not HEADER_RE.match(raw):
        raise ConfigError(f"{name}={raw!r} is not an HTTP header name (letters, digits, '-')")
    return raw


def from_env(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    d = Settings()
    port = _int(env, "AUTH_PORT", d.port, 1, 65535)
    metrics_port = _int(env, "AUTH_METRICS_PORT", d.metrics_port, 1, 65535)
    if metrics_port == port:
        raise ConfigError(f"AUTH_METRICS_PORT={metrics_port} is AUTH_PORT too: metrics need their own port")
    return Settings(
        port=port,
        metrics_port=metrics_port,
        signing_key_file=env.get("AUTH_SIGNING_KEY_FILE") or d.signing_key_file,
        accounts_file=env.get("AUTH_ACCOUNTS_FILE") or d.accounts_file,
        token_ttl_seconds=_int(env, "AUTH_TOKEN_TTL_SECONDS", d.token_ttl_seconds, 30, 86400),
        issuer=env.get("TOKEN_ISSUER") or d.issuer,
        audience=env.get("TOKEN_AUDIENCE") or d.audience,
        trusted_client_header=_header_name(env, "AUTH_TRUSTED_CLIENT_HEADER"),
        published_key_files=tuple(p.strip() for p in env.get("AUTH_PUBLISHED_KEY_FILES", "").split(",") if p.strip()),
        previous_key_file=env.get("AUTH_PREVIOUS_KEY_FILE", "").strip(),
        previous_key_until=_instant(env, "AUTH_PREVIOUS_KEY_UNTIL"),
    )

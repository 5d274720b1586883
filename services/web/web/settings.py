"""Configuration from the environment (names are the contract in docs/interfaces.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    port: int = 8080
    metrics_port: int = 9090  # Prometheus metrics, on their own port: never the public one
    auth_url: str = "http://auth:2828"
    issuer: str = "griddb-todo-auth"
    audience: str = "griddb-todo-web"
    store: str = "griddb"
    griddb_notification_member: str = ""
    griddb_cluster_name: str = ""
    griddb_username: str = ""
    griddb_password: str = ""

    def __repr__(self) -> str:  # never print the GridDB password
        return (f"Settings(port={self.port}, metrics_port={self.metrics_port}, auth_url={self.auth_url!r}, store={self.store!r}, "
                f"griddb_notification_member={self.griddb_notification_member!r}, "
                f"griddb_cluster_name={self.griddb_cluster_name!r})")


def _port(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name) or str(default)
    try:
        port = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if not 1 <= port <= 65535:
        raise ConfigError(f"{name}={port} is out of range [1, 65535]")
    return port


def from_env(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    d = Settings()
    port = _port(env, "WEB_PORT", d.port)
    metrics_port = _port(env, "WEB_METRICS_PORT", d.metrics_port)
    if metrics_port == port:
        raise ConfigError(f"WEB_METRICS_PORT={metrics_port} is WEB_PORT too: metrics need their own port")
    store = env.get("TODO_STORE") or d.store
    if store not in ("griddb", "memory"):
        raise ConfigError(f"TODO_STORE={store!r}: allowed values are 'griddb' and 'memory'")
    s = Settings(
        port=port,
        metrics_port=metrics_port,
        auth_url=(env.get("AUTH_URL") or d.auth_url).rstrip("/"),
        issuer=env.get("TOKEN_ISSUER") or d.issuer,
        audience=env.get("TOKEN_AUDIENCE") or d.audience,
        store=store,
        griddb_notification_member=env.get("GRIDDB_NOTIFICATION_MEMBER", ""),
        griddb_cluster_name=env.get("GRIDDB_CLUSTER_NAME", ""),
        griddb_username=env.get("GRIDDB_USERNAME", ""),
        griddb_password=env.get("GRIDDB_PASSWORD", ""),
    )
    if store == "griddb":
        missing = [name for name, value in (
            ("GRIDDB_NOTIFICATION_MEMBER", s.griddb_notification_member),
            ("GRIDDB_CLUSTER_NAME", s.griddb_cluster_name),
            ("GRIDDB_USERNAME", s.griddb_username),
            ("GRIDDB_PASSWORD", s.griddb_password)) if not value]
        if missing:
            raise ConfigError(f"TODO_STORE=griddb needs {', '.join(missing)}")
    return s

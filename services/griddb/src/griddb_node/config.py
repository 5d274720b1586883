"""Render the GridDB node configuration from the environment and the pod's current IP.

Pure Python, no GridDB needed: the entrypoint calls `settings_from_env` and
`write_config` on every start, so a pod that comes back on a new IP with old data
on its volume gets a config that names its current address (the original set-up
wrote it only on first start and kept the stale IP).

Paths follow docs/interfaces.md: the claim is mounted at STORAGE_DIR and holds
`data/` and `txnlog/` (both must survive a restart: a data file without its
transaction logs is refused on start); conf/ and log/ are emptyDirs; scratch
space goes to /tmp.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
from dataclasses import dataclass
from typing import Dict, Mapping

GS_HOME = "/var/lib/gridstore"
CONF_DIR = GS_HOME + "/conf"
LOG_DIR = GS_HOME + "/log"
STORAGE_DIR = GS_HOME + "/storage"
DATA_DIR = STORAGE_DIR + "/data"
TXNLOG_DIR = STORAGE_DIR + "/txnlog"
SCRATCH_DIR = "/tmp/griddb"
# CE has no online backup to keep; gs_backup output would go to scratch space
BACKUP_DIR = SCRATCH_DIR + "/backup"
SYNC_TEMP_DIR = SCRATCH_DIR + "/sync"
SQL_SWAP_DIR = SCRATCH_DIR + "/swap"

# Ports (docs/interfaces.md). Fixed, because the Service and NetworkPolicy name them.
PORTS = {
    "cluster": 10010,
    "sync": 10020,
    "system": 10040,
    "transaction": 10001,
    "sql": 20001,
}

# Both are fixed once a database exists (GridDB refuses to start with other values
# on existing data), so they are constants here, never settings.
PARTITION_NUM = 128
STORE_BLOCK_SIZE = "64KB"

CONFIG_FILES = ("gs_cluster.json", "gs_node.json", "password")

_CLUSTER_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
# gs_adduser accepts the reserved administrators and names starting with gs#.
_USERNAME_RE = re.compile(r"^(admin|system|gs#[A-Za-z0-9_]+)$")
_RESERVED_ADMINS = ("admin", "system")


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    cluster_name: str
    username: str
    password: str
    pod_ip: str
    log_write_mode: int = 0

    def __repr__(self) -> str:  # never print the password
        return (
            f"Settings(cluster_name={self.cluster_name!r}, username={self.username!r}, "
            f"password='***', pod_ip={self.pod_ip!r}, log_write_mode={self.log_write_mode})"
        )


def _require(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "")
    if value == "":
        raise ConfigError(f"{name} is required and is empty or not set")
    return value


def parse_pod_ip(value: str, name: str = "POD_IP") -> str:
    try:
        ip = ipaddress.ip_address(value.strip())
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not an IP address") from None
    if ip.version != 4:
        raise ConfigError(f"{name}={value!r}: GridDB's fixed list needs an IPv4 address")
    if ip.is_unspecified or ip.is_multicast:
        raise ConfigError(f"{name}={value!r} is not a usable node address")
    return str(ip)


def settings_from_env(env: Mapping[str, str], pod_ip: str | None = None) -> Settings:
    """Validate the environment (docs/interfaces.md, griddb section).

    `pod_ip` overrides POD_IP (the entrypoint passes a detected address when
    POD_IP is absent, e.g. under plain `docker run`).
    """
    cluster_name = _require(env, "GRIDDB_CLUSTER_NAME")
    if not _CLUSTER_NAME_RE.match(cluster_name):
        raise ConfigError(
            f"GRIDDB_CLUSTER_NAME={cluster_name!r}: use 1-64 letters, digits or '_', "
            "not starting with a digit"
        )

    member = env.get("NOTIFICATION_MEMBER", "1")
    if member.strip() != "1":
        raise ConfigError(
            f"NOTIFICATION_MEMBER={member!r}: GridDB CE in FIXED_LIST mode supports exactly "
            "one member; only '1' is allowed"
        )

    username = _require(env, "GRIDDB_USERNAME")
    if not _USERNAME_RE.match(username):
        raise ConfigError(
            f"GRIDDB_USERNAME={username!r}: an administrator is 'admin', 'system' or "
            "'gs#' followed by letters, digits or '_'"
        )
    password = _require(env, "GRIDDB_PASSWORD")
    if any(c in password for c in "\r\n\0"):
        raise ConfigError("GRIDDB_PASSWORD must not contain line breaks or NUL")

    if pod_ip is None:
        pod_ip = _require(env, "POD_IP")
    pod_ip = parse_pod_ip(pod_ip)

    mode_raw = env.get("GRIDDB_LOG_WRITE_MODE", "0").strip() or "0"
    if mode_raw not in ("0", "1"):
        raise ConfigError(
            f"GRIDDB_LOG_WRITE_MODE={mode_raw!r}: use 0 (flush the transaction log on every "
            "commit, the safe default) or 1 (once a second)"
        )

    return Settings(
        cluster_name=cluster_name,
        username=username,
        password=password,
        pod_ip=pod_ip,
        log_write_mode=int(mode_raw),
    )


def cluster_config(s: Settings) -> dict:
    """gs_cluster.json: FIXED_LIST with this pod as the one member."""
    member = {
        service: {"address": s.pod_ip, "port": port} for service, port in PORTS.items()
    }
    return {
        "dataStore": {"partitionNum": PARTITION_NUM, "storeBlockSize": STORE_BLOCK_SIZE},
        "cluster": {
            "clusterName": s.cluster_name,
            "replicationNum": 2,
            "heartbeatInterval": "5s",
            "loadbalanceCheckInterval": "180s",
            "notificationMember": [member],
        },
        "sync": {"timeoutInterval": "30s"},
        "transaction": {"replicationMode": 0, "replicationTimeoutInterval": "10s"},
        "sql": {},
    }


def node_config(s: Settings) -> dict:
    """gs_node.json: absolute paths (conf/ is not next to the data), pod IP as service address."""
    return {
        "serviceAddress": s.pod_ip,
        "dataStore": {
            "dbPath": DATA_DIR,
            "transactionLogPath": TXNLOG_DIR,
            "backupPath": BACKUP_DIR,
            "syncTempPath": SYNC_TEMP_DIR,
            "storeMemoryLimit": "256MB",
            "storeCompressionMode": "NO_COMPRESSION",
            "concurrency": 4,
            "logWriteMode": s.log_write_mode,
            "persistencyMode": "NORMAL",
            "affinityGroupSize": 4,
        },
        "checkpoint": {"checkpointInterval": "300s"},
        "cluster": {"servicePort": PORTS["cluster"]},
        "sync": {"servicePort": PORTS["sync"]},
        "system": {"servicePort": PORTS["system"], "eventLogPath": LOG_DIR},
        "transaction": {"servicePort": PORTS["transaction"], "connectionLimit": 5000},
        "sql": {
            "servicePort": PORTS["sql"],
            "storeSwapFilePath": SQL_SWAP_DIR,
            "storeSwapSyncSize": "1024MB",
            "storeMemoryLimit": "256MB",
            "workMemoryLimit": "32MB",
            "workCacheMemory": "128MB",
            "connectionLimit": 5000,
            "concurrency": 4,
        },
        "trace": {
            "default": "LEVEL_ERROR",
            "checkpointService": "LEVEL_INFO",
            "logManager": "LEVEL_WARNING",
            "systemService": "LEVEL_INFO",
            "recoveryManager": "LEVEL_INFO",
            "clusterOperation": "LEVEL_INFO",
            "sqlService": "LEVEL_WARNING",
            "eventEngine": "LEVEL_WARNING",
            "ioMonitor": "LEVEL_WARNING",
        },
    }


def password_file(s: Settings) -> str:
    """conf/password as gs_passwd writes it: CSV `user,sha256-hex` per administrator.

    The reserved administrators that are not configured keep an empty digest (no
    password matches it), as in GridDB's shipped file.
    """
    digest = hashlib.sha256(s.password.encode("utf-8")).hexdigest()
    rows = [(s.username, digest)]
    rows += [(name, "") for name in _RESERVED_ADMINS if name != s.username]
    return "".join(f"{user},{value}\n" for user, value in rows)


def render(s: Settings) -> Dict[str, str]:
    """File name -> content for every file in conf/."""
    return {
        "gs_cluster.json": json.dumps(cluster_config(s), indent=2) + "\n",
        "gs_node.json": json.dumps(node_config(s), indent=2) + "\n",
        "password": password_file(s),
    }


def write_config(conf_dir: str, s: Settings) -> Dict[str, str]:
    """Write every config file atomically (0600: the password file holds a digest).

    Overwrites what a previous start left, so the current IP and settings always win.
    Returns the rendered files.
    """
    files = render(s)
    os.makedirs(conf_dir, exist_ok=True)
    for name, content in files.items():
        path = os.path.join(conf_dir, name)
        tmp = path + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    return files

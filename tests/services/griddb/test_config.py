"""The GridDB node's config rendering: given env and IP, the files a restarted pod needs."""

from __future__ import annotations

import hashlib
import json
import os
import stat

import pytest

from griddb_node import config

ENV = {
    "GRIDDB_CLUSTER_NAME": "myCluster",
    "NOTIFICATION_MEMBER": "1",
    "GRIDDB_USERNAME": "admin",
    "GRIDDB_PASSWORD": "s3cret,with:odd/chars",
    "POD_IP": "10.42.0.17",
}


def rendered(tmp_path, env=None, **kw):
    s = config.settings_from_env(env or ENV, **kw)
    conf = tmp_path / "conf"
    config.write_config(str(conf), s)
    cluster = json.loads((conf / "gs_cluster.json").read_text())
    node = json.loads((conf / "gs_node.json").read_text())
    password = (conf / "password").read_text()
    return conf, cluster, node, password


def test_fixed_list_names_this_pod_on_every_port(tmp_path):
    _, cluster, node, _ = rendered(tmp_path)
    members = cluster["cluster"]["notificationMember"]
    assert members == [{
        "cluster": {"address": "10.42.0.17", "port": 10010},
        "sync": {"address": "10.42.0.17", "port": 10020},
        "system": {"address": "10.42.0.17", "port": 10040},
        "transaction": {"address": "10.42.0.17", "port": 10001},
        "sql": {"address": "10.42.0.17", "port": 20001},
    }]
    assert cluster["cluster"]["clusterName"] == "myCluster"
    # FIXED_LIST: no multicast settings anywhere
    assert "notificationAddress" not in json.dumps(cluster)
    assert node["serviceAddress"] == "10.42.0.17"


def test_restart_on_new_ip_rewrites_old_config(tmp_path):
    """The original fault: config written once, stale IP after a restart."""
    rendered(tmp_path)
    (tmp_path / "conf" / "gs_node.json").write_text('{"serviceAddress": "10.42.0.17"}')
    _, cluster, node, _ = rendered(tmp_path, env={**ENV, "POD_IP": "10.42.3.99"})
    assert node["serviceAddress"] == "10.42.3.99"
    addresses = {m["address"] for m in cluster["cluster"]["notificationMember"][0].values()}
    assert addresses == {"10.42.3.99"}
    assert "10.42.0.17" not in json.dumps([cluster, node])
    assert not list((tmp_path / "conf").glob("*.tmp"))


def test_data_and_txnlog_both_on_the_volume_with_absolute_paths(tmp_path):
    _, _, node, _ = rendered(tmp_path)
    ds = node["dataStore"]
    assert ds["dbPath"] == "/var/lib/gridstore/storage/data"
    assert ds["transactionLogPath"] == "/var/lib/gridstore/storage/txnlog"
    assert node["system"]["eventLogPath"] == "/var/lib/gridstore/log"
    # scratch space is not on the read-only root nor on the claim
    for path in (ds["syncTempPath"], ds["backupPath"], node["sql"]["storeSwapFilePath"]):
        assert path.startswith("/tmp/")


def test_log_write_mode_defaults_to_flush_on_every_commit(tmp_path):
    env = {k: v for k, v in ENV.items()}
    _, _, node, _ = rendered(tmp_path, env=env)
    assert node["dataStore"]["logWriteMode"] == 0
    _, _, node, _ = rendered(tmp_path, env={**ENV, "GRIDDB_LOG_WRITE_MODE": "1"})
    assert node["dataStore"]["logWriteMode"] == 1
    _, _, node, _ = rendered(tmp_path, env={**ENV, "GRIDDB_LOG_WRITE_MODE": ""})
    assert node["dataStore"]["logWriteMode"] == 0


def test_password_file_holds_only_a_digest_and_is_private(tmp_path):
    conf, _, _, password = rendered(tmp_path)
    digest = hashlib.sha256(ENV["GRIDDB_PASSWORD"].encode()).hexdigest()
    assert password.splitlines() == [f"admin,{digest}", "system,"]
    for name in config.CONFIG_FILES:
        text = (conf / name).read_text()
        assert ENV["GRIDDB_PASSWORD"] not in text
        assert stat.S_IMODE(os.stat(conf / name).st_mode) == 0o600


def test_other_administrator_gets_the_digest(tmp_path):
    _, _, _, password = rendered(tmp_path, env={**ENV, "GRIDDB_USERNAME": "gs#todo_app"})
    digest = hashlib.sha256(ENV["GRIDDB_PASSWORD"].encode()).hexdigest()
    assert password.splitlines() == [f"gs#todo_app,{digest}", "admin,", "system,"]


def test_database_shape_is_constant(tmp_path):
    """partitionNum/storeBlockSize cannot change once data exists: never from the env."""
    _, cluster, _, _ = rendered(tmp_path, env={**ENV, "GRIDDB_PARTITION_NUM": "7"})
    assert cluster["dataStore"] == {"partitionNum": 128, "storeBlockSize": "64KB"}


def test_pod_ip_argument_overrides_env(tmp_path):
    env = {k: v for k, v in ENV.items() if k != "POD_IP"}
    _, _, node, _ = rendered(tmp_path, env=env, pod_ip="172.28.5.3")
    assert node["serviceAddress"] == "172.28.5.3"


@pytest.mark.parametrize("change, names", [
    ({"GRIDDB_CLUSTER_NAME": ""}, "GRIDDB_CLUSTER_NAME"),
    ({"GRIDDB_CLUSTER_NAME": "my cluster"}, "GRIDDB_CLUSTER_NAME"),
    ({"GRIDDB_CLUSTER_NAME": "9lives"}, "GRIDDB_CLUSTER_NAME"),
    ({"NOTIFICATION_MEMBER": "3"}, "NOTIFICATION_MEMBER"),
    ({"GRIDDB_USERNAME": "bob"}, "GRIDDB_USERNAME"),
    ({"GRIDDB_PASSWORD": ""}, "GRIDDB_PASSWORD"),
    ({"GRIDDB_PASSWORD": "a\nb"}, "GRIDDB_PASSWORD"),
    ({"POD_IP": ""}, "POD_IP"),
    ({"POD_IP": "griddb-0"}, "POD_IP"),
    ({"POD_IP": "fd00::5"}, "POD_IP"),
    ({"POD_IP": "0.0.0.0"}, "POD_IP"),
    ({"GRIDDB_LOG_WRITE_MODE": "2"}, "GRIDDB_LOG_WRITE_MODE"),
    ({"GRIDDB_LOG_WRITE_MODE": "safe"}, "GRIDDB_LOG_WRITE_MODE"),
])
def test_bad_settings_name_the_variable(change, names):
    with pytest.raises(config.ConfigError) as e:
        config.settings_from_env({**ENV, **change})
    assert names in str(e.value)


def test_settings_repr_hides_password():
    s = config.settings_from_env(ENV)
    assert ENV["GRIDDB_PASSWORD"] not in repr(s)
    assert ENV["GRIDDB_PASSWORD"] not in str(s)

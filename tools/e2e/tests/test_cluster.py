"""Checks that the e2e cluster made by tools/e2e/up can run what griddb-todo needs.

Run after `tools/e2e/up` (as root):  python3 -m pytest -v tools/e2e/tests
Each test drives the real cluster with kubectl and looks at the result from the outside, the way
the Pulumi end-to-end tests will: a pod from our python base image runs, a Service name resolves
through CoreDNS, a NetworkPolicy really drops traffic, a LoadBalancer and a NodePort Service answer
from the host, a hostPath PersistentVolume binds to a claim with an explicit storageClassName.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

STATE = Path(os.environ.get("GRIDDB_TODO_CLUSTER_STATE", "/var/lib/griddb-todo-e2e"))


def _cluster_env() -> dict[str, str]:
    env_file = STATE / "cluster.env"
    if not env_file.exists():
        pytest.fail(f"{env_file} missing: run tools/e2e/up first", pytrace=False)
    pairs = (line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line and not line.startswith("#"))
    return {k: v for k, v in pairs}


ENV = _cluster_env()
NS = f"e2e-cluster-{uuid.uuid4().hex[:6]}"
PY_IMAGE = ENV["PYTHON_BASE_IMAGE"]
LB_PORT = 18080  # not 8080: griddb-todo's own web Service may hold that port on this cluster


def kubectl(*args: str, stdin: str | None = None, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    cmd = [ENV["KUBECTL"], "--kubeconfig", ENV["KUBECONFIG"], *args]
    proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def apply(manifest: dict) -> None:
    kubectl("apply", "-f", "-", stdin=json.dumps(manifest))


def wait_until(what: str, predicate, timeout: float = 120, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def run_pod(name: str, code: str, timeout: float = 120) -> tuple[str, str]:
    """Run `python3 -c code` in a one-shot pod from the python base image; return (phase, logs)."""
    apply(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": NS, "labels": {"role": "client"}},
            "spec": {
                "restartPolicy": "Never",
                "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001},
                "containers": [
                    {
                        "name": "main",
                        "image": PY_IMAGE,
                        "imagePullPolicy": "Always",
                        "command": ["python3", "-c", code],
                        "securityContext": {
                            "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]},
                            "seccompProfile": {"type": "RuntimeDefault"},
                        },
                    }
                ],
            },
        }
    )

    def finished():
        phase = kubectl("-n", NS, "get", "pod", name, "-o", "jsonpath={.status.phase}").stdout
        return phase if phase in ("Succeeded", "Failed") else None

    phase = wait_until(f"pod {name} to finish", finished, timeout=timeout)
    logs = kubectl("-n", NS, "logs", name).stdout
    return phase, logs


@pytest.fixture(scope="module", autouse=True)
def namespace():
    kubectl("create", "namespace", NS)
    yield NS
    kubectl("delete", "namespace", NS, "--wait=false", check=False)


@pytest.fixture(scope="module")
def web_server(namespace):
    """A python http.server Deployment behind a ClusterIP Service named `hello`."""
    labels = {"app": "hello"}
    apply(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "hello", "namespace": NS},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001},
                        "containers": [
                            {
                                "name": "http",
                                "image": PY_IMAGE,
                                "command": ["python3", "-m", "http.server", "8080", "--directory", "/etc"],
                                "ports": [{"containerPort": 8080}],
                                "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1},
                            }
                        ],
                    },
                },
            },
        }
    )
    apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "hello", "namespace": NS},
            "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]},
        }
    )
    kubectl("-n", NS, "rollout", "status", "deploy/hello", "--timeout=180s", timeout=200)
    return kubectl("-n", NS, "get", "svc", "hello", "-o", "jsonpath={.spec.clusterIP}").stdout


FETCH_HELLO = """
import socket, sys, urllib.request
ip = socket.gethostbyname("hello.{ns}.svc.cluster.local")
print("resolved", ip)
try:
    body = urllib.request.urlopen("http://hello/hostname", timeout=5).read().decode().strip()
    print("reached", body)
except Exception as exc:
    print("blocked", type(exc).__name__)
"""


def test_pod_from_python_base_image_runs():
    phase, logs = run_pod("python-version", "import ssl, sys; print(sys.version.split()[0], ssl.OPENSSL_VERSION)")
    assert phase == "Succeeded", logs
    assert logs.startswith("3.12."), logs


def test_service_name_resolves_through_coredns(web_server):
    phase, logs = run_pod("dns-client", FETCH_HELLO.format(ns=NS))
    assert phase == "Succeeded", logs
    assert f"resolved {web_server}" in logs
    assert "reached hello-" in logs  # /etc/hostname of the server pod: traffic went through the Service


def test_network_policy_denying_ingress_blocks_connections(web_server):
    phase, before = run_pod("np-before", FETCH_HELLO.format(ns=NS))
    assert "reached hello-" in before, before
    apply(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "deny-hello-ingress", "namespace": NS},
            "spec": {"podSelector": {"matchLabels": {"app": "hello"}}, "policyTypes": ["Ingress"]},
        }
    )
    time.sleep(3)  # kube-router syncs policies on watch events; give it a moment
    phase, after = run_pod("np-after", FETCH_HELLO.format(ns=NS))
    assert "blocked" in after and "reached" not in after, after
    kubectl("-n", NS, "delete", "networkpolicy", "deny-hello-ingress")
    phase, again = wait_until(
        "traffic to flow again after deleting the policy",
        lambda: (lambda r: r if "reached hello-" in r[1] else None)(run_pod(f"np-again-{uuid.uuid4().hex[:4]}", FETCH_HELLO.format(ns=NS))),
        timeout=60,
    )
    assert "reached hello-" in again


def _http_get(url: str) -> str | None:
    try:
        return urllib.request.urlopen(url, timeout=3).read().decode()
    except OSError:
        return None


def test_loadbalancer_and_nodeport_services_answer_from_the_host(web_server):
    apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "hello-lb", "namespace": NS},
            "spec": {"type": "LoadBalancer", "selector": {"app": "hello"}, "ports": [{"port": LB_PORT, "targetPort": 8080}]},
        }
    )
    ip = wait_until(
        "a load-balancer ingress IP",
        lambda: kubectl("-n", NS, "get", "svc", "hello-lb", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}").stdout,
        timeout=60,
    )
    assert ip == ENV["NODE_IP"]
    body = wait_until(f"http://{ip}:{LB_PORT}/hostname", lambda: _http_get(f"http://{ip}:{LB_PORT}/hostname"), timeout=60)
    assert body.startswith("hello-")
    # Like k3s' ServiceLB, one port has one owner: a newer LoadBalancer on the same port gets no address.
    apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "hello-lb-same-port", "namespace": NS},
            "spec": {"type": "LoadBalancer", "selector": {"app": "hello"}, "ports": [{"port": LB_PORT, "targetPort": 8080}]},
        }
    )
    time.sleep(6)  # lb-status looks every 2 s
    second = kubectl("-n", NS, "get", "svc", "hello-lb-same-port", "-o", "jsonpath={.status.loadBalancer.ingress}").stdout
    assert second == "", second
    kubectl("-n", NS, "delete", "svc", "hello-lb-same-port")
    node_port = kubectl("-n", NS, "get", "svc", "hello-lb", "-o", "jsonpath={.spec.ports[0].nodePort}").stdout
    lo, hi = (int(p) for p in ENV["NODE_PORT_RANGE"].split("-"))
    assert lo <= int(node_port) <= hi
    body = wait_until("the NodePort", lambda: _http_get(f"http://{ENV['NODE_IP']}:{node_port}/hostname"), timeout=60)
    assert body.startswith("hello-")


def test_hostpath_volume_binds_claim_with_explicit_storage_class(tmp_path_factory):
    host_dir = Path(f"/var/lib/griddb-todo-e2e/test-volumes/{NS}")
    pv_name = f"{NS}-pv"
    apply(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": pv_name},
            "spec": {
                "capacity": {"storage": "2Gi"},
                "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": "standard",
                "hostPath": {"path": str(host_dir), "type": "DirectoryOrCreate"},
            },
        }
    )
    try:
        apply(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": "data", "namespace": NS},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": "standard",
                    "volumeName": pv_name,
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            }
        )
        wait_until(
            "the claim to bind",
            lambda: kubectl("-n", NS, "get", "pvc", "data", "-o", "jsonpath={.status.phase}").stdout == "Bound",
            timeout=60,
        )
        apply(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "writer", "namespace": NS},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "main",
                            "image": PY_IMAGE,
                            "command": ["python3", "-c", "open('/data/proof.txt','w').write('written in a pod')"],
                            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                        }
                    ],
                    "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
                },
            }
        )
        wait_until(
            "the writer pod",
            lambda: kubectl("-n", NS, "get", "pod", "writer", "-o", "jsonpath={.status.phase}").stdout == "Succeeded",
        )
        assert (host_dir / "proof.txt").read_text() == "written in a pod"
    finally:
        kubectl("-n", NS, "delete", "pod", "writer", "--ignore-not-found", check=False)
        kubectl("-n", NS, "delete", "pvc", "data", "--ignore-not-found", check=False)
        kubectl("delete", "pv", pv_name, "--ignore-not-found", check=False)

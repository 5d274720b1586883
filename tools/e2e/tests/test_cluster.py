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


def python_pod(name: str, code: str, claim: str | None = None) -> dict:
    """A hardened one-shot pod running `python3 -c code` from the python base image; with `claim`,
    that claim is mounted at /data."""
    container = {
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
    spec = {
        "restartPolicy": "Never",
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001},
        "containers": [container],
    }
    if claim:
        container["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
        spec["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "labels": {"role": "client"}},
        "spec": spec,
    }


def run_pod(name: str, code: str, timeout: float = 120) -> tuple[str, str]:
    """Run `python3 -c code` in a one-shot pod from the python base image; return (phase, logs)."""
    apply(python_pod(name, code))

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
    cluster_ip = kubectl("-n", NS, "get", "svc", "hello", "-o", "jsonpath={.spec.clusterIP}").stdout
    wait_for_kube_proxy(cluster_ip, 80)
    return cluster_ip


def wait_for_kube_proxy(cluster_ip: str, port: int) -> None:
    """Wait until kube-proxy routes CLUSTER_IP:PORT to an endpoint.

    `rollout status` returning means the pod is Ready, not that kube-proxy has programmed it:
    the EndpointSlice controller and kube-proxy's next sync follow (kube-proxy's own
    kubeproxy_network_programming_duration_seconds measured 1-5 s here under load). Until then
    the Service sits in kube-proxy's no-endpoint-services map, whose verdict is a reject: a
    client started at once got "Connection refused" (tools/e2e/README.md, "Pitfalls"). This
    waits for that precondition, not for the assertion: the test's own pod still has one try.
    """
    entry = f"{cluster_ip} . tcp . {port} :"
    started = time.monotonic()

    def programmed():
        maps = subprocess.run(["nft", "list", "map", "ip", "kube-proxy", "service-ips"],
                              capture_output=True, text=True, timeout=10).stdout
        return entry in maps or None

    wait_until(f"kube-proxy to route {cluster_ip}:{port} to an endpoint", programmed, timeout=60, interval=0.2)
    print(f"kube-proxy routed {cluster_ip}:{port} {time.monotonic() - started:.1f} s after the rollout finished")


FETCH_HELLO = """
import socket, sys, urllib.request
ip = socket.gethostbyname("hello.{ns}.svc.cluster.local")
print("resolved", ip)
try:
    body = urllib.request.urlopen("http://hello/hostname", timeout=5).read().decode().strip()
    print("reached", body)
except Exception as exc:
    print("blocked", type(exc).__name__, exc)  # the reason, should it ever fail again
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


def _host_path_of(pv_name: str) -> Path:
    spec = json.loads(kubectl("get", "pv", pv_name, "-o", "json").stdout)["spec"]
    source = spec.get("hostPath") or spec.get("local")
    return Path(source["path"])


def _pod_phase(name: str) -> str:
    return kubectl("-n", NS, "get", "pod", name, "-o", "jsonpath={.status.phase}").stdout


def test_default_storage_class_is_k3s_local_path():
    classes = json.loads(kubectl("get", "storageclass", "-o", "json").stdout)["items"]
    defaults = [
        c for c in classes
        if c["metadata"].get("annotations", {}).get("storageclass.kubernetes.io/is-default-class") == "true"
    ]
    assert [c["metadata"]["name"] for c in defaults] == ["local-path"]
    (local_path,) = defaults
    assert local_path["provisioner"] == "rancher.io/local-path"
    assert local_path["volumeBindingMode"] == "WaitForFirstConsumer"
    assert local_path["reclaimPolicy"] == "Delete"


def test_claim_without_class_is_provisioned_keeps_data_and_is_removed_with_the_claim():
    claim = "dynamic"
    apply(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": claim, "namespace": NS},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "64Mi"}}},
        }
    )
    got = json.loads(kubectl("-n", NS, "get", "pvc", claim, "-o", "json").stdout)
    assert got["spec"]["storageClassName"] == "local-path"  # the default class was given to it
    # WaitForFirstConsumer: no volume until a pod uses the claim.
    assert got["status"].get("phase") == "Pending"

    apply(python_pod("dyn-writer", "open('/data/proof.txt', 'w').write('kept across pods')", claim))
    wait_until("the writer pod", lambda: _pod_phase("dyn-writer") == "Succeeded", timeout=120)
    pv_name = kubectl("-n", NS, "get", "pvc", claim, "-o", "jsonpath={.spec.volumeName}").stdout
    assert pv_name, "the claim was not bound to a provisioned volume"
    host_dir = _host_path_of(pv_name)
    assert host_dir.is_relative_to(STATE / "local-path"), host_dir
    assert (host_dir / "proof.txt").read_text() == "kept across pods"

    # The writer is gone; a new pod on the same claim reads what it wrote.
    kubectl("-n", NS, "delete", "pod", "dyn-writer", "--wait=true")
    apply(python_pod("dyn-reader", "print(open('/data/proof.txt').read())", claim))
    wait_until("the reader pod", lambda: _pod_phase("dyn-reader") in ("Succeeded", "Failed"), timeout=120)
    assert _pod_phase("dyn-reader") == "Succeeded"
    assert kubectl("-n", NS, "logs", "dyn-reader").stdout.strip() == "kept across pods"

    # reclaimPolicy Delete: deleting the claim deletes the volume and its directory on the node.
    kubectl("-n", NS, "delete", "pod", "dyn-reader", "--wait=true")
    kubectl("-n", NS, "delete", "pvc", claim, "--wait=true")
    wait_until(
        f"volume {pv_name} to be deleted",
        lambda: kubectl("get", "pv", pv_name, check=False).returncode != 0,
        timeout=120,
    )
    wait_until(f"{host_dir} to be removed", lambda: not host_dir.exists(), timeout=60)


def _push_to_auth_registry(tmp_path: Path) -> str:
    """Push the python base image to the registry that wants credentials; return its reference."""
    registry = ENV["E2E_AUTH_REGISTRY"]
    image = f"{registry}/{NS}/python:probe"
    docker_env = {**os.environ, "DOCKER_CONFIG": str(tmp_path / "docker")}  # never touch the user's login
    login = subprocess.run(
        ["docker", "login", registry, "--username", ENV["E2E_AUTH_REGISTRY_USER"], "--password-stdin"],
        input=ENV["E2E_AUTH_REGISTRY_PASSWORD"], capture_output=True, text=True, env=docker_env,
    )
    assert login.returncode == 0, login.stderr
    for cmd in (["docker", "pull", "-q", PY_IMAGE], ["docker", "tag", PY_IMAGE, image], ["docker", "push", "-q", image]):
        done = subprocess.run(cmd, capture_output=True, text=True, env=docker_env)
        assert done.returncode == 0, f"{' '.join(cmd)}: {done.stderr}"
    return image


def test_registry_with_logins_refuses_anonymous_pulls_and_serves_a_pod_with_a_pull_secret(tmp_path):
    image = _push_to_auth_registry(tmp_path)

    def pod(name: str, pull_secret: str | None) -> dict:
        spec = {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": image, "imagePullPolicy": "Always",
                            "command": ["python3", "-c", "print('pulled with a login')"]}],
        }
        if pull_secret:
            spec["imagePullSecrets"] = [{"name": pull_secret}]
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS}, "spec": spec}

    apply(pod("anonymous-pull", None))

    def waiting_reason():
        statuses = json.loads(kubectl("-n", NS, "get", "pod", "anonymous-pull", "-o", "json").stdout)["status"]
        for status in statuses.get("containerStatuses", []):
            reason = status.get("state", {}).get("waiting", {}).get("reason")
            if reason in ("ErrImagePull", "ImagePullBackOff"):
                return reason
        return None

    assert wait_until("the anonymous pull to be refused", waiting_reason, timeout=90)
    events = kubectl("-n", NS, "get", "events", "--field-selector", "involvedObject.name=anonymous-pull").stdout
    assert "401 Unauthorized" in events or "authorization failed" in events or "no basic auth credentials" in events, events

    kubectl("-n", NS, "create", "secret", "docker-registry", "auth-registry",
            f"--docker-server={ENV['E2E_AUTH_REGISTRY']}", f"--docker-username={ENV['E2E_AUTH_REGISTRY_USER']}",
            f"--docker-password={ENV['E2E_AUTH_REGISTRY_PASSWORD']}")
    apply(pod("authenticated-pull", "auth-registry"))
    wait_until("the pod with a pull secret", lambda: _pod_phase("authenticated-pull") in ("Succeeded", "Failed"), timeout=120)
    assert _pod_phase("authenticated-pull") == "Succeeded"
    assert kubectl("-n", NS, "logs", "authenticated-pull").stdout.strip() == "pulled with a login"

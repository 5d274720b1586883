"""What a managed cluster needs beyond k3s: pulling from a private registry, nodes of the images'
architecture, an explicit cluster and storage class, load-balancer annotations; and the e2e
stack that runs that path on the local cluster."""

import base64
import json
import subprocess

import pytest
import yaml

from components import image, standins, workload
from components.registry import docker_config_json
from harness import CLOUD_FILLED_IN, CLOUD_SECRETS, ROOT, run_program


def pod_specs(run):
    return {r.outputs["metadata"]["name"]: r.inputs["spec"]["template"]["spec"]
            for r in run.k8s_objects() if r.kind in ("Deployment", "StatefulSet")}


def pull_secrets(run):
    return [r for r in run.k8s_objects() if r.kind == "Secret" and r.inputs.get("type") == "kubernetes.io/dockerconfigjson"]


# --- image pull secret ---------------------------------------------------------------------

def test_registry_credentials_become_a_pull_secret_every_pod_uses(cloud_run):
    (secret,) = pull_secrets(cloud_run)
    assert ".dockerconfigjson" in secret.inputs["stringData"]
    assert "stringData" in secret.secret_paths  # the token never in plain text in the state
    document = json.loads(secret.inputs["stringData"][".dockerconfigjson"])
    entry = document["auths"]["registry.example.com"]  # the server, without the /acme path
    assert entry["username"] == "robot" and entry["password"] == CLOUD_SECRETS["registryPassword"]
    assert base64.b64decode(entry["auth"]).decode() == f"robot:{CLOUD_SECRETS['registryPassword']}"
    name = secret.outputs["metadata"]["name"]
    specs = pod_specs(cloud_run)
    assert set(specs) == {"griddb", "auth", "web"}
    for workload_name, spec in specs.items():
        assert spec["imagePullSecrets"] == [{"name": name}], workload_name


def test_no_pull_secret_without_registry_credentials(dev_run):
    assert pull_secrets(dev_run) == []
    for spec in pod_specs(dev_run).values():
        assert "imagePullSecrets" not in spec


def test_docker_config_json_is_what_the_kubelet_reads():
    document = json.loads(docker_config_json("ghcr.io", "u", "p:w"))
    # auth is base64("user:password"), split at the first ':' by the kubelet.
    assert document == {"auths": {"ghcr.io": {"username": "u", "password": "p:w", "auth": "dTpwOnc="}}}


# --- architecture ----------------------------------------------------------------------------

def test_every_pod_runs_on_nodes_of_the_images_architecture(every_run):
    for name, spec in pod_specs(every_run).items():
        assert spec["nodeSelector"] == {"kubernetes.io/arch": "amd64"}, name
    # The same architecture the images are built for.
    assert image.PLATFORM == f"linux/{workload.NODE_ARCH}"


# --- web Service annotations -----------------------------------------------------------------

def test_web_service_annotations_come_from_config():
    wanted = {"service.beta.kubernetes.io/aws-load-balancer-ssl-cert": "arn:aws:acm:eu-west-1:1:certificate/x",
              "service.beta.kubernetes.io/aws-load-balancer-ssl-ports": "8080"}
    run = run_program("cloud", {**CLOUD_FILLED_IN, "webServiceAnnotations": wanted}, CLOUD_SECRETS)
    # The given annotations, beside the wait for the load balancer's address (workload.service).
    assert run.kube("Service", "web").inputs["metadata"]["annotations"] == {
        **wanted, "pulumi.com/waitFor": "jsonpath={.status.loadBalancer.ingress}"}
    # Only the web Service: auth and GridDB are not behind the load balancer.
    for other in ("auth", "griddb"):
        assert not set(wanted) & set(run.kube("Service", other).inputs["metadata"].get("annotations") or {})


def test_a_wait_of_the_users_own_replaces_the_address_wait():
    wanted = {"pulumi.com/waitFor": "jsonpath={.status.loadBalancer.ingress[0].hostname}"}
    run = run_program("cloud", {**CLOUD_FILLED_IN, "webServiceAnnotations": wanted}, CLOUD_SECRETS)
    assert run.kube("Service", "web").inputs["metadata"]["annotations"] == wanted


def test_no_web_service_annotations_by_default(cloud_run):
    # Only the wait for the load balancer's address (workload.service), nothing of the cloud's.
    assert cloud_run.kube("Service", "web").inputs["metadata"]["annotations"] == {
        "pulumi.com/waitFor": "jsonpath={.status.loadBalancer.ingress}"}


# --- the e2e cloud stack -----------------------------------------------------------------------

def stack_file(stack):
    return yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]


def test_e2e_cloud_stack_takes_the_cloud_path_beside_the_e2e_stack():
    cloud, k3s = stack_file("e2e-cloud"), stack_file("e2e")
    assert cloud["griddb-todo:platform"] == "cloud"
    assert cloud["griddb-todo:griddbStorageClass"] == "local-path"
    assert cloud["griddb-todo:kubeContext"]
    assert "griddb-todo:griddbHostPath" not in cloud
    # Both stacks can exist at once: their own namespace and load-balancer port.
    assert cloud["griddb-todo:namespace"] != k3s["griddb-todo:namespace"]
    assert int(cloud["griddb-todo:webPort"]) != int(k3s["griddb-todo:webPort"])
    assert cloud["griddb-todo:providerStandIns"] == ["docker"]


def test_no_stack_file_holds_a_secret():
    from components.settings import SECRET_KEYS

    for path in ROOT.glob("Pulumi.*.yaml"):
        keys = {k.split(":", 1)[1] for k in (yaml.safe_load(path.read_text()).get("config") or {})}
        assert not keys & set(SECRET_KEYS), path.name


def test_e2e_cloud_stand_in_logs_in_to_the_registry(e2e_cloud_run):
    from harness import E2E_CLOUD_REGISTRY, E2E_CLOUD_SECRETS

    images = e2e_cloud_run.of_type("pulumi-python:dynamic:Resource")
    assert sorted(i.name for i in images) == ["auth-image", "griddb-image", "web-image"]
    for stand_in in images:
        login = stand_in.inputs["registry"]
        assert login["server"] == E2E_CLOUD_REGISTRY["registry"]
        assert login["username"] == E2E_CLOUD_REGISTRY["registryUsername"]
        assert login["password"] == E2E_CLOUD_SECRETS["registryPassword"]
        assert "registry.password" in stand_in.secret_paths
    assert len(pull_secrets(e2e_cloud_run)) == 1


def test_stand_in_push_logs_in_through_stdin_in_a_throwaway_config(monkeypatch):
    calls = []

    def fake_run(command, capture_output, text, input=None):
        calls.append((command, input))
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(standins.subprocess, "run", fake_run)
    standins._push("reg.example:5001/web:e2e", {"server": "reg.example:5001", "username": "u", "password": "s3cret"})
    (login, password), (push, _) = calls
    assert login[:2] == ["docker", "--config"] and "login" in login and "--password-stdin" in login
    assert "s3cret" not in " ".join(login) and password == "s3cret"
    assert push == ["docker", "--config", login[2], "push", "reg.example:5001/web:e2e"]
    calls.clear()
    standins._push("127.0.0.1:5000/web:e2e", None)
    assert calls == [(["docker", "push", "127.0.0.1:5000/web:e2e"], None)]


def test_stand_in_outputs_never_hold_the_registry_password():
    props = {"image_name": "x", "registry": {"server": "s", "username": "u", "password": "p"}}
    assert standins._without_password(props)["registry"] == {"server": "s", "username": "u"}
    assert props["registry"]["password"] == "p"  # the inputs keep it


@pytest.mark.parametrize("stack", ["cloud", "e2e-cloud"])
def test_cloud_stacks_name_their_kube_context(stack):
    from harness import E2E_CLOUD_REGISTRY, E2E_CLOUD_SECRETS

    overrides, secrets = (CLOUD_FILLED_IN, CLOUD_SECRETS) if stack == "cloud" else (E2E_CLOUD_REGISTRY, E2E_CLOUD_SECRETS)
    run = run_program(stack, overrides, secrets)
    (provider,) = run.of_type("pulumi:providers:kubernetes")
    assert provider.inputs["context"] == (CLOUD_FILLED_IN["kubeContext"] if stack == "cloud" else "griddb-todo-e2e")

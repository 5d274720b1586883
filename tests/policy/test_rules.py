"""The policy pack's rules (policy/rules.py), called directly: each refuses what it should, with a
message that names the container or object, and the program's own resources keep every rule on
every stack (a rule that flagged them would block every preview)."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "policy"))
sys.path.insert(0, str(ROOT / "tests" / "program"))
import harness  # noqa: E402
import rules  # noqa: E402

REGISTRY = "127.0.0.1:5000"
DIGEST = "@sha256:" + "ab" * 32
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def deployment(**container_changes) -> dict:
    container = {
        "name": "app",
        "image": f"{REGISTRY}/web{DIGEST}",
        "resources": {"limits": {"cpu": "1", "memory": "64Mi"}},
        "readinessProbe": {"httpGet": {"path": "/", "port": 80}},
        "livenessProbe": {"httpGet": {"path": "/", "port": 80}},
    }
    container.update(container_changes)
    container = {k: v for k, v in container.items() if v is not None}
    return {"spec": {"replicas": 1, "template": {"spec": {"containers": [container]}}}}


# --- images ---------------------------------------------------------------------------------

def test_an_image_from_the_stack_registry_by_digest_passes():
    assert rules.image_violations(DEPLOYMENT, deployment(), REGISTRY) == []


@pytest.mark.parametrize("image", [
    f"{REGISTRY}/web:latest",  # by tag
    f"{REGISTRY}/web",  # neither
    f"docker.io/library/web{DIGEST}",  # pinned, from elsewhere
    f"{REGISTRY}.evil.example/web{DIGEST}",  # a registry whose name merely starts the same
    f"{REGISTRY}/web@sha256:abc",  # not a sha256 digest
])
def test_other_images_are_refused(image):
    (message,) = rules.image_violations(DEPLOYMENT, deployment(image=image), REGISTRY)
    assert message.startswith(f"container app: image {image!r} is not from the stack registry {REGISTRY}")


def test_init_containers_and_every_kind_that_runs_pods_are_checked():
    props = deployment()
    props["spec"]["template"]["spec"]["initContainers"] = [{"name": "setup", "image": "busybox"}]
    assert rules.image_violations(DEPLOYMENT, props, REGISTRY)[0].startswith("init container setup")
    pod = {"spec": {"containers": [{"name": "x", "image": "busybox"}]}}
    assert rules.image_violations("kubernetes:core/v1:Pod", pod, REGISTRY)
    cron = {"spec": {"jobTemplate": {"spec": {"template": pod}}}}
    assert rules.image_violations("kubernetes:batch/v1:CronJob", cron, REGISTRY)


def test_a_parked_workload_may_keep_an_unbuilt_image_but_a_daemonset_may_not():
    parked = deployment(image="griddb/griddb:5.9.0-jammy")
    parked["spec"]["replicas"] = 0
    assert rules.image_violations("kubernetes:apps/v1:StatefulSet", parked, REGISTRY) == []
    # A DaemonSet has no replica count: zero would still run on every node.
    assert rules.image_violations("kubernetes:apps/v1:DaemonSet", parked, REGISTRY)


def test_an_image_unknown_during_preview_is_left_to_the_admission_policy():
    assert rules.image_violations(DEPLOYMENT, deployment(image=rules.UNKNOWN), REGISTRY) == []


# --- limits and probes ----------------------------------------------------------------------

def test_limits_are_required_on_containers_and_init_containers():
    assert rules.limit_violations(DEPLOYMENT, deployment()) == []
    assert rules.limit_violations(DEPLOYMENT, deployment(resources=None)) == ["container app: no cpu and no memory limit"]
    props = deployment()
    props["spec"]["template"]["spec"]["initContainers"] = [{"name": "setup", "resources": {"limits": {"cpu": "1"}}}]
    assert rules.limit_violations(DEPLOYMENT, props) == ["init container setup: no memory limit"]


def test_probes_are_required_on_containers_only():
    assert rules.probe_violations(DEPLOYMENT, deployment()) == []
    assert rules.probe_violations(DEPLOYMENT, deployment(livenessProbe=None)) == ["container app: no livenessProbe"]
    props = deployment()
    props["spec"]["template"]["spec"]["initContainers"] = [{"name": "setup"}]
    assert rules.probe_violations(DEPLOYMENT, props) == []


# --- services -------------------------------------------------------------------------------

@pytest.mark.parametrize("service_type", ["LoadBalancer", "NodePort"])
def test_only_web_may_be_public(service_type):
    def service(name):
        return {"metadata": {"name": name}, "spec": {"type": service_type}}

    kind = "kubernetes:core/v1:Service"
    assert rules.public_service_violations(kind, service("web"), ("web",)) == []
    assert rules.public_service_violations(kind, service("auth"), ("web",)) == [
        f"Service 'auth' is of type {service_type}: only web may be LoadBalancer or NodePort"]
    assert rules.public_service_violations(kind, {"metadata": {"name": "auth"}, "spec": {}}, ("web",)) == []


# --- secrets --------------------------------------------------------------------------------

def test_a_secret_named_env_var_must_come_from_a_secret():
    env = [{"name": "GRIDDB_PASSWORD", "value": "admin"}, {"name": "TOKEN_ISSUER", "value": "griddb-todo-auth"},
           {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "s", "key": "password"}}}]
    assert rules.plain_secret_violations(DEPLOYMENT, deployment(env=env)) == [
        "container app: env GRIDDB_PASSWORD holds its value in plain text (use valueFrom.secretKeyRef)"]


def test_secret_looking_configmap_keys_annotations_and_private_keys_are_refused():
    config_map = {"metadata": {"annotations": {"example.com/api-key": "k"}},
                  "data": {"api_key": "k", "log_level": "info"}}
    found = rules.plain_secret_violations("kubernetes:core/v1:ConfigMap", config_map)
    assert any("ConfigMap key 'api_key'" in m for m in found)
    assert any("annotation 'example.com/api-key'" in m for m in found)
    assert not any("log_level" in m for m in found)
    pem = "-----BEGIN EC PRIVATE KEY-----\nMHc...\n-----END EC PRIVATE KEY-----\n"
    assert rules.plain_secret_violations("docker:index/image:Image", {"buildArgs": {"KEY": pem}}) == [
        "buildArgs.KEY holds a private key in plain text"]
    # Where it belongs: a Kubernetes Secret, which pulumi-kubernetes always keeps as a Pulumi secret.
    assert rules.plain_secret_violations("kubernetes:core/v1:Secret", {"stringData": {"private.pem": pem}}) == []


# --- protection -----------------------------------------------------------------------------

def test_data_must_be_protected_except_on_dev_stacks():
    claim = "kubernetes:core/v1:PersistentVolumeClaim"
    assert rules.protection_violations(claim, False, "cloud", ("dev",)) == [
        "PersistentVolumeClaim holds data on stack 'cloud' and is not protected (set protectData: true): "
        "`pulumi destroy` would delete it"]
    assert rules.protection_violations(claim, True, "cloud", ("dev",)) == []
    assert rules.protection_violations(claim, False, "dev", ("dev",)) == []
    assert rules.protection_violations("kubernetes:apps/v1:StatefulSet", False, "cloud", ("dev",)) == []


def test_the_stack_is_read_from_the_urn():
    assert rules.stack_of("urn:pulumi:e2e-cloud::griddb-todo::kubernetes:core/v1:Namespace::app-namespace") == "e2e-cloud"


# --- the program keeps its own rules ----------------------------------------------------------

@pytest.fixture(scope="module", params=harness.STACKS)
def program(request):
    stack = request.param
    if stack == "cloud":
        return harness.run_program(stack, harness.CLOUD_FILLED_IN, harness.CLOUD_SECRETS)
    if stack == "e2e-cloud":
        return harness.run_program(stack, {**harness.E2E_CLOUD_REGISTRY, "griddbReplicas": 1}, harness.E2E_CLOUD_SECRETS)
    return harness.run_program(stack, {"griddbReplicas": 1} if stack == "e2e" else None)


def test_the_program_keeps_every_rule(program):
    registry = program.config["registry"]
    stack = program.urns[0].split("::", 1)[0].split(":", 2)[2]
    checked_images = 0
    for r in program.resources:
        if not r.custom:
            continue
        found = (rules.image_violations(r.type, r.inputs, registry) + rules.limit_violations(r.type, r.inputs)
                 + rules.probe_violations(r.type, r.inputs)
                 + rules.public_service_violations(r.type, r.inputs, ("web",))
                 + rules.plain_secret_violations(r.type, r.inputs)
                 + rules.protection_violations(r.type, r.protect, stack, ("dev",)))
        assert found == [], (r.type, r.name, found)
        spec, parked = rules.pod_spec(r.type, r.inputs)
        checked_images += len(spec["containers"]) if spec and not parked else 0
    assert checked_images == 3  # griddb, auth, web: the image rule judged each of them


def test_the_rules_see_what_the_program_would_break():
    """The same check, fed the program's own web Deployment with one convention broken: the rules
    are not vacuous on the program's real shape."""
    run = harness.run_program("e2e")
    (web,) = [r for r in run.resources if r.type == DEPLOYMENT and r.inputs["metadata"]["name"] == "web"]
    broken = copy.deepcopy(web.inputs)
    container = broken["spec"]["template"]["spec"]["containers"][0]
    container["image"] = container["image"].split("@")[0] + ":latest"
    container.pop("livenessProbe")
    container["env"].append({"name": "GRIDDB_PASSWORD", "value": "admin"})
    assert rules.image_violations(DEPLOYMENT, broken, run.config["registry"])
    assert rules.probe_violations(DEPLOYMENT, broken) == ["container web: no livenessProbe"]
    assert rules.plain_secret_violations(DEPLOYMENT, broken)

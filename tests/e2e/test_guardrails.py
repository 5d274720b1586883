"""The guardrails for real: the e2e cluster's API server refuses what breaks our conventions in the
stack's namespace, whoever applies it, with a message that says which rule and which container.

Each offending object differs from an accepted one (`probe_deployment`) in one thing, and the same
object is shown accepted (server-side dry run) where the rule does not apply, so a refusal for any
other reason would fail the test. The stack's own objects passing is the deployment itself
(test_deploy: `pulumi up` with the policies on, every workload ready).
"""

from __future__ import annotations

import copy
import json
import subprocess

import pytest

Project = "conftest.Project"  # the `project` fixture's type (tests/e2e/conftest.py)
PREFIX = "griddb-todo guardrail: "


def _apply(project: Project, manifest: dict, namespace: str, dry_run: bool = False) -> subprocess.CompletedProcess:
    command = ["kubectl", "apply", "-n", namespace, "-f", "-"] + (["--dry-run=server"] if dry_run else [])
    result = subprocess.run(command, input=json.dumps(manifest), env=project.env, capture_output=True,
                            text=True, timeout=120)
    print(f"$ {' '.join(command)}  # {manifest['kind']} {manifest['metadata']['name']}\n"
          f"  exit {result.returncode}: {(result.stdout + result.stderr).strip()[:600]}")
    return result


def _refused(project: Project, manifest: dict, policy: str, message: str) -> str:
    """Apply for real; assert the policy refused it with `message` and nothing was created."""
    result = _apply(project, manifest, project.namespace)
    assert result.returncode != 0, f"{manifest['kind']} {manifest['metadata']['name']} was accepted"
    assert f"ValidatingAdmissionPolicy '{project.namespace}.{policy}'" in result.stderr, result.stderr
    assert "denied request: " + PREFIX + message in result.stderr, result.stderr
    # Nothing was created.
    kind = manifest["kind"].lower()
    name = manifest["metadata"]["name"]
    assert project.kubectl("-n", project.namespace, "get", kind, name, "--ignore-not-found", "-o", "name") == ""
    return result.stderr


def _container(image: str, name: str = "probe") -> dict:
    return {
        "name": name,
        "image": image,
        "command": ["python", "-c", "import time; time.sleep(3600)"],
        "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True, "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}},
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}},
        "readinessProbe": {"exec": {"command": ["true"]}},
        "livenessProbe": {"exec": {"command": ["true"]}},
    }


def _pod_spec(image: str) -> dict:
    return {
        "automountServiceAccountToken": False,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [_container(image)],
    }


def _registry(image: str) -> str:
    return image.split("@")[0].rsplit("/", 1)[0]


@pytest.fixture(scope="module")
def pinned_image(project: Project) -> str:
    """An image that passes: the stack's own web image, from its registry, by digest. The stack
    is brought up first (a no-op after test_deploy) so this file also runs on its own."""
    project.pulumi("up", "--yes", "--skip-preview")
    image = project.output("images")["web"]
    assert "@sha256:" in image
    return image


@pytest.fixture(scope="module")
def probe_deployment(pinned_image: str) -> dict:
    """A Deployment every rule accepts; each test breaks one thing in a copy."""
    labels = {"app.kubernetes.io/name": "guardrail-probe"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "guardrail-probe", "labels": labels},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": _pod_spec(pinned_image)}},
    }


def _broken(manifest: dict, change) -> dict:
    broken = copy.deepcopy(manifest)
    change(broken["spec"]["template"]["spec"])
    return broken


def test_the_policies_exist_and_their_cel_type_checks(project: Project, pinned_image):
    policies = json.loads(project.kubectl("get", "validatingadmissionpolicies", "-o", "json"))["items"]
    ours = {p["metadata"]["name"]: p for p in policies if p["metadata"]["name"].startswith(project.namespace + ".")}
    assert set(ours) == {f"{project.namespace}.{s}" for s in
                         ("pods", "replicated", "daemonsets-and-jobs", "cronjobs", "services")}
    for name, policy in ours.items():
        # The API server type-checks every expression against each kind the policy matches.
        assert policy.get("status", {}).get("typeChecking", {}).get("expressionWarnings") in (None, []), (name, policy["status"])


def test_an_object_that_keeps_every_rule_is_accepted(project: Project, probe_deployment):
    result = _apply(project, probe_deployment, project.namespace, dry_run=True)
    assert result.returncode == 0, result.stderr


def test_an_image_by_tag_is_refused(project: Project, probe_deployment, pinned_image):
    by_tag = pinned_image.split("@")[0] + ":latest"
    manifest = _broken(probe_deployment, lambda pod: pod["containers"][0].update(image=by_tag))
    refusal = _refused(project, manifest, "replicated",
                       f"images must come from the stack registry {_registry(pinned_image)}, pinned by digest")
    assert f"not so: probe ({by_tag})" in refusal


def test_an_image_from_another_registry_is_refused_even_by_digest(project: Project, probe_deployment, pinned_image):
    elsewhere = "docker.io/library/python@" + pinned_image.split("@")[1]
    manifest = _broken(probe_deployment, lambda pod: pod["containers"][0].update(image=elsewhere))
    _refused(project, manifest, "replicated", "images must come from the stack registry")


def test_the_same_object_is_accepted_outside_the_stack_namespace(project: Project, probe_deployment, pinned_image):
    """The binding selects the stack's namespace only."""
    by_tag = pinned_image.split("@")[0] + ":latest"
    manifest = _broken(probe_deployment, lambda pod: pod["containers"][0].update(image=by_tag))
    assert _apply(project, manifest, "default", dry_run=True).returncode == 0


def test_a_container_without_limits_is_refused(project: Project, probe_deployment):
    manifest = _broken(probe_deployment, lambda pod: pod["containers"][0]["resources"].pop("limits"))
    _refused(project, manifest, "replicated",
             "every container and init container needs cpu and memory limits; missing in: probe")


def test_an_init_container_without_limits_is_refused(project: Project, probe_deployment, pinned_image):
    def add_init(pod):
        init = _container(pinned_image, "setup")
        init.pop("readinessProbe"), init.pop("livenessProbe")  # init containers need none
        init["resources"] = {"limits": {"cpu": "100m"}}  # memory missing
        pod["initContainers"] = [init]

    _refused(project, _broken(probe_deployment, add_init), "replicated",
             "every container and init container needs cpu and memory limits; missing in: setup")


def test_a_container_without_a_liveness_probe_is_refused(project: Project, probe_deployment):
    manifest = _broken(probe_deployment, lambda pod: pod["containers"][0].pop("livenessProbe"))
    _refused(project, manifest, "replicated",
             "every container needs a readinessProbe and a livenessProbe; missing in: probe")


def test_a_bare_pod_is_checked_too(project: Project, pinned_image):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "guardrail-probe-pod"},
           "spec": _pod_spec(pinned_image.split("@")[0] + ":latest")}
    _refused(project, pod, "pods", "images must come from the stack registry")


def test_a_cronjob_is_checked_too(project: Project, pinned_image):
    spec = _pod_spec(pinned_image)
    spec["restartPolicy"] = "Never"
    spec["containers"][0].pop("readinessProbe")
    cronjob = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "guardrail-probe-cron"},
               "spec": {"schedule": "0 0 1 1 *", "jobTemplate": {"spec": {"template": {"spec": spec}}}}}
    _refused(project, cronjob, "cronjobs", "every container needs a readinessProbe and a livenessProbe; missing in: probe")


@pytest.mark.parametrize("service_type", ["NodePort", "LoadBalancer"])
def test_a_public_service_other_than_web_is_refused(project: Project, service_type, pinned_image):
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "guardrail-probe"},
               "spec": {"type": service_type, "selector": {"app.kubernetes.io/name": "web"},
                        "ports": [{"port": 18080, "targetPort": "http"}]}}
    _refused(project, service, "services",
             f"only web may be of type LoadBalancer or NodePort; Service guardrail-probe is {service_type}")
    cluster_ip = copy.deepcopy(service)
    cluster_ip["spec"]["type"] = "ClusterIP"
    assert _apply(project, cluster_ip, project.namespace, dry_run=True).returncode == 0


def test_pod_security_restricted_refuses_a_root_pod(project: Project, pinned_image):
    """Enforced by the namespace's Pod Security label (not the policies): a pod that asks for root."""
    spec = _pod_spec(pinned_image)
    spec["securityContext"] = {"runAsUser": 0, "seccompProfile": {"type": "RuntimeDefault"}}
    spec["containers"][0]["securityContext"].pop("runAsNonRoot")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "guardrail-root-pod"}, "spec": spec}
    result = _apply(project, pod, project.namespace)
    assert result.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in result.stderr, result.stderr
    assert "runAsNonRoot != true" in result.stderr and "runAsUser=0" in result.stderr, result.stderr

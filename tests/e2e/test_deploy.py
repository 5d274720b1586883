"""`pulumi preview / up / destroy` for real, on tools/e2e's cluster, in the order a user runs them.

The steps share one stack and run in file order; each asserts what a user would notice.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "program"))
import harness  # noqa: E402  (the mocks harness: the resource list the program should produce)

NAMESPACE = "griddb-todo-e2e"  # Pulumi.e2e.yaml
Project = "conftest.Project"  # the `project` fixture's type (tests/e2e/conftest.py)

FULL = bool(os.environ.get("E2E_GRIDDB_IMAGE"))
STORE_DOWN = "todo storage (GridDB) is unavailable"


def _type_and_name(urn: str) -> tuple[str, str]:
    # urn:pulumi:<stack>::<project>::<parent types joined by $><type>::<name>
    _, _, types, name = urn.split("::", 3)
    return types.rsplit("$", 1)[-1], name


def _expected_resources() -> set[tuple[str, str]]:
    overrides = {"griddbReplicas": 1, "griddbBaseImage": os.environ["E2E_GRIDDB_IMAGE"]} if FULL else {}
    run = harness.run_program("e2e", overrides)
    return {(r.type, r.name) for r in run.resources} | {("pulumi:pulumi:Stack", "griddb-todo-e2e")}


def _wait_for(check, what: str, seconds: int = 180):
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except requests.RequestException as error:  # the Service may not answer yet
            last = error
        time.sleep(2)
    pytest.fail(f"timed out after {seconds} s waiting for {what} (last error: {last})")


def _login(project: Project, password: str) -> requests.Response:
    return requests.post(f"{project.web_url}/api/login", json={"username": "demo", "password": password}, timeout=10)


def _demo_password(project: Project) -> str:
    return project.output("accountPasswords", show_secrets=True)["demo"]


def _deployment_images(project: Project) -> dict[str, str]:
    items = json.loads(project.kubectl("-n", NAMESPACE, "get", "deployments", "-o", "json"))["items"]
    return {d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["image"] for d in items}


def test_1_preview_lists_every_resource(project: Project):
    preview = project.pulumi_json("preview")
    planned = {_type_and_name(step["urn"]) for step in preview["steps"]}
    assert {step["op"] for step in preview["steps"]} == {"create"}
    assert planned == _expected_resources()


def test_2_up_builds_pushes_and_becomes_ready(project: Project):
    project.pulumi("up", "--yes", "--skip-preview")
    images = project.output("images")
    deployments = _deployment_images(project)
    for service in ("auth", "web") + (("griddb",) if FULL else ()):
        assert "@sha256:" in images[service]
        assert deployments[service] == images[service]
        # The registry really holds what the Deployment asks for.
        repository, digest = images[service].split("@")
        name = repository.split("/", 1)[1]
        manifest = requests.head(
            f"http://127.0.0.1:5000/v2/{name}/manifests/{digest}", timeout=10,
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"},
        )
        assert manifest.status_code == 200, f"{images[service]} is not in the registry"
    ready = json.loads(project.kubectl("-n", NAMESPACE, "get", "deployments", "-o", "json"))["items"]
    for deployment in ready:
        wanted = deployment["spec"]["replicas"]
        assert deployment["status"].get("readyReplicas", 0) == wanted, deployment["metadata"]["name"]


def test_3_second_preview_expects_no_changes(project: Project):
    project.pulumi("preview", "--expect-no-changes")


def test_4_the_app_answers_through_the_web_service(project: Project):
    page = _wait_for(lambda: (r := requests.get(project.web_url + "/", timeout=10)).ok and r, "the UI")
    assert "<title>" in page.text.lower() or "<title" in page.text
    assert _login(project, "wrong-password").status_code == 401
    login = _login(project, _demo_password(project))
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]
    todos = requests.get(f"{project.web_url}/api/todos", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert requests.get(f"{project.web_url}/api/todos", timeout=10).status_code == 401
    # The network policies hold for real: web reaches auth, auth reaches nothing but DNS.
    assert _connects(project, "web", "auth", 2828) == "ok"
    assert _connects(project, "auth", "kube-dns.kube-system", 53) == "ok"  # DNS: allowed, and proves the probe works
    assert _connects(project, "auth", "web", 8080) == "blocked"
    if not FULL:
        assert todos.status_code == 503 and STORE_DOWN in todos.json()["detail"]
        return
    # GridDB's files outlive the stack on purpose (hostPath, Retain): earlier runs' todos may be there.
    assert todos.status_code == 200 and isinstance(todos.json(), list)
    _full_todo_flow(project, token)


def _connects(project: Project, source: str, host: str, port: int) -> str:
    """"ok" when a pod of `source` opens a TCP connection to host:port within 4 s, "blocked" when
    the attempt times out or is refused (what a dropped or rejected packet looks like)."""
    code = f"import socket; socket.create_connection(({host!r}, {port}), timeout=4).close()"
    result = project.kubectl("-n", NAMESPACE, "exec", f"deploy/{source}", "--", "python", "-c", code, check=False)
    # The Python error, not kubectl's closing "command terminated with exit code 1".
    error = next((line for line in result.stderr.splitlines() if "Error" in line), result.stderr.strip())
    outcome = "ok" if result.returncode == 0 else "blocked" if ("timed out" in error or "refused" in error) else error
    print(f"connect {source} -> {host}:{port}: {outcome} {error}")
    return outcome


def _full_todo_flow(project: Project, token: str) -> None:
    """Create, list, toggle, delete; then a GridDB pod restart keeps every acknowledged todo."""
    api = f"{project.web_url}/api/todos"
    auth = {"Authorization": f"Bearer {token}"}
    existing = {t["id"] for t in requests.get(api, headers=auth, timeout=10).json()}
    run = time.strftime("%H%M%S")
    created = [requests.post(api, json={"title": f"e2e {run} {i}"}, headers=auth, timeout=10).json() for i in range(5)]
    assert len({t["id"] for t in created} - existing) == 5
    toggled = requests.patch(f"{api}/{created[0]['id']}", json={"done": True}, headers=auth, timeout=10)
    assert toggled.json()["done"] is True
    assert requests.delete(f"{api}/{created[1]['id']}", headers=auth, timeout=10).status_code == 204
    before = sorted((t["id"], t["title"], t["done"]) for t in requests.get(api, headers=auth, timeout=10).json())
    assert len(before) == len(existing) + 4
    old_pod = project.kubectl("-n", NAMESPACE, "get", "pods", "-l", "app.kubernetes.io/name=griddb", "-o", "name").split()
    restarted = time.monotonic()
    project.kubectl("-n", NAMESPACE, "delete", "pod", "-l", "app.kubernetes.io/name=griddb", "--wait=true")
    project.kubectl("-n", NAMESPACE, "wait", "--for=condition=Ready", "pod", "-l", "app.kubernetes.io/name=griddb", "--timeout=300s")
    new_pod = project.kubectl("-n", NAMESPACE, "get", "pods", "-l", "app.kubernetes.io/name=griddb", "-o", "name").split()
    assert new_pod != old_pod

    def listed():
        response = requests.get(api, headers=auth, timeout=10)
        return response.json() if response.status_code == 200 else None

    after = sorted((t["id"], t["title"], t["done"]) for t in _wait_for(listed, "the todo API after the GridDB restart"))
    print(f"GridDB pod {old_pod} deleted, {new_pod} serving again after {time.monotonic() - restarted:.1f} s; "
          f"todos before {len(before)}, after {len(after)}")
    assert after == before
    for todo in created:  # leave the volume as this run found it
        requests.delete(f"{api}/{todo['id']}", headers=auth, timeout=10)


def test_5_a_web_change_rolls_out_a_new_digest_and_nothing_else(project: Project):
    before = project.output("images")
    changed = project.workdir / "services" / "web" / "web" / "static" / "style.css"
    changed.write_text(changed.read_text() + "\n/* e2e: a change that must roll out */\n")
    preview = project.pulumi_json("preview")
    changing = {_type_and_name(s["urn"]) for s in preview["steps"] if s["op"] != "same"}
    changing.discard(("pulumi:pulumi:Stack", "griddb-todo-e2e"))  # its `images` output changes
    assert changing == {("pulumi-python:dynamic:Resource", "web-image"), ("kubernetes:apps/v1:Deployment", "web-deployment")}
    project.pulumi("up", "--yes", "--skip-preview")
    after = project.output("images")
    assert after["web"] != before["web"]
    assert {k: v for k, v in after.items() if k != "web"} == {k: v for k, v in before.items() if k != "web"}
    assert _deployment_images(project)["web"] == after["web"]


def test_6_destroy_keeps_what_the_stack_protects_and_up_works_again(project: Project):
    project.pulumi("destroy", "--yes", "--skip-preview", "--exclude-protected")
    resources = json.loads(project.pulumi("stack", "export").stdout)["deployment"].get("resources", [])
    left = {_type_and_name(r["urn"]) for r in resources if r.get("custom")}
    protected = {_type_and_name(r["urn"]) for r in resources if r.get("protect")}
    assert protected == {("kubernetes:core/v1:Namespace", "app-namespace"),
                         ("kubernetes:core/v1:PersistentVolumeClaim", "griddb-data"),
                         ("kubernetes:core/v1:PersistentVolume", "griddb-volume")}
    # Left besides them: providers, and the namespace's default policies, which every
    # workload depends on (__main__.py) so that nothing runs before it: the namespace kept with
    # the data stays locked down.
    kept = {(t, n) for t, n in left - protected if not t.startswith("pulumi:providers:")}
    assert kept == {("kubernetes:networking.k8s.io/v1:NetworkPolicy", f"app-{p}")
                    for p in ("default-deny-ingress", "default-deny-egress", "allow-dns-egress")}
    assert project.kubectl("-n", NAMESPACE, "get", "deployments,services,secrets", "-o", "name").split() == []
    project.pulumi("up", "--yes", "--skip-preview")
    _wait_for(lambda: _login(project, _demo_password(project)).status_code == 200, "a login after the second up")

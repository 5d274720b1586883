"""At most one GridDB process at any instant, seen on the real cluster with the program's own
GridDB workload.

GridDB's server image cannot be pulled here, so the check does not wait for E2E_GRIDDB_IMAGE:
it renders the workload the program declares for GridDB (through the mocks harness, so it is
exactly the kind and spec `pulumi up` would apply: StatefulSet, replicas, update strategy, pod
management, grace period, security context), swaps only the GridDB container for a process that
takes 8 s to stop on SIGTERM (as GridDB's shutdown checkpoint does with data), applies it with
kubectl in a namespace of its own, deletes the pod and watches. Were GridDB's workload a
Deployment (even with Recreate), the replacement would be running while the old process still
stopped: the issue measured 7 s side by side. test_deploy.py repeats the watch on the real GridDB
StatefulSet, with todos written throughout, when E2E_GRIDDB_IMAGE is set.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "program"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
from podwatch import PodWatch, timestamp  # noqa: E402

NAMESPACE = "griddb-todo-e2e-single-writer"
STOP_SECONDS = 8
# A process that, like GridDB's entrypoint, stops cleanly but slowly on SIGTERM.
STOPS_SLOWLY = f"""
import signal, sys, time
def stop(*_):
    print("SIGTERM: stopping in {STOP_SECONDS} s", flush=True)
    time.sleep({STOP_SECONDS})
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
print("running", flush=True)
while True:
    time.sleep(1)
"""


def _python_image() -> str:
    """The base image tools/e2e/up builds and the e2e stack's images are built on."""
    config = yaml.safe_load((harness.ROOT / "Pulumi.e2e.yaml").read_text())["config"]
    return config["griddb-todo:pythonBaseImage"]


def stand_in_griddb_workload() -> dict:
    """The program's GridDB workload, as `pulumi up` would apply it, with a stand-in process."""
    run = harness.run_program("e2e", {"griddbReplicas": 1})
    manifest = copy.deepcopy(run.workload("griddb").inputs)
    manifest["metadata"]["namespace"] = NAMESPACE
    pod = manifest["spec"]["template"]["spec"]
    (server,) = [c for c in pod["containers"] if c["name"] == "griddb"]
    server.update(
        image=_python_image(),
        command=["python", "-c", STOPS_SLOWLY],
        # GridDB's variables name its credentials Secret, which this namespace does not have.
        env=[],
        readinessProbe={"exec": {"command": ["python", "-c", "pass"]}, "periodSeconds": 1},
        resources={"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"cpu": "200m", "memory": "64Mi"}},
    )
    server.pop("startupProbe", None)
    server.pop("livenessProbe", None)
    # Same mount, but not the claim: its binding is not what is under test, and this namespace
    # has none. What keeps two processes apart is the workload's pod identity, not the volume
    # (a ReadWriteOnce claim admits any number of pods on one node).
    for volume in pod["volumes"]:
        if "persistentVolumeClaim" in volume:
            del volume["persistentVolumeClaim"]
            volume["emptyDir"] = {"sizeLimit": "16Mi"}
    pod.pop("imagePullSecrets", None)
    return _whole_numbers(manifest)


def _whole_numbers(value):
    """The mocks hand numbers back as floats (1.0); the API server wants integers."""
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _kubectl(env):
    def kubectl(*args: str, stdin: str = None) -> str:
        result = subprocess.run(["kubectl", *args], env=env, input=stdin, capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            pytest.fail(f"kubectl {' '.join(args)}: {result.stderr}")
        return result.stdout
    return kubectl


@pytest.fixture
def stand_in(kube_env):
    kubectl = _kubectl(kube_env)
    manifest = stand_in_griddb_workload()
    kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true")
    kubectl("create", "namespace", NAMESPACE)
    try:
        kubectl("apply", "-f", "-", stdin=json.dumps(manifest))
        kind = manifest["kind"].lower()
        kubectl("-n", NAMESPACE, "rollout", "status", f"{kind}/griddb", "--timeout=180s")
        yield manifest, kubectl
    finally:
        kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=false")


def test_a_deleted_griddb_pod_is_gone_before_its_replacement_runs(kube_env, stand_in):
    manifest, kubectl = stand_in
    print(f"\nGridDB workload as the program declares it: {manifest['kind']}, "
          f"grace {manifest['spec']['template']['spec']['terminationGracePeriodSeconds']} s")
    with PodWatch(kube_env, NAMESPACE, "app.kubernetes.io/name=griddb", "griddb") as watch:
        old, new = watch.replace_pod(kubectl, seconds=180)
    stopped = (timestamp(old.finished_at) - watch.deleted_at).total_seconds()
    gap = (timestamp(new.started_at) - timestamp(old.finished_at)).total_seconds()
    print(f"old pod {old.pod} ({old.uid[:8]}) stopped {stopped:.0f} s after the delete; replacement "
          f"({new.uid[:8]}) started {gap:.0f} s after that; at most {watch.max_running} running at once; "
          f"timeline (s, running): {watch.timeline}")
    # The stand-in really took its time to stop, so an overlap had every chance to show.
    assert stopped >= STOP_SECONDS - 2
    assert watch.max_running == 1
    assert gap >= 0

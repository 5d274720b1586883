"""A GridDB claim that can never bind fails `pulumi up`, in the time the stack allows, with a
message that says why (issue 12): never a silent success, never a 10-minute hang.

Its own stack (cloud platform, its own namespace) asks for a storage class the cluster does not
have. It needs GridDB unparked (a parked node's claim on a dynamic class is rightly not waited
for), and GridDB's image builds only from a real GridDB base: so with E2E_GRIDDB_IMAGE only.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

GRIDDB_IMAGE = os.environ.get("E2E_GRIDDB_IMAGE")
STACK = "e2e-unbound"
MISSING_CLASS = "no-such-class"
WAIT_SECONDS = 30


def stack_file() -> str:
    config = yaml.safe_load((ROOT / "Pulumi.e2e-cloud.yaml").read_text())["config"]
    config.update({
        "griddb-todo:namespace": "griddb-todo-e2e-unbound",
        "griddb-todo:griddbStorageClass": MISSING_CLASS,
        "griddb-todo:griddbWaitSeconds": str(WAIT_SECONDS),
        "griddb-todo:griddbReplicas": "1",
        "griddb-todo:griddbBaseImage": GRIDDB_IMAGE or "",
        "griddb-todo:protectData": "false",
        # Nothing of it is reached from outside; one cluster-wide policy set is enough (e2e-cloud's).
        "griddb-todo:webServiceType": "ClusterIP",
        "griddb-todo:admissionPolicy": "false",
    })
    for key in ("griddb-todo:webPort", "griddb-todo:webServiceAnnotations"):
        config.pop(key, None)
    return yaml.safe_dump({"config": config})


@pytest.mark.skipif(not GRIDDB_IMAGE, reason="needs GridDB's image (E2E_GRIDDB_IMAGE): a parked claim is not waited for")
def test_a_claim_that_cannot_bind_fails_up_and_says_why(new_project):
    project = new_project(STACK, stack_file())
    try:
        started = time.monotonic()
        result = project.pulumi("up", "--yes", "--skip-preview", check=False)
        seconds = time.monotonic() - started
        print(f"[unbound] `pulumi up` exited {result.returncode} after {seconds:.0f} s")
        assert result.returncode != 0, "up succeeded with a claim that cannot bind"
        output = result.stdout
        # What pulumi-kubernetes prints while it waits (README troubleshooting quotes it).
        assert 'griddb-data creating' in output and 'Waiting for {.status.phase}=Bound (found "Pending")' in output, \
            output[-4000:]
        assert f'storageclass.storage.k8s.io "{MISSING_CLASS}" not found' in output, output[-4000:]
        # Failed once the stack's waits ran out (the claim's and GridDB's 30 s, web's 30 + 120 s:
        # its startup waits for GridDB), not after pulumi-kubernetes' 10-minute default.
        assert seconds < WAIT_SECONDS + 240, f"up took {seconds:.0f} s to fail"
    finally:
        project.pulumi("destroy", "--yes", "--skip-preview", check=False)
        project.pulumi("stack", "rm", "--yes", "--force", check=False)
        project.kubectl("delete", "namespace", project.namespace, "--ignore-not-found", "--wait=true", check=False)

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import harness  # noqa: E402
from harness import CLOUD_FILLED_IN, CLOUD_SECRETS, E2E_CLOUD_REGISTRY, E2E_CLOUD_SECRETS  # noqa: E402


@pytest.fixture(scope="session")
def dev_run() -> harness.ProgramRun:
    return harness.run_program("dev")


@pytest.fixture(scope="session")
def cloud_run() -> harness.ProgramRun:
    return harness.run_program("cloud", CLOUD_FILLED_IN, CLOUD_SECRETS)


@pytest.fixture(scope="session")
def e2e_cloud_run() -> harness.ProgramRun:
    """The e2e cloud stack as tests/e2e runs it, GridDB unparked (as with E2E_GRIDDB_IMAGE)."""
    return harness.run_program("e2e-cloud", {**E2E_CLOUD_REGISTRY, "griddbReplicas": 1}, E2E_CLOUD_SECRETS)


@pytest.fixture(scope="session")
def e2e_run() -> harness.ProgramRun:
    """The e2e (k3s-shaped) stack, GridDB unparked (as with E2E_GRIDDB_IMAGE)."""
    return harness.run_program("e2e", {"griddbReplicas": 1})


# The program tests that take any_run hold on every stack file the repository ships.
@pytest.fixture(scope="session", params=harness.STACKS)
def any_run(request) -> harness.ProgramRun:
    return request.getfixturevalue(f"{request.param.replace('-', '_')}_run")


@pytest.fixture(scope="session", params=["dev", "cloud", "e2e-cloud"])
def every_run(request, dev_run, cloud_run, e2e_cloud_run) -> harness.ProgramRun:
    return {"dev": dev_run, "cloud": cloud_run, "e2e-cloud": e2e_cloud_run}[request.param]

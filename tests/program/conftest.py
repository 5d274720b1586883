import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import harness  # noqa: E402
from harness import CLOUD_FILLED_IN, CLOUD_SECRETS  # noqa: E402


@pytest.fixture(scope="session")
def dev_run() -> harness.ProgramRun:
    return harness.run_program("dev")


@pytest.fixture(scope="session")
def cloud_run() -> harness.ProgramRun:
    return harness.run_program("cloud", CLOUD_FILLED_IN, CLOUD_SECRETS)


@pytest.fixture(scope="session", params=["dev", "cloud"])
def any_run(request, dev_run, cloud_run) -> harness.ProgramRun:
    return dev_run if request.param == "dev" else cloud_run

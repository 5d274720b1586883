"""Fixtures shared across the test directories."""

import importlib.machinery
import importlib.util
from pathlib import Path

import pytest

BENCH_API = Path(__file__).resolve().parents[1] / "tools" / "bench" / "api"


@pytest.fixture(scope="session")
def bench_api():
    """tools/bench/api (a script without .py) loaded as a module, to test its functions."""
    loader = importlib.machinery.SourceFileLoader("bench_api", str(BENCH_API))
    spec = importlib.util.spec_from_loader("bench_api", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module

"""serve() freezes the heap built at start-up before it serves (serve.py says why: full
collections rescanning it stalled every request in flight for 20-48 ms). The latency itself is
measured by tools/bench/api, not here; this checks the mechanism in both services' copy."""

from __future__ import annotations

import gc
import importlib
import logging
import weakref

import pytest


class _Cycle:
    """Garbage only the cyclic collector can free: it refers to itself."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def collector_off():
    """No automatic collection during the test, so only serve() can collect or freeze; the
    test process's heap is unfrozen again afterwards."""
    gc.unfreeze()
    gc.disable()
    yield
    gc.enable()
    gc.unfreeze()


@pytest.mark.parametrize("service", ["auth", "web"])
def test_serve_freezes_the_startup_heap_after_collecting_its_garbage(service, monkeypatch, collector_off):
    serve_module = importlib.import_module(f"{service}.serve")
    garbage = _Cycle()
    garbage_ref = weakref.ref(garbage)
    del garbage
    assert garbage_ref() is not None and gc.get_freeze_count() == 0
    seen = {}

    def run_instead_of_uvicorn(app, **kwargs):
        seen["frozen"] = gc.get_freeze_count()
        seen["garbage_alive"] = garbage_ref() is not None

    monkeypatch.setattr(serve_module.uvicorn, "run", run_instead_of_uvicorn)
    serve_module.serve(object(), port=0, drain_seconds=1, log=logging.getLogger("test"))
    assert seen["frozen"] > 1000, "the start-up heap was not frozen before serving"
    assert seen["garbage_alive"] is False, "garbage was frozen instead of collected"

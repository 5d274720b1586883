"""Serve an ASGI app with uvicorn and stop it gracefully (the same file is in auth and web).

What a pod's end looks like (components/workload.py): a preStop pause while Kubernetes takes the
pod out of the Service's endpoints, then SIGTERM. On SIGTERM uvicorn stops listening, closes
idle keep-alive connections, lets the requests in flight finish for at most `drain_seconds`
(then cancels what is left) and runs the app's shutdown. serve() then returns normally, so the
caller closes what it holds (web: its GridDB connection) and the process exits 0.

uvicorn restores the signal handlers it found when it finishes and raises the signal it stopped
on once more, to get that signal's "expected behaviour": with the default handler for SIGTERM,
that is death by the signal before any cleanup runs (exit status 143). serve() installs a
handler that only records the signal before uvicorn starts, so that second raise is harmless.

A request cut off at the drain time may leave its work running in a worker thread (a password
check, a GridDB call); Python would wait for that thread at exit, into the grace period's
SIGKILL. leave() exits at once instead, once the caller has closed what it holds.

Before uvicorn starts, serve() freezes the heap (gc.freeze): everything built by then, the
imported modules, the app, its routes and models, lives as long as the process, and each full
collection of Python's cyclic garbage collector scanned all of it again (about 70 000 objects in
web, 20-48 ms a time, every 2-4 s at 200-400 requests a second: a stall of every request in
flight, most of web's p99 with GridDB; README, Performance).
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys

import uvicorn

from . import jsonlog

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
DRAIN_SECONDS_DEFAULT = 10
DRAIN_SECONDS_RANGE = (1, 300)


def drain_seconds_from(env: dict[str, str]) -> int:
    """SHUTDOWN_DRAIN_SECONDS: how long requests in flight get to finish after SIGTERM."""
    raw = env.get("SHUTDOWN_DRAIN_SECONDS") or str(DRAIN_SECONDS_DEFAULT)
    low, high = DRAIN_SECONDS_RANGE
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"SHUTDOWN_DRAIN_SECONDS={raw!r} is not an integer") from None
    if not low <= value <= high:
        raise ValueError(f"SHUTDOWN_DRAIN_SECONDS={value} is out of range [{low}, {high}]")
    return value


def freeze_startup_heap() -> None:
    """Take what exists now out of the collector's scans for good; collect the garbage first,
    which frozen would never be freed."""
    gc.collect()
    gc.freeze()


def serve(app, port: int, drain_seconds: int, log: logging.Logger) -> None:
    """Run until SIGTERM or SIGINT; return once requests in flight are done (or cut off)."""
    freeze_startup_heap()
    received: list[int] = []
    previous = {sig: signal.signal(sig, lambda sig, frame: received.append(sig)) for sig in STOP_SIGNALS}
    try:
        uvicorn.run(app, host="0.0.0.0", port=port, log_config=jsonlog.uvicorn_log_config(),
                    access_log=False, server_header=False, proxy_headers=False,
                    timeout_graceful_shutdown=drain_seconds)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("stopped", extra={"fields": {"signal": [signal.Signals(s).name for s in received]}})


def leave(code: int) -> None:
    """Exit with `code` now, not after worker threads still busy with cut-off requests."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

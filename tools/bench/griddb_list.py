"""Time of one todo list on GridDB, one call after another: web's store alone, no HTTP.

    GRIDDB_NOTIFICATION_MEMBER=host:port GRIDDB_CLUSTER_NAME=... GRIDDB_USERNAME=... GRIDDB_PASSWORD=... \\
      CLASSPATH='build/griddb-jars/*' .venv/bin/python tools/bench/griddb_list.py [--n 300] [--rows 20]

Prints p50/p99 of a whole list (query, fetch, rows into Todos) and of the query's round trip
alone (query and fetch, no row read), and the process CPU time per list (Java's threads
included). The jars: `services/web/docker/prepare_jars.py build/griddb-jars` (the gridstore jars plus
web's row reader). Uses a container of its own, dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "services" / "web"))

from web.griddb_store import GridDBStore  # noqa: E402
from web.serve import leave  # noqa: E402

GRIDDB_ENV = ("GRIDDB_NOTIFICATION_MEMBER", "GRIDDB_CLUSTER_NAME", "GRIDDB_USERNAME", "GRIDDB_PASSWORD")


def percentiles(call, n: int) -> str:
    took = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        took.append((time.perf_counter() - started) * 1000)
    took.sort()
    return f"p50 {took[n // 2]:.2f} ms  p99 {took[min(n - 1, int(n * 0.99))]:.2f} ms"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=300, help="lists per measurement")
    ap.add_argument("--rows", type=int, default=20, help="todos in the list")
    args = ap.parse_args()
    missing = [k for k in GRIDDB_ENV if not os.environ.get(k)]
    if missing:
        raise SystemExit(f"set {', '.join(missing)}")
    container = f"bench_list_{uuid.uuid4().hex[:12]}"
    store = GridDBStore(*(os.environ[k] for k in GRIDDB_ENV), container=container)
    try:
        if not store.wait_ready(60):
            raise SystemExit(f"GridDB not ready: {store.last_error}")
        for i in range(args.rows):
            store.create("bench", f"todo {i}")
        for _ in range(50):  # warm the JIT and the connection
            store.list("bench")

        def query_only():
            def run():
                q = store._collection().query("select * where owner = 'bench' order by created_at asc")
                rows = q.fetch(False)
                rows.close()
                q.close()
            store._call(run)

        print(f"list of {args.rows}      {percentiles(lambda: store.list('bench'), args.n)}")
        print(f"query round trip  {percentiles(query_only, args.n)}")
        cpu = time.process_time()
        for _ in range(args.n):
            store.list("bench")
        print(f"CPU per list      {(time.process_time() - cpu) / args.n * 1000:.2f} ms")
    finally:
        try:
            store._call(lambda: store._grid_store().dropContainer(container))
        except Exception:  # noqa: BLE001 - best effort: the container has a unique name
            pass
        store.close()
    return 0


if __name__ == "__main__":
    # As web leaves: not through JPype's JVM shutdown, which waits for the Java client's threads.
    leave(main())

"""Run the web service: python -m web"""

from __future__ import annotations

import logging
import os

from . import jsonlog
from .serve import drain_seconds_from, leave, serve
from .app import create_app
from .http_metrics import serve_metrics
from .metrics import WebMetrics
from .settings import from_env
from .store import MemoryStore
from .tokens import TokenVerifier, http_jwks_fetcher


def main() -> int:
    jsonlog.setup()
    log = logging.getLogger("web")
    try:
        settings = from_env()
        drain_seconds = drain_seconds_from(dict(os.environ))
    except ValueError as exc:
        log.error("cannot start", extra={"fields": {"reason": str(exc)}})
        return 2
    if settings.store == "memory":
        store = MemoryStore()
        log.warning("using the in-memory store: todos are lost when the process stops")
    else:
        from .griddb_store import GridDBStore
        store = GridDBStore(settings.griddb_notification_member, settings.griddb_cluster_name,
                            settings.griddb_username, settings.griddb_password)
    verifier = TokenVerifier(http_jwks_fetcher(settings.auth_url + "/.well-known/jwks.json"),
                             settings.issuer, settings.audience)
    metrics = WebMetrics()
    app = create_app(settings, store, verifier, metrics=metrics)
    serve_metrics(metrics.registry, settings.metrics_port)
    log.info("starting", extra={"fields": {"port": settings.port,
                                           "metrics_port": settings.metrics_port, "store": settings.store,
                                           "auth_url": settings.auth_url}})
    try:
        serve(app, settings.port, drain_seconds, log)
    finally:
        # After the last request: close the GridDB connection rather than let it drop.
        store.close()
        log.info("store closed")
    return 0


if __name__ == "__main__":
    leave(main())

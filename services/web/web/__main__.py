"""Run the web service: python -m web"""

from __future__ import annotations

import logging
import sys

import uvicorn

from . import jsonlog
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
        uvicorn.run(app, host="0.0.0.0", port=settings.port,
                    log_config=jsonlog.uvicorn_log_config(), access_log=False,
                    server_header=False, proxy_headers=False)
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

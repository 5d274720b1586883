"""Run the auth service: python -m auth"""

from __future__ import annotations

import logging
import sys

import uvicorn

from . import jsonlog
from .app import create_app
from .http_metrics import serve_metrics
from .metrics import AuthMetrics
from .settings import from_env


def main() -> int:
    jsonlog.setup()
    log = logging.getLogger("auth")
    try:
        settings = from_env()
        metrics = AuthMetrics()
        app = create_app(settings, metrics=metrics)
    except ValueError as exc:  # ConfigError, AccountsError, bad key: say what, then stop
        log.error("cannot start", extra={"fields": {"reason": str(exc)}})
        return 2
    serve_metrics(metrics.registry, settings.metrics_port)
    uvicorn.run(app, host="0.0.0.0", port=settings.port, log_config=jsonlog.uvicorn_log_config(),
                access_log=False, server_header=False, proxy_headers=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())

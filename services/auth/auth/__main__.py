"""Run the auth service: python -m auth"""

from __future__ import annotations

import logging
import os

from . import jsonlog
from .serve import drain_seconds_from, leave, serve
from .app import create_app
from .http_metrics import serve_metrics
from .metrics import AuthMetrics
from .settings import from_env


def main() -> int:
    jsonlog.setup()
    log = logging.getLogger("auth")
    try:
        settings = from_env()
        drain_seconds = drain_seconds_from(dict(os.environ))
        metrics = AuthMetrics()
        app = create_app(settings, metrics=metrics)
    except ValueError as exc:  # ConfigError, AccountsError, bad key: say what, then stop
        log.error("cannot start", extra={"fields": {"reason": str(exc)}})
        return 2
    serve_metrics(metrics.registry, settings.metrics_port)
    serve(app, settings.port, drain_seconds, log)
    return 0


if __name__ == "__main__":
    leave(main())

"""auth's Prometheus metrics: HTTP requests (http_metrics) and logins by outcome. No label
holds a user name, an address or a token: outcomes are fixed words."""

from __future__ import annotations

import time
from typing import Callable

from prometheus_client import CollectorRegistry, Counter

from .http_metrics import HttpMetrics

# success: a token was issued; bad_credentials: wrong password or unknown name (401);
# throttled: refused by the failed-login lockout (429), the password checked or not.
LOGIN_OUTCOMES = ("success", "bad_credentials", "throttled")


class AuthMetrics:
    """Every metric of one auth app, in its own registry."""

    def __init__(self, registry: CollectorRegistry | None = None,
                 clock: Callable[[], float] = time.perf_counter):
        self.registry = registry or CollectorRegistry()
        self.http = HttpMetrics(self.registry, clock)
        self.logins = Counter(
            "auth_logins", "Login attempts at POST /token that reached the password check or "
            "the lockout, by outcome: success, bad_credentials, throttled.",
            ["outcome"], registry=self.registry)
        for outcome in LOGIN_OUTCOMES:  # every series exists from the start, at 0
            self.logins.labels(outcome)

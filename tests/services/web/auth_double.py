"""An in-process stand-in for the auth service's /login, for web tests that fuzz web alone.

Only alice with alice-pass gets a (meaningless) token; everyone else gets auth's 401. web
forwards /api/login to it through the `auth_client` create_app accepts.
"""

from __future__ import annotations

import httpx


def _answer(request: httpx.Request) -> httpx.Response:
    if b'"password":"alice-pass"' in request.content.replace(b" ", b""):
        return httpx.Response(200, json={"access_token": "t", "token_type": "Bearer", "expires_in": 900})
    return httpx.Response(401, json={"detail": "invalid username or password"})


def auth_client() -> httpx.Client:
    return httpx.Client(base_url="http://auth.test", transport=httpx.MockTransport(_answer))

"""web: property-based tests from its own OpenAPI schema (schemathesis), memory store.

Generated requests carry a valid token (and schemathesis also checks that leaving it out is
refused). No 5xx, no undocumented status code, no response outside the schema.
"""

from __future__ import annotations

import os
import time

import jwt
import schemathesis
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, settings

from auth.keys import public_jwk, thumbprint
from web.app import create_app
from web.settings import Settings
from web.store import MemoryStore
from web.tokens import TokenVerifier

import auth_double

# Built at collection time (schemathesis' fixture-based loader does not run on pytest 9).
_key = ec.generate_private_key(ec.SECP256R1())
_jwk = public_jwk(_key.public_key())
_kid = thumbprint(_jwk)
_verifier = TokenVerifier(lambda: {"keys": [{**_jwk, "kid": _kid, "alg": "ES256"}]},
                          "griddb-todo-auth", "griddb-todo-web")


app = create_app(Settings(store="memory"), MemoryStore(), _verifier, auth_client=auth_double.auth_client())
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


def _token() -> str:
    now = int(time.time())
    return jwt.encode({"iss": "griddb-todo-auth", "aud": "griddb-todo-web", "sub": "alice",
                       "iat": now, "exp": now + 600}, _key, algorithm="ES256", headers={"kid": _kid})


@schema.parametrize()
@settings(max_examples=int(os.environ.get("SCHEMA_EXAMPLES", "40")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_web_api_conforms_to_its_schema(case):
    case.call_and_validate(headers={"Authorization": f"Bearer {_token()}"})

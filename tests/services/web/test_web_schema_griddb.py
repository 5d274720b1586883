"""web's OpenAPI schema fuzzed against a live GridDB (marker `griddb`; skipped without
GRIDDB_NOTIFICATION_MEMBER, GRIDDB_CLUSTER_NAME, GRIDDB_USERNAME, GRIDDB_PASSWORD and a JVM
with the gridstore jar on CLASSPATH). GridDB's own string limits differ from the memory
store's; the shared checks must turn everything it could refuse into a 4xx first.
"""

from __future__ import annotations

import os
import time
import uuid

import pytest
from web.griddb_store import _classpath

LIVE_ENV = ("GRIDDB_NOTIFICATION_MEMBER", "GRIDDB_CLUSTER_NAME", "GRIDDB_USERNAME", "GRIDDB_PASSWORD")
# The jars as the store itself reads CLASSPATH (DIR/* too, as prepare_jars.py prints it).
if any(not os.environ.get(k) for k in LIVE_ENV) or not any("gridstore" in jar for jar in _classpath()):
    pytest.skip("no live GridDB (GRIDDB_* and a CLASSPATH naming the gridstore jar)", allow_module_level=True)

import jwt  # noqa: E402
import schemathesis  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

from auth.keys import public_jwk, thumbprint  # noqa: E402
from web.app import create_app  # noqa: E402
from web.griddb_store import GridDBStore  # noqa: E402
from web.settings import Settings  # noqa: E402
from web.tokens import TokenVerifier  # noqa: E402

import auth_double  # noqa: E402

pytestmark = pytest.mark.griddb

_key = ec.generate_private_key(ec.SECP256R1())
_jwk = public_jwk(_key.public_key())
_kid = thumbprint(_jwk)
_store = GridDBStore(*(os.environ[k] for k in LIVE_ENV), container=f"todos_fuzz_{uuid.uuid4().hex[:12]}")
_store.wait_ready(60)
# /api/login is forwarded to auth, not GridDB: the same auth double as the memory-store fuzz.
app = create_app(Settings(store="griddb"), _store,
                 TokenVerifier(lambda: {"keys": [{**_jwk, "kid": _kid, "alg": "ES256"}]},
                               "griddb-todo-auth", "griddb-todo-web"),
                 auth_client=auth_double.auth_client())
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


def _token() -> str:
    now = int(time.time())
    return jwt.encode({"iss": "griddb-todo-auth", "aud": "griddb-todo-web", "sub": "fuzz",
                       "iat": now, "exp": now + 600}, _key, algorithm="ES256", headers={"kid": _kid})


@schema.parametrize()
@settings(max_examples=int(os.environ.get("SCHEMA_EXAMPLES", "100")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_web_api_over_griddb_conforms_to_its_schema(case):
    case.call_and_validate(headers={"Authorization": f"Bearer {_token()}"})
    # whatever was accepted can be read back
    r = app_client().get("/api/todos", headers={"Authorization": f"Bearer {_token()}"})
    assert r.status_code == 200, r.text


def app_client():
    from fastapi.testclient import TestClient
    return TestClient(app)


@pytest.fixture(scope="module", autouse=True)
def _drop_container():
    yield
    try:
        _store._call(lambda: _store._grid_store().dropContainer(_store.container_name))
    finally:
        _store.close()

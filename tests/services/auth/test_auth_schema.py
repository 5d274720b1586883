"""auth: property-based tests from its own OpenAPI schema (schemathesis).

No generated request may produce a 5xx, an undocumented status code or a response that does
not match the schema. Examples are bounded so the whole module stays well under a minute (SCHEMA_EXAMPLES=n for a
longer run).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import bcrypt
import schemathesis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, settings

from auth.app import create_app
from auth.lockout import Lockout
from auth.settings import Settings

# The schema is loaded when the module is collected, so the app is built here, from files in
# a private temporary directory (schemathesis' fixture-based loader does not run on pytest 9).
_dir = Path(tempfile.mkdtemp(prefix="auth-schema-"))
(_dir / "key.pem").write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
    serialization.NoEncryption()))
(_dir / "accounts.json").write_text(json.dumps(
    {"alice": bcrypt.hashpw(b"alice-pass", bcrypt.gensalt(4)).decode()}))
app = create_app(Settings(signing_key_file=str(_dir / "key.pem"),
                          accounts_file=str(_dir / "accounts.json")),
                 lockout=Lockout(max_failures=3, window=60))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=int(os.environ.get("SCHEMA_EXAMPLES", "40")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_auth_api_conforms_to_its_schema(case):
    case.call_and_validate()

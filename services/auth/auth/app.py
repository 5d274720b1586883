"""The auth HTTP API (FastAPI)."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
import uuid

import jwt
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from .accounts import AccountStore
from .asgi import HeadAsGet, SecurityHeaders, StrictJsonBody, install_error_handlers
from .http_metrics import MeasureRequests
from .keys import SigningKey, key_set, load_published_key, load_signing_key
from .lockout import Decision, Lockout, source_key
from .metrics import AuthMetrics
from .settings import Settings

log = logging.getLogger("auth")

BAD_CREDENTIALS = "invalid username or password"


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64, description="account name")
    password: str = Field(min_length=1, max_length=1024, description="the account's password")


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = Field(description='always "Bearer"')
    expires_in: int = Field(description="lifetime in seconds")


class ErrorResponse(BaseModel):
    detail: str


class ValidationErrorOut(BaseModel):
    detail: str = Field(description="human-readable summary (never the submitted values)")
    errors: list[dict] = Field(description="one entry per problem: loc, msg")


class Jwk(BaseModel):
    kty: str
    crv: str
    x: str
    y: str
    kid: str
    use: str
    alg: str


class Jwks(BaseModel):
    keys: list[Jwk]


class Status(BaseModel):
    status: str


NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def client_source(request: Request, trusted_header: str | None) -> str:
    """The address failed logins are counted against: web's forwarded one when configured."""
    if trusted_header:
        forwarded = request.headers.get(trusted_header, "").strip()
        try:
            ipaddress.ip_address(forwarded)
            return source_key(forwarded)
        except ValueError:
            pass  # not from web (a probe, a direct call): count the peer
    return source_key(request.client.host if request.client else "")


def create_app(settings: Settings, *, key: SigningKey | None = None,
               accounts: AccountStore | None = None, lockout: Lockout | None = None,
               clock=time.time, sleep=asyncio.sleep, metrics: AuthMetrics | None = None) -> FastAPI:
    """Build the app. Fails fast if a key or the accounts file is unusable.
    `metrics`: where the app counts (its own registry unless given; __main__ serves it)."""
    metrics = metrics or AuthMetrics()
    key = key or load_signing_key(settings.signing_key_file)
    # Tokens are signed with `key` only; the JWKS also holds the rotation's previous key (its
    # tokens verify until they expire, then it leaves) and next key (published before anything
    # signs with it).
    previous = load_published_key(settings.previous_key_file) if settings.previous_key_file else None
    nexts = [load_published_key(path) for path in settings.published_key_files]
    published = key_set(key, ([previous] if previous else []) + nexts)
    retired = key_set(key, nexts)  # once the previous key's last token has expired
    accounts = accounts or AccountStore(settings.accounts_file)
    lockout = lockout or Lockout(settings.lockout_max_failures, settings.lockout_window_seconds)
    if settings.trusted_client_header:
        log.info("client address taken from a header", extra={"fields": {
            "header": settings.trusted_client_header}})
    log.info("signing key loaded", extra={"fields": {"kid": key.kid,
                                                     "published": [jwk["kid"] for jwk in published]}})

    app = FastAPI(title="griddb-todo auth", version="1.0.0", docs_url=None, redoc_url=None,
                  redirect_slashes=False)  # install_error_handlers redirects, relatively
    app.state.lockout = lockout
    app.state.metrics = metrics
    install_error_handlers(app)
    app.state.accounts = accounts
    # added innermost first: SecurityHeaders wraps everything, a 500 included
    app.add_middleware(StrictJsonBody)
    app.add_middleware(HeadAsGet)
    app.add_middleware(SecurityHeaders, headers={"X-Content-Type-Options": "nosniff"}, log=log)
    # outermost: it counts the status the client got, SecurityHeaders' 500 included
    app.add_middleware(MeasureRequests, metrics=metrics.http, routes=app.router.routes)

    def who(username: str) -> dict:
        """A name that is an account is logged as is; any other (a typo, or a password typed
        into the wrong field) only as a keyed hash."""
        if accounts.is_account(username):
            return {"user": username}
        return {"user_hash": accounts.name_hash(username)}

    def too_many(wait: int, username: str, source: str, why: str) -> JSONResponse:
        metrics.logins.labels("throttled").inc()
        log.warning("login refused: throttled", extra={"fields": {**who(username), "source": source,
                                                                  "why": why}})
        return JSONResponse(
            {"detail": f"too many failed logins; try again in {wait} seconds"},
            status_code=429, headers={"Retry-After": str(wait), **NO_STORE})

    @app.post(
        "/token",
        response_model=TokenResponse,
        responses={
            400: {"model": ErrorResponse, "description": "body is not strict JSON (RFC 8259 / I-JSON: "
                                                         "no NaN, no lone surrogates, no duplicate names, UTF-8)"},
            401: {"model": ErrorResponse, "description": "wrong or unknown credentials"},
            413: {"model": ErrorResponse, "description": "body larger than 64 KiB"},
            422: {"model": ValidationErrorOut, "description": "fields missing, extra or of the wrong type"},
            429: {"model": ErrorResponse, "description": "too many failed logins for this username "
                                                         "from this address, or from this address",
                  "headers": {"Retry-After": {"schema": {"type": "integer"},
                                              "description": "seconds to wait"}}},
        },
        summary="Exchange a username and password for a signed JWT (ES256)",
    )
    async def token(body: TokenRequest, request: Request):
        source = client_source(request, settings.trusted_client_header)
        decision: Decision = lockout.decide(body.username, source)
        if decision.retry_after:
            return too_many(decision.retry_after, body.username, source, "failures")
        if decision.delay:
            await sleep(decision.delay)
        # bcrypt/argon2 take a few hundred ms: off the event loop
        ok = await run_in_threadpool(accounts.check, body.username, body.password)
        if not ok:
            lockout.failure(body.username, source)
            log.warning("login failed", extra={"fields": {**who(body.username), "source": source}})
            if decision.source_retry_after:
                return too_many(decision.source_retry_after, body.username, source, "source")
            metrics.logins.labels("bad_credentials").inc()
            return JSONResponse({"detail": BAD_CREDENTIALS}, status_code=401,
                                headers={"WWW-Authenticate": 'Bearer realm="griddb-todo"', **NO_STORE})
        lockout.success(body.username, source)
        metrics.logins.labels("success").inc()
        now = int(clock())
        claims = {
            "iss": settings.issuer,
            "aud": settings.audience,
            "sub": body.username,
            "iat": now,
            "nbf": now,
            "exp": now + settings.token_ttl_seconds,
            "jti": uuid.uuid4().hex,
        }
        signed = jwt.encode(claims, key.private_key, algorithm="ES256",
                            headers={"kid": key.kid, "typ": "JWT"})
        log.info("login succeeded", extra={"fields": {"user": body.username, "kid": key.kid,
                                                      "source": source}})
        return JSONResponse(
            {"access_token": signed, "token_type": "Bearer",
             "expires_in": settings.token_ttl_seconds},
            headers=NO_STORE)

    @app.get("/.well-known/jwks.json", response_model=Jwks,
             summary="Public keys that verify this service's tokens")
    def jwks():
        until = settings.previous_key_until
        keys = retired if until is not None and clock() >= until else published
        return JSONResponse({"keys": keys}, headers={"Cache-Control": "public, max-age=300"})

    @app.get("/healthz", response_model=Status, summary="Liveness: the process answers")
    def healthz():
        return {"status": "ok"}

    @app.get("/readyz", response_model=Status,
             responses={503: {"model": Status, "description": "accounts file unreadable"}},
             summary="Readiness: key loaded and accounts file readable")
    def readyz():
        accounts.reload_if_changed()
        if not accounts.healthy:
            return JSONResponse({"status": "accounts file unavailable"}, status_code=503)
        return {"status": "ready"}

    return app

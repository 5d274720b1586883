"""The auth HTTP API (FastAPI)."""

from __future__ import annotations

import logging
import time
import uuid

import jwt
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from .accounts import AccountStore
from .keys import SigningKey, load_signing_key
from .lockout import Lockout
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


def allow_header_405(app):
    """405 answers list every method the path supports (Starlette lists only one route's)."""
    from starlette.exceptions import HTTPException as StarletteHTTPException
    from starlette.routing import Match

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, exc):
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            methods = set()
            for route in app.router.routes:
                match, _ = route.matches(request.scope)
                if match != Match.NONE and getattr(route, "methods", None):
                    methods |= set(route.methods)
            if methods:
                headers["Allow"] = ", ".join(sorted(methods))
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)


def create_app(settings: Settings, *, key: SigningKey | None = None,
               accounts: AccountStore | None = None, lockout: Lockout | None = None,
               clock=time.time) -> FastAPI:
    """Build the app. Fails fast if the signing key or the accounts file is unusable."""
    key = key or load_signing_key(settings.signing_key_file)
    accounts = accounts or AccountStore(settings.accounts_file)
    lockout = lockout or Lockout(settings.lockout_max_failures, settings.lockout_window_seconds)
    log.info("signing key loaded", extra={"fields": {"kid": key.kid}})

    app = FastAPI(title="griddb-todo auth", version="1.0.0", docs_url=None, redoc_url=None)
    app.state.lockout = lockout
    allow_header_405(app)
    app.state.accounts = accounts

    @app.middleware("http")
    async def access_log(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        log.info("request", extra={"fields": {
            "method": request.method, "path": request.url.path, "status": response.status_code,
            "ms": round((time.perf_counter() - started) * 1000, 1)}})
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    @app.post(
        "/token",
        response_model=TokenResponse,
        responses={
            400: {"model": ErrorResponse, "description": "body is not parseable JSON"},
            401: {"model": ErrorResponse, "description": "wrong or unknown credentials"},
            429: {"model": ErrorResponse, "description": "too many failed logins for this username",
                  "headers": {"Retry-After": {"schema": {"type": "integer"},
                                              "description": "seconds to wait"}}},
        },
        summary="Exchange a username and password for a signed JWT (ES256)",
    )
    def token(body: TokenRequest):
        wait = lockout.retry_after(body.username)
        if wait:
            log.warning("login refused: locked out", extra={"fields": {"user": body.username}})
            return JSONResponse(
                {"detail": f"too many failed logins; try again in {wait} seconds"},
                status_code=429, headers={"Retry-After": str(wait), **NO_STORE})
        if not accounts.check(body.username, body.password):
            lockout.failure(body.username)
            log.warning("login failed", extra={"fields": {"user": body.username}})
            return JSONResponse({"detail": BAD_CREDENTIALS}, status_code=401,
                                headers={"WWW-Authenticate": 'Bearer realm="griddb-todo"', **NO_STORE})
        lockout.success(body.username)
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
        log.info("login succeeded", extra={"fields": {"user": body.username, "kid": key.kid}})
        return JSONResponse(
            {"access_token": signed, "token_type": "Bearer",
             "expires_in": settings.token_ttl_seconds},
            headers=NO_STORE)

    @app.get("/.well-known/jwks.json", response_model=Jwks,
             summary="Public keys that verify this service's tokens")
    def jwks():
        return JSONResponse({"keys": [key.jwk]}, headers={"Cache-Control": "public, max-age=300"})

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

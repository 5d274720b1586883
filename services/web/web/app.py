"""The web HTTP API and UI (FastAPI)."""

import logging
import time
from pathlib import Path
from typing import Annotated

import httpx
from fastapi import Depends, FastAPI, Path as PathParam, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, field_validator, model_validator

from .asgi import HeadAsGet, SecurityHeaders, StrictJsonBody, install_error_handlers
from .http_metrics import MeasureRequests
from .metrics import WebMetrics
from .settings import Settings
from .store import InvalidValue, StoreUnavailable, TodoStore, is_todo_id
from .titles import TITLE_DESCRIPTION, TITLE_SCHEMA, clean_title
from .tokens import InvalidToken, KeysUnavailable, TokenVerifier

log = logging.getLogger("web")
STATIC = Path(__file__).parent / "static"
# web tells auth the client address it saw (auth trusts it only when configured to: its
# AUTH_TRUSTED_CLIENT_HEADER names this header); a client's own value is never passed on.
CLIENT_ADDRESS_HEADER = "X-Todo-Client-Address"

# Scripts, styles and API calls only from this origin; no inline code, no framing, no plugins.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


STORE_DOWN = "todo storage (GridDB) is unavailable; please try again shortly"


class TodoCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: StrictStr = Field(description=TITLE_DESCRIPTION, json_schema_extra=TITLE_SCHEMA)

    @field_validator("title")
    @classmethod
    def _title(cls, v):
        return clean_title(v)


class TodoPatch(BaseModel):
    # Both fields are optional but not nullable; at least one must be given.
    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})
    title: StrictStr = Field(default=None, description="new title (same rules as on create)",
                             json_schema_extra=TITLE_SCHEMA)
    done: StrictBool = Field(default=None, description="new done state")

    @field_validator("title")
    @classmethod
    def _title(cls, v):
        return None if v is None else clean_title(v)

    @model_validator(mode="after")
    def _something(self):
        if self.title is None and self.done is None:
            raise ValueError("give title and/or done")
        return self


class TodoOut(BaseModel):
    id: str
    title: str
    done: bool
    created_at: str = Field(description="ISO 8601, UTC")


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class LoginResponse(BaseModel):
    access_token: str
    token_type: str
    expires_in: int


class Error(BaseModel):
    detail: str


class ValidationErrorOut(BaseModel):
    detail: str = Field(description="human-readable summary")
    errors: list[dict] = Field(description="one entry per problem: loc, msg")


class Status(BaseModel):
    status: str


R401 = {401: {"model": Error, "description": "missing, expired or invalid token"}}
R503 = {503: {"model": Error, "description": "storage or auth unavailable"}}
R404 = {404: {"model": Error, "description": "no such todo for this user"}}
R422 = {422: {"model": ValidationErrorOut, "description": "invalid input"},
        400: {"model": Error, "description": "body is not strict JSON (RFC 8259 / I-JSON: no NaN, "
                                              "no lone surrogates, no duplicate names, UTF-8)"},
        413: {"model": Error, "description": "body larger than 64 KiB"}}

TodoId = Annotated[str, PathParam(max_length=64, description="server-assigned id (32 hex digits)")]


def post_token(auth_client: httpx.Client, credentials: dict, headers: dict) -> httpx.Response:
    """POST /token, once more if auth had closed the kept-alive connection the first try went
    out on (an auth pod that is stopping closes its idle connections) or no connection could be
    made. Either way auth never read that request, so the retry counts no failed login twice."""
    try:
        return auth_client.post("/token", json=credentials, headers=headers)
    except (httpx.ConnectError, httpx.RemoteProtocolError):
        return auth_client.post("/token", json=credentials, headers=headers)


def create_app(settings: Settings, store: TodoStore, verifier: TokenVerifier,
               auth_client: httpx.Client | None = None, metrics: WebMetrics | None = None) -> FastAPI:
    """`metrics`: where the app counts (its own registry unless given; __main__ serves it)."""
    app = FastAPI(title="griddb-todo web", version="1.0.0", docs_url=None, redoc_url=None,
                  redirect_slashes=False)  # install_error_handlers redirects, relatively
    app.state.store = store
    metrics = metrics or WebMetrics()
    app.state.metrics = metrics
    store = metrics.watch_store(store)  # the routes below use the measured store
    install_error_handlers(app)
    auth_client = auth_client or httpx.Client(base_url=settings.auth_url, timeout=5.0)

    # added innermost first: SecurityHeaders wraps everything, a 500 included; MeasureRequests
    # wraps SecurityHeaders, so it counts the status the client got
    app.add_middleware(StrictJsonBody)
    app.add_middleware(HeadAsGet)
    app.add_middleware(SecurityHeaders, headers=SECURITY_HEADERS, log=log,
                       prefix_headers={"/api/": {"Cache-Control": "no-store"}})
    app.add_middleware(MeasureRequests, metrics=metrics.http, routes=app.router.routes)

    @app.exception_handler(InvalidValue)
    async def invalid_value(request: Request, exc: InvalidValue):
        return JSONResponse({"detail": str(exc), "errors": [{"loc": "body", "msg": str(exc)}]},
                            status_code=422)

    @app.exception_handler(StoreUnavailable)
    async def store_down(request: Request, exc: StoreUnavailable):
        return JSONResponse({"detail": STORE_DOWN}, status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(KeysUnavailable)
    async def keys_down(request: Request, exc: KeysUnavailable):
        return JSONResponse({"detail": "auth service unavailable; please try again shortly"},
                            status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(InvalidToken)
    async def bad_token(request: Request, exc: InvalidToken):
        metrics.token_rejections.labels(exc.reason).inc()
        return JSONResponse({"detail": str(exc)}, status_code=401,
                            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})

    bearer = HTTPBearer(auto_error=False, bearerFormat="JWT",
                        description="a token from POST /api/login (ES256, signed by auth)")

    # The todo routes are coroutines: a sync route and a sync dependency each cost a hop to
    # a worker thread and back, which measured at 400 req/s took more of the event loop than
    # the requests' own work. What may block (a JWKS fetch, a GridDB call) still runs on a
    # thread; a token seen before and the memory store are answered on the loop.
    async def owner(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> str:
        if creds is None or creds.scheme.lower() != "bearer" or not creds.credentials:
            raise InvalidToken("missing bearer token", "missing")
        claims = verifier.cached(creds.credentials)
        if claims is None:
            claims = await run_in_threadpool(verifier.verify, creds.credentials)
        return claims["sub"]

    async def in_store(call, *args, **kwargs):
        if getattr(store, "blocking", True):
            return await run_in_threadpool(call, *args, **kwargs)
        return call(*args, **kwargs)

    Owner = Annotated[str, Depends(owner)]

    # ---- UI -------------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    async def index():
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str):
        allowed = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}
        if name not in allowed:
            return JSONResponse({"detail": "not found"}, status_code=404)
        return FileResponse(STATIC / name, media_type=allowed[name],
                            headers={"Cache-Control": "no-cache"})

    # ---- probes ---------------------------------------------------------------------------
    @app.get("/healthz", response_model=Status, summary="Liveness: the process answers")
    async def healthz():
        return {"status": "ok"}

    @app.get("/startupz", response_model=Status,
             responses={503: {"model": Status, "description": "still making its first connection"}},
             summary="Started: the store has made its first connection attempt, whatever its outcome")
    def startupz():
        # The pod's startup probe: a new pod joins the Service once it knows whether GridDB is
        # there, so a rollout never sends users to a pod that would answer 503 only because it
        # has not connected yet. With GridDB away the attempt fails and the pod joins anyway.
        if store.first_attempt_done():
            return {"status": "started"}
        return JSONResponse({"status": "starting"}, status_code=503)

    @app.get("/readyz", response_model=Status,
             responses={503: {"model": Status, "description": "GridDB unreachable"}},
             summary="Whether the todo storage is reachable")
    async def readyz():
        if store.ready():
            return {"status": "ready"}
        return JSONResponse({"status": "storage unavailable"}, status_code=503)

    # ---- login ----------------------------------------------------------------------------
    @app.post("/api/login", response_model=LoginResponse,
              responses={401: {"model": Error, "description": "wrong username or password"},
                         429: {"model": Error, "description": "too many failed logins"},
                         **R503, **R422},
              summary="Forward credentials to auth and return its token")
    def login(body: LoginRequest, request: Request):
        client_address = request.client.host if request.client else ""
        try:
            resp = post_token(auth_client, {"username": body.username, "password": body.password},
                              {CLIENT_ADDRESS_HEADER: client_address})
        except httpx.HTTPError:
            log.warning("auth unreachable")
            return JSONResponse({"detail": "auth service unavailable; please try again shortly"},
                                status_code=503, headers={"Retry-After": "5"})
        if resp.status_code == 200:
            data = resp.json()
            return {"access_token": data["access_token"], "token_type": data["token_type"],
                    "expires_in": data["expires_in"]}
        if resp.status_code == 401:
            return JSONResponse({"detail": "wrong username or password"}, status_code=401)
        if resp.status_code == 429:
            headers = {}
            if "retry-after" in resp.headers:
                headers["Retry-After"] = resp.headers["retry-after"]
            return JSONResponse({"detail": resp.json().get("detail", "too many failed logins")},
                                status_code=429, headers=headers)
        log.warning("auth answered unexpectedly", extra={"fields": {"status": resp.status_code}})
        return JSONResponse({"detail": "auth service unavailable; please try again shortly"},
                            status_code=503)

    # ---- todos ----------------------------------------------------------------------------
    @app.get("/api/todos", response_model=list[TodoOut], responses={**R401, **R503},
             summary="The caller's todos, oldest first")
    async def list_todos(user: Owner):
        return [t.public() for t in await in_store(store.list, user)]

    @app.post("/api/todos", status_code=201, response_model=TodoOut,
              responses={**R401, **R422, **R503}, summary="Create a todo")
    async def create_todo(body: TodoCreate, user: Owner):
        return (await in_store(store.create, user, body.title)).public()

    @app.patch("/api/todos/{todo_id}", response_model=TodoOut,
               responses={**R401, **R404, **R422, **R503},
               summary="Rename and/or mark done/undone")
    async def patch_todo(todo_id: TodoId, body: TodoPatch, user: Owner):
        todo = None if not is_todo_id(todo_id) else await in_store(
            store.update, user, todo_id, title=body.title, done=body.done)
        if todo is None:
            return JSONResponse({"detail": "todo not found"}, status_code=404)
        return todo.public()

    @app.delete("/api/todos/{todo_id}", status_code=204, response_class=Response,
                responses={**R401, **R404, **R422, **R503}, summary="Delete a todo")
    async def delete_todo(todo_id: TodoId, user: Owner):
        if not is_todo_id(todo_id) or not await in_store(store.delete, user, todo_id):
            return JSONResponse({"detail": "todo not found"}, status_code=404)
        return Response(status_code=204)

    return app

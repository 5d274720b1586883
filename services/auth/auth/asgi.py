"""HTTP hardening shared by auth and web (the same file is in both services; a test checks).

Pure ASGI middleware, outermost first:
- SecurityHeaders: the given headers on every response, a 500 included (an unhandled error
  becomes {"detail": "internal error"} here, logged with its type and place only), and one
  access-log line per request (method, path, status, ms; never headers or bodies).
- HeadAsGet: HEAD is answered as GET without the body (FastAPI routes list GET only).
- StrictJsonBody: a JSON body is read whole and must be strict JSON (strictjson.parse), else
  400; past max_bytes, 413. The app then reads the same bytes.
install_error_handlers adds: 405 with an Allow header naming every method of the path; the
trailing-slash redirect with a relative Location (never built from the Host header); 422
bodies that name the field and the problem but never echo the value (it may be a password);
and malformed JSON as 400 should anything reach FastAPI's own parser.
"""

from __future__ import annotations

import json
import logging
import time
from email.message import Message

from .strictjson import BadJson, parse

LOC_PART_MAX = 40  # a member name is echoed in a 422's loc; a hostile one is cut short


async def send_json(send, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
    body = json.dumps(payload).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _header(scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", ()):
        if k.lower() == name:
            return v.decode("latin-1")
    return None


class SecurityHeaders:
    def __init__(self, app, headers: dict[str, str], log: logging.Logger,
                 prefix_headers: dict[str, dict[str, str]] | None = None):
        self.app = app
        self.log = log
        self.common = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        self.by_prefix = [(p, self.common + [(k.lower().encode(), v.encode()) for k, v in h.items()])
                          for p, h in (prefix_headers or {}).items()]

    def _extra(self, path: str):
        for prefix, headers in self.by_prefix:
            if path.startswith(prefix):
                return headers
        return self.common

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path = scope["path"]
        extra = self._extra(path)
        state = {"status": 500, "started": False}

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                state["status"], state["started"] = message["status"], True
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers.extend((k, v) for k, v in extra if k not in present)
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:  # noqa: BLE001 - the one place that turns any failure into a clean 500
            self.log.error("unhandled error", exc_info=True,
                           extra={"fields": {"method": scope["method"], "path": path}})
            state["status"] = 500
            if not state["started"]:
                await send_json(send_with_headers, 500, {"detail": "internal error"},
                                {"Cache-Control": "no-store"})
        finally:
            self.log.info("request", extra={"fields": {
                "method": scope["method"], "path": path, "status": state["status"],
                "ms": round((time.perf_counter() - started) * 1000, 1)}})


class HeadAsGet:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message):
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return True  # FastAPI parses a body without a content type as JSON too
    m = Message()
    m["content-type"] = content_type
    sub = m.get_content_subtype()
    return m.get_content_maintype() == "application" and (sub == "json" or sub.endswith("+json"))


class StrictJsonBody:
    def __init__(self, app, max_bytes: int = 64 * 1024):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if (scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH")
                or not _is_json(_header(scope, b"content-type"))):
            await self.app(scope, receive, send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await send_json(send, 413, {"detail": f"request body is larger than {self.max_bytes} bytes"})
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body:
            try:
                parse(body)
            except BadJson as exc:
                await send_json(send, 400, {"detail": f"request body is not valid JSON: {exc}"})
                return
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def install_error_handlers(app) -> None:
    """405 Allow, relative trailing-slash redirects, 422 without values, JSON errors as 400.
    The app must be created with redirect_slashes=False (the redirect is made here instead)."""
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, Response
    from starlette.exceptions import HTTPException as StarletteHTTPException
    from starlette.routing import Match

    def matching_methods(scope) -> tuple[bool, set[str]]:
        found, methods = False, set()
        for route in app.router.routes:
            match, _ = route.matches(scope)
            if match != Match.NONE:
                found = True
                methods |= set(getattr(route, "methods", None) or ())
        return found, methods

    def toggle_slash(path: str) -> str:
        return path[:-1] if path.endswith("/") else path + "/"

    def slash_redirect(request) -> str | None:
        """The same path with one trailing slash added or removed, if that one is a route.
        Built from the raw (still percent-encoded) path, and only where the raw and decoded
        paths end alike: an encoded slash (%2F) must not turn into a redirect loop."""
        path = request.scope["path"]
        raw = (request.scope.get("raw_path") or path.encode()).decode("latin-1")
        if path == "/" or path.startswith("//") or raw.endswith("/") != path.endswith("/"):
            return None
        other, location = toggle_slash(path), toggle_slash(raw)
        if not other.startswith("/") or other.startswith("//") or location.startswith("//"):
            return None
        found, _ = matching_methods({**request.scope, "path": other})
        if not found:
            return None
        query = request.scope.get("query_string", b"").decode("latin-1")
        return location + ("?" + query if query else "")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, exc):
        headers = dict(exc.headers or {})
        if exc.status_code == 404 and not matching_methods(request.scope)[0]:
            location = slash_redirect(request)
            if location:
                return Response(status_code=307, headers={"Location": location})
        if exc.status_code == 405:
            _, methods = matching_methods(request.scope)
            if methods:
                headers["Allow"] = ", ".join(sorted(methods | ({"HEAD"} if "GET" in methods else set())))
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request, exc: RequestValidationError):
        errors = []
        for e in exc.errors():
            if e.get("type") == "json_invalid":
                return JSONResponse({"detail": "request body is not valid JSON"}, status_code=400)
            loc = ".".join(str(p)[:LOC_PART_MAX] for p in e.get("loc", ()) if p != "body") or "body"
            msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
            errors.append({"loc": loc, "msg": msg})
        summary = "; ".join(f"{e['loc']}: {e['msg']}" for e in errors)
        return JSONResponse({"detail": summary, "errors": errors}, status_code=422)

"""web's todo routes on the event loop: what may block (a GridDB call, a JWKS fetch) runs on a
thread, so one slow call never holds up other requests; a memory-store call and a token seen
before are answered on the loop itself (measured: the thread hops cost more than the work)."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest

from web.store import MemoryStore

ISSUER, AUDIENCE = "griddb-todo-auth", "griddb-todo-web"


class RecordingMemoryStore(MemoryStore):
    def __init__(self):
        super().__init__()
        self.threads: list[str] = []

    def list(self, owner):
        self.threads.append(threading.current_thread().name)
        return super().list(owner)


class SlowBlockingStore(MemoryStore):
    """Stands in for GridDB: every list waits 0.5 s on I/O."""
    blocking = True

    def list(self, owner):
        time.sleep(0.5)
        return super().list(owner)


def app_with(store, minter):
    from web.app import create_app
    from web.settings import Settings
    from web.tokens import TokenVerifier

    return create_app(Settings(store="memory"), store, TokenVerifier(lambda: {"keys": [minter.jwk]}, ISSUER, AUDIENCE))


def test_a_blocking_store_call_does_not_hold_up_other_requests(minter):
    app = app_with(SlowBlockingStore(), minter)
    headers = {"Authorization": f"Bearer {minter.token()}"}

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://web.test") as client:
            slow = asyncio.create_task(client.get("/api/todos", headers=headers))
            await asyncio.sleep(0.05)
            started = time.monotonic()
            health = await client.get("/healthz")
            answered_in = time.monotonic() - started
            assert (await slow).status_code == 200
            return health.status_code, answered_in

    status, answered_in = asyncio.run(scenario())
    assert status == 200 and answered_in < 0.3, answered_in


def test_memory_store_and_a_known_token_are_served_on_the_event_loop(minter):
    store = RecordingMemoryStore()
    app = app_with(store, minter)
    headers = {"Authorization": f"Bearer {minter.token()}"}

    async def scenario():
        loop_thread = threading.current_thread().name
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://web.test") as client:
            for _ in range(3):
                assert (await client.get("/api/todos", headers=headers)).status_code == 200
        return loop_thread

    loop_thread = asyncio.run(scenario())
    assert store.threads == [loop_thread] * 3


def test_store_outage_on_the_inline_path_is_still_503(minter):
    store = MemoryStore()
    store.available = False
    app = app_with(store, minter)
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        r = client.get("/api/todos", headers={"Authorization": f"Bearer {minter.token()}"})
    assert r.status_code == 503 and r.headers["retry-after"] == "5"


def test_cached_answers_only_what_verify_would_without_fetching(minter):
    from web.tokens import TokenVerifier

    now = {"t": 1000.0}
    keys = {"keys": [minter.jwk]}
    verifier = TokenVerifier(lambda: keys, ISSUER, AUDIENCE, clock=lambda: now["t"])
    token = minter.token("alice")
    assert verifier.cached(token) is None  # never verified: the caller must verify
    assert verifier.verify(token)["sub"] == "alice"
    assert verifier.cached(token)["sub"] == "alice"
    assert verifier.cached(minter.token("bob")) is None
    now["t"] += verifier.max_key_age + 1  # key set stale: verify would refetch first
    assert verifier.cached(token) is None
    keys["keys"] = []  # auth retired the key
    with pytest.raises(Exception):
        verifier.verify(token)
    assert verifier.cached(token) is None


def test_cached_refuses_an_expired_token(minter):
    from web.tokens import TokenVerifier

    verifier = TokenVerifier(lambda: {"keys": [minter.jwk]}, ISSUER, AUDIENCE, leeway=0)
    now = int(time.time())
    token = minter.token("alice", iat=now - 10, exp=now + 1)
    assert verifier.verify(token)["sub"] == "alice"
    time.sleep(1.1)
    assert verifier.cached(token) is None

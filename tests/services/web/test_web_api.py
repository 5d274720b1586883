"""web: the todo API with the memory store (CRUD, ownership, validation, outages, login)."""

from __future__ import annotations

import pytest


def test_crud_roundtrip(client, auth_header):
    h = auth_header("alice")
    assert client.get("/api/todos", headers=h).json() == []
    r = client.post("/api/todos", json={"title": "  buy milk  "}, headers=h)
    assert r.status_code == 201
    todo = r.json()
    assert todo["title"] == "buy milk" and todo["done"] is False
    assert len(todo["id"]) == 32 and todo["created_at"].endswith("Z")
    second = client.post("/api/todos", json={"title": "walk"}, headers=h).json()
    assert [t["id"] for t in client.get("/api/todos", headers=h).json()] == [todo["id"], second["id"]]

    r = client.patch(f"/api/todos/{todo['id']}", json={"done": True}, headers=h)
    assert r.status_code == 200 and r.json()["done"] is True and r.json()["title"] == "buy milk"
    r = client.patch(f"/api/todos/{todo['id']}", json={"title": "buy oat milk"}, headers=h)
    assert r.json() == {**todo, "title": "buy oat milk", "done": True}
    r = client.patch(f"/api/todos/{todo['id']}", json={"done": False, "title": "x"}, headers=h)
    assert (r.json()["done"], r.json()["title"]) == (False, "x")

    assert client.delete(f"/api/todos/{todo['id']}", headers=h).status_code == 204
    assert [t["id"] for t in client.get("/api/todos", headers=h).json()] == [second["id"]]
    assert client.delete(f"/api/todos/{todo['id']}", headers=h).status_code == 404


def test_server_assigns_ids(client, auth_header):
    h = auth_header()
    r = client.post("/api/todos", json={"title": "a", "id": "mine"}, headers=h)
    assert r.status_code == 422
    ids = {client.post("/api/todos", json={"title": "a"}, headers=h).json()["id"] for _ in range(5)}
    assert len(ids) == 5


def test_todos_belong_to_the_token_subject(client, auth_header):
    alice, bob = auth_header("alice"), auth_header("bob")
    a = client.post("/api/todos", json={"title": "alice's"}, headers=alice).json()
    assert client.get("/api/todos", headers=bob).json() == []
    assert client.patch(f"/api/todos/{a['id']}", json={"done": True}, headers=bob).status_code == 404
    assert client.patch(f"/api/todos/{a['id']}", json={"title": "pwned"}, headers=bob).status_code == 404
    assert client.delete(f"/api/todos/{a['id']}", headers=bob).status_code == 404
    assert client.get("/api/todos", headers=alice).json() == [a]  # untouched


def test_unknown_id_is_404(client, auth_header):
    r = client.patch("/api/todos/doesnotexist", json={"done": True}, headers=auth_header())
    assert r.status_code == 404 and r.json() == {"detail": "todo not found"}


@pytest.mark.parametrize("body,needle", [
    ({}, "title: Field required"),
    ({"title": ""}, "title must not be empty"),
    ({"title": "    "}, "title must not be empty"),
    ({"title": "x" * 201}, "at most 200 characters"),
    ({"title": 5}, "valid string"),
    ({"title": None}, "valid string"),
    ({"title": "a\nb"}, "control characters"),
    ({"title": "ok", "owner": "bob"}, "Extra inputs"),
])
def test_create_validation(client, auth_header, body, needle):
    r = client.post("/api/todos", json=body, headers=auth_header())
    assert r.status_code == 422
    assert needle in r.json()["detail"], r.json()
    assert client.get("/api/todos", headers=auth_header()).json() == []


def test_title_is_stored_stripped_and_limit_counts_the_trimmed_title(client, auth_header):
    r = client.post("/api/todos", json={"title": " " + "x" * 198 + " "}, headers=auth_header())
    assert r.status_code == 201 and r.json()["title"] == "x" * 198
    r = client.post("/api/todos", json={"title": "x" * 200}, headers=auth_header())
    assert r.status_code == 201
    r = client.post("/api/todos", json={"title": " " + "x" * 200}, headers=auth_header())
    assert r.status_code == 201 and r.json()["title"] == "x" * 200


@pytest.mark.parametrize("body,needle", [
    ({}, "give title and/or done"),
    ({"done": "yes"}, "valid boolean"),
    ({"done": 1}, "valid boolean"),
    ({"done": None}, "valid boolean"),
    ({"title": None, "done": None}, "valid string"),
    ({"title": " "}, "must not be empty"),
])
def test_patch_validation(client, auth_header, body, needle):
    h = auth_header()
    t = client.post("/api/todos", json={"title": "a"}, headers=h).json()
    r = client.patch(f"/api/todos/{t['id']}", json=body, headers=h)
    assert r.status_code == 422 and needle in r.json()["detail"], r.json()


def test_malformed_json_is_400(client, auth_header):
    r = client.post("/api/todos", content=b"{nope", headers={**auth_header(), "Content-Type": "application/json"})
    assert r.status_code == 400


def test_store_down_gives_503_with_a_clear_message(client, auth_header, web_app):
    h = auth_header()
    t = client.post("/api/todos", json={"title": "a"}, headers=h).json()
    web_app.state.store.available = False
    for method, url, body in (("GET", "/api/todos", None), ("POST", "/api/todos", {"title": "b"}),
                              ("PATCH", f"/api/todos/{t['id']}", {"done": True}),
                              ("DELETE", f"/api/todos/{t['id']}", None)):
        r = client.request(method, url, json=body, headers=h)
        assert r.status_code == 503, (method, url)
        assert "unavailable" in r.json()["detail"]
        assert r.headers["retry-after"] == "5"
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200
    assert client.get("/").status_code == 200  # the UI still loads
    web_app.state.store.available = True
    assert client.get("/readyz").status_code == 200
    assert len(client.get("/api/todos", headers=h).json()) == 1


def test_login_forwards_to_auth(client):
    r = client.post("/api/login", json={"username": "alice", "password": "alice-pass"})
    assert r.status_code == 200 and r.json() == {"access_token": "tok", "token_type": "Bearer", "expires_in": 900}
    r = client.post("/api/login", json={"username": "alice", "password": "wrong"})
    assert r.status_code == 401 and r.json() == {"detail": "wrong username or password"}
    r = client.post("/api/login", json={"username": "locked", "password": "x"})
    assert r.status_code == 429 and r.headers["retry-after"] == "42"
    r = client.post("/api/login", json={"username": "broken", "password": "x"})
    assert r.status_code == 503
    assert client.post("/api/login", json={"username": "alice"}).status_code == 422


def test_login_when_auth_is_unreachable(web_app):
    import httpx
    from fastapi.testclient import TestClient
    from web.app import create_app
    from web.settings import Settings

    def down(request):
        raise httpx.ConnectError("refused")
    app = create_app(Settings(store="memory"), web_app.state.store, web_app.state.verifier,
                     auth_client=httpx.Client(base_url="http://a", transport=httpx.MockTransport(down)))
    r = TestClient(app).post("/api/login", json={"username": "alice", "password": "x"})
    assert r.status_code == 503 and "auth service unavailable" in r.json()["detail"]


def test_ui_and_security_headers(client):
    r = client.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert '<script src="/static/app.js" defer></script>' in r.text
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert client.get("/static/app.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/static/style.css").status_code == 200
    assert client.get("/static/../app.py").status_code == 404
    assert client.get("/static/index.html").status_code == 404


def test_openapi_is_served_and_declares_bearer(client):
    spec = client.get("/openapi.json").json()
    assert {"/api/login", "/api/todos", "/api/todos/{todo_id}", "/healthz", "/readyz"} <= set(spec["paths"])
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


@pytest.mark.parametrize(("first_error", "retried"), [
    ("connection closed by a stopping auth pod", True),
    ("connection refused", True),
    ("read timeout", False),  # auth may be checking the password: never send it twice
])
def test_login_is_retried_once_only_when_auth_never_read_it(web_app, first_error, retried):
    import httpx
    from fastapi.testclient import TestClient
    from web.app import create_app
    from web.settings import Settings

    errors = {"connection closed by a stopping auth pod": httpx.RemoteProtocolError("Server disconnected"),
              "connection refused": httpx.ConnectError("refused"),
              "read timeout": httpx.ReadTimeout("slow")}
    calls = []

    def flaky(request):
        calls.append(request)
        if len(calls) == 1:
            raise errors[first_error]
        return httpx.Response(200, json={"access_token": "tok", "token_type": "Bearer", "expires_in": 900})
    app = create_app(Settings(store="memory"), web_app.state.store, web_app.state.verifier,
                     auth_client=httpx.Client(base_url="http://a", transport=httpx.MockTransport(flaky)))
    r = TestClient(app).post("/api/login", json={"username": "alice", "password": "x"})
    assert r.status_code == (200 if retried else 503)
    assert len(calls) == (2 if retried else 1)

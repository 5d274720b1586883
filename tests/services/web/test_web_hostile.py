"""web under attack (issue 13): hostile input never breaks a user's data, never gives a 500
without the security headers, and protocol details (HEAD, redirects) behave.

Bodies are sent as raw bytes so JSON escapes such as \\ud800 reach the server unchanged.
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings, strategies as st

JSON = {"Content-Type": "application/json"}


def post_raw(client, path, raw: bytes, headers, method="POST"):
    return client.request(method, path, content=raw, headers={**headers, **JSON})


# ---- 1. invalid Unicode and invisible characters in titles ---------------------------------

def test_lone_surrogate_title_is_refused_and_the_list_stays_readable(client, auth_header):
    h = auth_header()
    r = post_raw(client, "/api/todos", b'{"title":"a\\ud800b"}', h)
    assert r.status_code == 400, r.text
    assert "surrogate" in r.json()["detail"]
    listed = client.get("/api/todos", headers=h)
    assert listed.status_code == 200 and listed.json() == []
    # the same through PATCH of an existing todo
    t = client.post("/api/todos", json={"title": "fine"}, headers=h).json()
    r = post_raw(client, f"/api/todos/{t['id']}", b'{"title":"\\udfff"}', h, method="PATCH")
    assert r.status_code == 400
    assert client.get("/api/todos", headers=h).json() == [t]


@pytest.mark.parametrize("title,needle", [
    ("\u202eevil", "invisible or direction"),        # right-to-left override
    ("a\u2066b\u2069", "invisible or direction"),    # bidi isolates
    ("pay\u200bpal", "invisible or direction"),      # zero-width space
    ("\ufeffbom", "invisible or direction"),         # BOM / zero-width no-break space
    ("x\u2028y", "invisible or direction"),          # line separator
    ("non\ufdd0char", "noncharacter"),
    ("end\uffff", "noncharacter"),
    ("\u200d\u200d", "must not be empty"),           # only joiners: nothing visible
    ("\u0301\u0301", "must not be empty"),           # only combining marks
    ("\u3164 \u00ad", "must not be empty"),           # Hangul filler and soft hyphen
    ("tab\there", "control characters"),
])
def test_titles_with_invisible_or_invalid_characters_are_refused(client, auth_header, title, needle):
    h = auth_header()
    r = client.post("/api/todos", json={"title": title}, headers=h)
    assert r.status_code == 422, r.text
    assert needle in r.json()["detail"]
    assert client.get("/api/todos", headers=h).json() == []


def test_the_schema_pattern_and_the_validator_agree():
    """Each code point (alone, and between two letters) is judged alike by the published
    pattern and by clean_title, so schema-valid titles are accepted and no others."""
    import re
    import sys
    from web.titles import TITLE_SCHEMA, clean_title
    pattern = re.compile(TITLE_SCHEMA["pattern"])

    def valid(t):
        try:
            return clean_title(t) == t
        except ValueError:
            return False
    # every code point of the BMP, every 13th beyond (the tables name only BMP ranges)
    for cp in [*range(0x10000), *range(0x10000, sys.maxunicode + 1, 13), 0x1FFFE, 0x10FFFF]:
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        for t in (ch, "a" + ch + "b"):
            assert bool(pattern.search(t)) == valid(t), (hex(cp), t)


@pytest.mark.parametrize("title", ["👩‍💻 write code", "日本語のタスク", "ñandú", "x" * 200, "कार्य", "Ωμέγα"])
def test_ordinary_text_including_emoji_joiners_is_kept(client, auth_header, title):
    h = auth_header()
    r = client.post("/api/todos", json={"title": title}, headers=h)
    assert r.status_code == 201 and r.json()["title"] == title


def test_title_is_trimmed_before_its_length_is_measured(client, auth_header):
    h = auth_header()
    r = client.post("/api/todos", json={"title": "   " + "x" * 200 + "\u3000 "}, headers=h)
    assert r.status_code == 201 and r.json()["title"] == "x" * 200
    assert client.post("/api/todos", json={"title": "x" * 201}, headers=h).status_code == 422


def test_a_row_stored_before_the_checks_still_reads_back(client, auth_header, web_app):
    """Rows written before this rule (or by hand) may hold a lone surrogate: the list must
    still answer, with the unreadable character as U+FFFD."""
    from dataclasses import replace
    h = auth_header()
    t = client.post("/api/todos", json={"title": "ok"}, headers=h).json()
    store = web_app.state.store
    store._todos[t["id"]] = replace(store._todos[t["id"]], title="a\ud800b")
    r = client.get("/api/todos", headers=h)
    assert r.status_code == 200 and r.json()[0]["title"] == "a\ufffd\ufffd\ufffdb"


def test_store_refuses_an_unreadable_title_even_if_the_api_let_one_through():
    from web.store import InvalidValue, MemoryStore
    store = MemoryStore()
    with pytest.raises(InvalidValue):
        store.create("alice", "a\ud800b")
    t = store.create("alice", "ok")
    with pytest.raises(InvalidValue):
        store.update("alice", t.id, title="\udc00")
    assert [x.title for x in store.list("alice")] == ["ok"]


# Any code point, surrogates and controls included, with the troublesome ones drawn often.
TRICKY = ["\ud800", "\udfff", "\ud83d", "\u202e", "\u2066", "\u200b", "\u200d", "\ufeff", "\ufdd0",
          "\uffff", "\U0010fffe", "\x00", "\x7f", "\x85", "\u2028", "\u0301", " ", "\u3000", "'", '"', "\\"]
ANY_CHAR = st.one_of(st.sampled_from(TRICKY), st.characters(exclude_categories=()))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(title=st.lists(ANY_CHAR, max_size=210).map("".join))
def test_fuzz_title_never_breaks_the_list(client, auth_header, title):
    h = auth_header("fuzz")
    raw = json.dumps({"title": title}, ensure_ascii=True).encode()
    r = post_raw(client, "/api/todos", raw, h)
    assert r.status_code in (201, 400, 422), r.text
    listed = client.get("/api/todos", headers=h)
    assert listed.status_code == 200
    if r.status_code == 201:
        assert r.json() in listed.json()
        # what was stored is valid Unicode and encodes as UTF-8 both ways
        r.json()["title"].encode("utf-8")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(todo_id=st.lists(ANY_CHAR, min_size=1, max_size=80).map("".join),
       body=st.fixed_dictionaries({}, optional={
           "done": st.one_of(st.booleans(), st.none(), st.integers(), st.floats(), st.text(max_size=5)),
           "title": st.one_of(st.lists(ANY_CHAR, max_size=210).map("".join), st.none(), st.integers())}),
       real_id=st.booleans())
def test_fuzz_patch_and_delete_ids_and_values(client, auth_header, todo_id, body, real_id):
    h = auth_header("fuzz-ids")
    from urllib.parse import quote
    if real_id:
        todo_id = client.post("/api/todos", json={"title": "target"}, headers=h).json()["id"]
    path = "/api/todos/" + quote(todo_id.encode("utf-8", "surrogatepass"), safe="")
    raw = json.dumps(body, ensure_ascii=True, allow_nan=True).encode()
    r = post_raw(client, path, raw, h, method="PATCH")
    assert r.status_code in ((200, 400, 422) if real_id else (400, 404, 405, 422)), r.text
    assert client.delete(path, headers=h).status_code in ((204,) if real_id else (404, 405, 422))
    assert client.get("/api/todos", headers=h).status_code == 200


# ---- 2. malformed JSON is a 400 ------------------------------------------------------------

@pytest.mark.parametrize("raw", [
    b"{nope", b'{"title": NaN}', b'{"title": Infinity}', b'{"title": -Infinity}',
    b'{"title": 1e999999}', b"[" * 50000, b'{"title": "\xff\xfe"}',
    b'{"title": "a", "title": "b"}', b'{"title": "' + b"\\ud83d" + b'"}',
])
def test_malformed_json_is_400_with_a_clear_message(client, auth_header, raw):
    r = post_raw(client, "/api/todos", raw, auth_header())
    assert r.status_code == 400, r.text
    assert r.json()["detail"].startswith("request body is not valid JSON")
    assert r.headers["content-security-policy"]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(username=st.one_of(st.lists(ANY_CHAR, max_size=70).map("".join), st.integers(), st.none()),
       password=st.lists(ANY_CHAR, min_size=6, max_size=80).map("".join))
def test_fuzz_login_fields_never_5xx_never_echo(client, username, password):
    raw = json.dumps({"username": username, "password": password}, ensure_ascii=True).encode()
    r = post_raw(client, "/api/login", raw, {})
    assert r.status_code in (200, 400, 401, 422, 429, 503), r.text
    assert json.dumps(password)[1:-1] not in r.text


def test_login_with_hostile_json_is_400_and_never_echoes_the_password(client):
    for raw in (b'{"username": "alice", "password": NaN}', b'{"username":"\\ud800","password":"pw-secret-1"}'):
        r = post_raw(client, "/api/login", raw, {})
        assert r.status_code == 400 and "pw-secret-1" not in r.text
    r = client.post("/api/login", json={"username": "a" * 65, "password": "pw-secret-2", "x": 1})
    assert r.status_code == 422 and "pw-secret-2" not in r.text


def test_oversized_body_is_413(client, auth_header):
    r = post_raw(client, "/api/todos", b'{"title": "' + b"x" * 70000 + b'"}', auth_header())
    assert r.status_code == 413


# ---- 7. 500s carry the security headers; HEAD works; redirects are relative ----------------

def test_a_500_carries_the_security_headers_and_says_nothing_internal(web_app, auth_header):
    def broken(owner):
        raise RuntimeError("internal detail: /secret/path")
    web_app.state.store.list = broken
    c = TestClient(web_app, raise_server_exceptions=False)
    r = c.get("/api/todos", headers=auth_header())
    assert r.status_code == 500
    assert r.json() == {"detail": "internal error"}
    assert "secret" not in r.text
    for name in ("content-security-policy", "x-content-type-options", "referrer-policy", "x-frame-options"):
        assert name in r.headers, name
    assert r.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("path,auth", [("/", False), ("/healthz", False), ("/readyz", False),
                                        ("/static/app.js", False), ("/openapi.json", False),
                                        ("/api/todos", True)])
def test_head_on_get_routes(client, auth_header, path, auth):
    h = auth_header() if auth else {}
    get = client.get(path, headers=h)
    head = client.head(path, headers=h)
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers["content-security-policy"] == get.headers["content-security-policy"]


def test_head_where_there_is_no_get_is_405(client):
    r = client.head("/api/login")
    assert r.status_code == 405 and "POST" in r.headers["allow"]


def test_trailing_slash_redirect_is_relative_whatever_the_host_header(client, auth_header):
    r = client.get("/api/todos/?x=1", headers={**auth_header(), "Host": "evil.example"},
                   follow_redirects=False)
    assert r.status_code in (307, 308)
    assert r.headers["location"] == "/api/todos?x=1"
    r = client.get("/healthz/", headers={"Host": "evil.example"}, follow_redirects=False)
    assert r.headers["location"] == "/healthz"
    # a path that would read as another host is never redirected
    r = client.get("http://testserver//evil.example/", follow_redirects=False)
    assert r.status_code == 404 and "location" not in r.headers


# ---- 4. web tells auth which client it saw -------------------------------------------------

def test_login_forwards_the_client_address_it_saw_not_one_the_client_claims(web_app):
    import httpx
    from web.app import CLIENT_ADDRESS_HEADER, create_app
    from web.settings import Settings
    seen = []

    def fake_auth(request):
        seen.append(request.headers.get(CLIENT_ADDRESS_HEADER))
        return httpx.Response(401, json={"detail": "invalid username or password"})
    app = create_app(Settings(store="memory"), web_app.state.store, web_app.state.verifier,
                     auth_client=httpx.Client(base_url="http://a", transport=httpx.MockTransport(fake_auth)))
    c = TestClient(app, client=("203.0.113.7", 50000))
    c.post("/api/login", json={"username": "alice", "password": "x"},
           headers={"X-Forwarded-For": "198.51.100.1", CLIENT_ADDRESS_HEADER: "198.51.100.2"})
    assert seen == ["203.0.113.7"]


def _stores():
    from web.griddb_store import GridDBStore
    from web.store import MemoryStore
    down = MemoryStore()
    down.available = False
    # not started: no JVM, not connected; any call that reached GridDB would be a 503
    return {"memory": down, "griddb": GridDBStore("h:1", "c", "u", "p", start=False)}


@pytest.mark.parametrize("kind", ["memory", "griddb"])
@pytest.mark.parametrize("title", ["a\ud800b", "\u202eevil", " padded ", "x" * 201, "", "\x00"])
def test_both_stores_refuse_bad_values_before_touching_storage(kind, title):
    """The same rule, checked before any write, whichever store: an InvalidValue, not the
    StoreUnavailable a call to the (switched-off) storage would give."""
    from web.store import InvalidValue
    store = _stores()[kind]
    with pytest.raises(InvalidValue):
        store.create("alice", title)
    with pytest.raises(InvalidValue):
        store.update("alice", "0" * 32, title=title)
    with pytest.raises(InvalidValue):
        store.create("a\ud800", "fine")
    store.close()


@pytest.mark.parametrize("path", ["/api/todos/%2F", "/api/todos/%2F/", "/api/todos//", "/healthz%2F",
                                  "/api/todos/x/", "/api/todos/%2Fapi%2Ftodos/"])
def test_odd_slashes_never_loop(client, auth_header, path):
    r = client.get("http://testserver" + path, headers=auth_header(), follow_redirects=False)
    if r.status_code in (307, 308):
        nxt = client.get("http://testserver" + r.headers["location"], headers=auth_header(),
                         follow_redirects=False)
        assert nxt.status_code not in (307, 308), (path, r.headers["location"])
        assert r.headers["location"].startswith("/") and not r.headers["location"].startswith("//")
    else:
        assert r.status_code in (404, 405)

"""The UI in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright) through a
whole visit against real auth + web processes: wrong password, log in, add, toggle, rename,
delete, and the storage-unavailable message. Screenshots go to test-results/."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture()
def page(repo_root):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    with sync_api.sync_playwright() as pw:
        # a persistent context on a fresh, empty profile directory (= --user-data-dir)
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=ARGS, viewport={"width": 800, "height": 700})
        try:
            pg = context.pages[0] if context.pages else context.new_page()
            pg.set_default_timeout(10000)
            yield pg
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


def test_a_whole_visit(page, live_stack, repo_root):
    from playwright.sync_api import expect

    out = repo_root / "test-results"
    out.mkdir(exist_ok=True)
    console_errors = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.goto(live_stack["web"] + "/")

    # wrong password: an error announced in the alert region, focus back on the password
    expect(page.get_by_label("Username")).to_be_focused()
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("not-it")
    page.keyboard.press("Enter")
    status = page.locator("#status")
    expect(status).to_have_text("wrong username or password")
    expect(status).to_have_attribute("aria-live", "assertive")
    page.screenshot(path=str(out / "ui-1-wrong-password.png"))

    # log in
    page.get_by_label("Password").fill("alice-pass")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Your todos")).to_be_visible()
    expect(status).to_be_hidden()
    expect(page.get_by_label("New todo")).to_be_focused()
    assert page.evaluate("sessionStorage.getItem('griddb-todo.token')").count(".") == 2

    # add three todos with the keyboard only
    for title in ("Buy milk", "Water the plants", "Write the report"):
        page.keyboard.type(title)
        page.keyboard.press("Enter")
        expect(page.locator("#todos li", has_text=title)).to_be_visible()
    expect(page.locator("#todos li")).to_have_count(3)
    expect(page.locator("#count")).to_have_text("3 open, 0 done")

    # a blank title is refused with a message
    page.get_by_label("New todo").fill("   ")
    page.get_by_role("button", name="Add").click()
    expect(status).to_have_text("Enter a title for the new todo.")

    # toggle
    page.get_by_label("Done: Buy milk").check()
    expect(page.locator("#todos li.done", has_text="Buy milk")).to_be_visible()
    expect(page.locator("#count")).to_have_text("2 open, 1 done")

    # rename (Enter saves)
    page.get_by_role("button", name="Rename: Water the plants").click()
    edit = page.get_by_label("New title for Water the plants")
    expect(edit).to_be_focused()
    edit.fill("Water the tomatoes")
    edit.press("Enter")
    expect(page.locator("#todos li", has_text="Water the tomatoes")).to_be_visible()
    expect(page.locator("#todos li", has_text="Water the plants")).to_have_count(0)

    # delete
    page.get_by_role("button", name="Delete: Write the report").click()
    expect(page.locator("#todos li")).to_have_count(2)

    # survives a reload (token in sessionStorage, data in the server)
    page.reload()
    expect(page.locator("#todos li")).to_have_count(2)
    expect(page.locator("#todos li.done", has_text="Buy milk")).to_be_visible()
    page.screenshot(path=str(out / "ui-2-list.png"))

    # the server becomes unreachable: a clear message instead of a silent failure
    page.route("**/api/todos", lambda route: route.fulfill(
        status=503, content_type="application/json",
        body='{"detail": "todo storage (GridDB) is unavailable; please try again shortly"}'))
    page.get_by_label("New todo").fill("Will not be saved")
    page.keyboard.press("Enter")
    expect(status).to_contain_text("unavailable")
    page.unroute("**/api/todos")
    page.route("**/api/todos", lambda route: route.abort())
    page.get_by_role("button", name="Add").click()
    expect(status).to_have_text("The server cannot be reached. Check your connection and try again.")
    page.screenshot(path=str(out / "ui-3-server-unavailable.png"))
    page.unroute("**/api/todos")

    # log out clears the token
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('griddb-todo.token')") is None
    # CSP violations or script errors would show up here (the failed fetch above logs one)
    assert not [e for e in console_errors if "Content Security Policy" in e], console_errors

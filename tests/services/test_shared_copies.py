"""auth and web are separate build contexts, so the hardening code they share is copied:
the copies must stay identical (change one, copy it to the other)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("name", ["asgi.py", "strictjson.py", "jsonlog.py", "http_metrics.py"])
def test_shared_modules_are_identical(repo_root, name):
    auth = (repo_root / "services/auth/auth" / name).read_text()
    web = (repo_root / "services/web/web" / name).read_text()
    assert auth == web, f"services/auth/auth/{name} and services/web/web/{name} differ"

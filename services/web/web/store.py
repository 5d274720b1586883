"""The storage interface for todos and its in-memory implementation."""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Protocol


from .titles import clean_title


class StoreUnavailable(Exception):
    """The backing database cannot be reached right now (the API answers 503).

    `reason` is one of a few fixed words (a metric label): "not_connected" (no connection
    yet, or it was lost), "busy" (every connection was busy with other requests for too long;
    the connection is kept), "timeout" (the operation took too long), "failed" (the database
    refused or broke off the operation)."""

    def __init__(self, message: str, reason: str = "failed"):
        super().__init__(message)
        self.reason = reason


class InvalidValue(ValueError):
    """A value no store may write: it could not be read back (the API validates first)."""


ID_RE = re.compile(r"^[0-9a-f]{32}$")  # what new_id() makes; anything else cannot exist
OWNER_MAX = 128  # auth's names are at most 64 ASCII characters


def is_todo_id(todo_id: str) -> bool:
    return isinstance(todo_id, str) and ID_RE.fullmatch(todo_id) is not None


def check_owner(owner: str) -> None:
    if not isinstance(owner, str) or not 1 <= len(owner) <= OWNER_MAX or not owner.isprintable():
        raise InvalidValue("owner must be 1-128 printable characters")
    try:
        owner.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidValue("owner must be valid Unicode") from None


def check_title(title: str) -> None:
    """Every store calls this before it writes a title: the same rule for all of them."""
    if not isinstance(title, str):
        raise InvalidValue("title must be a string")
    try:
        ok = clean_title(title) == title
    except ValueError as exc:
        raise InvalidValue(str(exc)) from None
    if not ok:
        raise InvalidValue("title must be stored trimmed")


@dataclass(frozen=True)
class Todo:
    id: str
    owner: str
    title: str
    done: bool
    created_at: datetime  # UTC, millisecond precision

    def public(self) -> dict:
        # Titles are checked before every write; a row written before that check existed
        # (or by another program) could still hold a lone surrogate, which no JSON encoder
        # can send as UTF-8. Answer it as U+FFFD rather than fail the user's whole list.
        title = self.title.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        return {"id": self.id, "title": title, "done": self.done,
                "created_at": self.created_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")}


def new_id() -> str:
    return uuid.uuid4().hex


def now_utc() -> datetime:
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=(now.microsecond // 1000) * 1000)


class TodoStore(Protocol):
    """Every method may raise StoreUnavailable. Methods taking an id return None (or False)
    when no todo with that id belongs to owner, whether it does not exist or is someone else's
    (an id of the wrong form included). create and update raise InvalidValue, before anything
    is written, for a title or owner that check_title/check_owner refuse.

    `blocking`: True when a call waits on I/O (GridDB), so the API runs it off the event loop;
    False when it only takes a lock in memory, so the API calls it inline (a thread hop costs
    more than the call)."""

    blocking: bool

    def ready(self) -> bool: ...
    def first_attempt_done(self) -> bool: ...  # connected or failed once (the startup probe)
    def list(self, owner: str) -> list[Todo]: ...
    def create(self, owner: str, title: str) -> Todo: ...
    def update(self, owner: str, todo_id: str, *, title: str | None = None,
               done: bool | None = None) -> Todo | None: ...
    def delete(self, owner: str, todo_id: str) -> bool: ...
    def close(self) -> None: ...


class MemoryStore:
    """Process-local store for tests and benchmarks (TODO_STORE=memory). Data dies with the process."""

    blocking = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._todos: dict[str, Todo] = {}
        self.available = True  # tests flip this to simulate an outage

    def _check(self) -> None:
        if not self.available:
            raise StoreUnavailable("memory store switched off", "not_connected")

    def ready(self) -> bool:
        return self.available

    def first_attempt_done(self) -> bool:
        return True

    def list(self, owner: str) -> list[Todo]:
        check_owner(owner)
        self._check()
        with self._lock:
            items = [t for t in self._todos.values() if t.owner == owner]
        return sorted(items, key=lambda t: (t.created_at, t.id))

    def create(self, owner: str, title: str) -> Todo:
        check_owner(owner)
        check_title(title)
        self._check()
        todo = Todo(id=new_id(), owner=owner, title=title, done=False, created_at=now_utc())
        with self._lock:
            self._todos[todo.id] = todo
        return todo

    def update(self, owner, todo_id, *, title=None, done=None):
        if title is not None:
            check_title(title)
        self._check()
        if not is_todo_id(todo_id):
            return None
        with self._lock:
            todo = self._todos.get(todo_id)
            if todo is None or todo.owner != owner:
                return None
            changes = {}
            if title is not None:
                changes["title"] = title
            if done is not None:
                changes["done"] = done
            todo = replace(todo, **changes)
            self._todos[todo_id] = todo
            return todo

    def delete(self, owner, todo_id):
        self._check()
        if not is_todo_id(todo_id):
            return False
        with self._lock:
            todo = self._todos.get(todo_id)
            if todo is None or todo.owner != owner:
                return False
            del self._todos[todo_id]
            return True

    def close(self) -> None:
        pass

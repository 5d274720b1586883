"""The storage interface for todos and its in-memory implementation."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Protocol


class StoreUnavailable(Exception):
    """The backing database cannot be reached right now (the API answers 503)."""


@dataclass(frozen=True)
class Todo:
    id: str
    owner: str
    title: str
    done: bool
    created_at: datetime  # UTC, millisecond precision

    def public(self) -> dict:
        return {"id": self.id, "title": self.title, "done": self.done,
                "created_at": self.created_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")}


def new_id() -> str:
    return uuid.uuid4().hex


def now_utc() -> datetime:
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=(now.microsecond // 1000) * 1000)


class TodoStore(Protocol):
    """Every method may raise StoreUnavailable. Methods taking an id return None (or False)
    when no todo with that id belongs to owner, whether it does not exist or is someone else's."""

    def ready(self) -> bool: ...
    def list(self, owner: str) -> list[Todo]: ...
    def create(self, owner: str, title: str) -> Todo: ...
    def update(self, owner: str, todo_id: str, *, title: str | None = None,
               done: bool | None = None) -> Todo | None: ...
    def delete(self, owner: str, todo_id: str) -> bool: ...
    def close(self) -> None: ...


class MemoryStore:
    """Process-local store for tests and benchmarks (TODO_STORE=memory). Data dies with the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._todos: dict[str, Todo] = {}
        self.available = True  # tests flip this to simulate an outage

    def _check(self) -> None:
        if not self.available:
            raise StoreUnavailable("memory store switched off")

    def ready(self) -> bool:
        return self.available

    def list(self, owner: str) -> list[Todo]:
        self._check()
        with self._lock:
            items = [t for t in self._todos.values() if t.owner == owner]
        return sorted(items, key=lambda t: (t.created_at, t.id))

    def create(self, owner: str, title: str) -> Todo:
        self._check()
        todo = Todo(id=new_id(), owner=owner, title=title, done=False, created_at=now_utc())
        with self._lock:
            self._todos[todo.id] = todo
        return todo

    def update(self, owner, todo_id, *, title=None, done=None):
        self._check()
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
        with self._lock:
            todo = self._todos.get(todo_id)
            if todo is None or todo.owner != owner:
                return False
            del self._todos[todo_id]
            return True

    def close(self) -> None:
        pass

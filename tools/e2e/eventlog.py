"""Where a `pulumi up` or `preview` spends its time, from the engine's event log.

`pulumi ... --event-log FILE` writes one JSON engine event per line as it happens: a
`resourcePreEvent` when the engine starts a resource's step, a `resOutputsEvent` (or
`resOpFailedEvent`) when the step is done. The events' own `timestamp` is in whole seconds, too
coarse for steps that take a fraction of one, so `EventLogTail` reads the file while Pulumi
writes it and stamps each line with the time it appeared (to within POLL_SECONDS). `spans`
turns the events into one span per resource; `critical_path` walks back from the last resource
to finish through whatever held each one back (its dependencies from the stack's state, or the
program's own registration order when nothing did).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

POLL_SECONDS = 0.02


@dataclass(frozen=True)
class Stamped:
    """One engine event and when it appeared, in seconds after the command started."""

    at: float
    event: dict


@dataclass(frozen=True)
class Span:
    urn: str
    op: str
    start: float
    end: Optional[float]  # None: the step never finished (the command failed or was cut off)
    custom: bool = True  # False: a component or the stack, which only groups other steps

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]

    @property
    def type(self) -> str:
        return self.urn.split("::")[2].rsplit("$", 1)[-1] if self.urn.count("::") >= 3 else ""

    @property
    def seconds(self) -> float:
        return (self.end if self.end is not None else self.start) - self.start


@dataclass(frozen=True)
class Phases:
    """The command's wall time cut where the engine's events show a change of work."""

    first_event: float       # CLI start, stack loaded, the language host's required plugins: the prelude event
    first_resource: float    # plus program start (imports) and plugin start: the first step
    last_resource: float     # the last resource's step finished
    summary: Optional[float]  # the summary event (None when the command failed first)
    exit: float              # the command returned


class EventLogTail:
    """Reads an event log while the command that writes it runs; `stop()` reads the rest."""

    def __init__(self, path: Path, started: float):
        self.path = path
        self.started = started
        self.events: list[Stamped] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="event-log-tail", daemon=True)

    def __enter__(self) -> "EventLogTail":
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _follow(self) -> None:
        buffered, offset = "", 0
        while True:
            stopping = self._stop.is_set()
            if self.path.exists():
                with self.path.open() as f:
                    f.seek(offset)
                    chunk = f.read()
                    offset = f.tell()
                now = time.monotonic() - self.started
                buffered += chunk
                *lines, buffered = buffered.split("\n")
                self.events.extend(Stamped(now, json.loads(line)) for line in lines if line.strip())
            if stopping:
                if buffered.strip():  # a last line without its newline
                    self.events.append(Stamped(time.monotonic() - self.started, json.loads(buffered)))
                return
            time.sleep(POLL_SECONDS)


def from_file(path: Path) -> list[Stamped]:
    """A finished event log read afterwards: only the events' whole-second timestamps, counted
    from the first event."""
    events = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    origin = min((e.get("timestamp", 0) for e in events), default=0)
    return [Stamped(float(e.get("timestamp", 0) - origin), e) for e in events]


def _step(event: dict) -> tuple[Optional[str], Optional[dict]]:
    for kind in ("resourcePreEvent", "resOutputsEvent", "resOpFailedEvent"):
        if kind in event:
            return kind, event[kind].get("metadata") or {}
    return None, None


def spans(events: Iterable[Stamped]) -> list[Span]:
    """One span per resource step, in the order the engine started them."""
    started: dict[str, tuple[float, str]] = {}
    ended: dict[str, float] = {}
    for stamped in events:
        kind, metadata = _step(stamped.event)
        if kind is None or not metadata.get("urn"):
            continue
        urn = metadata["urn"]
        if kind == "resourcePreEvent":
            state = metadata.get("new") or metadata.get("old") or {}
            # "custom" is left out when false; a log without states at all counts as custom.
            custom = bool(state.get("custom")) if state else True
            started.setdefault(urn, (stamped.at, metadata.get("op", ""), custom))
        else:
            ended[urn] = stamped.at
    ordered = sorted(started.items(), key=lambda item: item[1][0])
    return [Span(urn, op, start, ended.get(urn), custom) for urn, (start, op, custom) in ordered]


def phases(events: list[Stamped], exit_at: float) -> Phases:
    resources = spans(events)
    summary = next((s.at for s in events if "summaryEvent" in s.event), None)
    first = min((s.at for s in events), default=exit_at)
    return Phases(
        first_event=first,
        first_resource=min((s.start for s in resources), default=first),
        last_resource=max((s.end for s in resources if s.end is not None), default=first),
        summary=summary,
        exit=exit_at,
    )


def critical_path(all_spans: list[Span], dependencies: dict[str, list[str]]) -> list[Span]:
    """The chain of steps that decided when the last one finished: from the last to finish,
    back through the dependency that finished last before it started, to a step nothing held
    back. `dependencies` maps a URN to the URNs it depends on (dependencies_from_state); steps absent from the spans (unchanged, not in this log)
    are skipped over."""
    # Custom resources only: a component's or the stack's span just encloses its children's.
    by_urn = {s.urn: s for s in all_spans if s.end is not None and s.custom}
    if not by_urn:
        return []
    path = [max(by_urn.values(), key=lambda s: s.end)]
    seen = {path[0].urn}
    while True:
        blockers = [by_urn[u] for u in _reachable_spans(path[-1].urn, dependencies, by_urn)
                    if u not in seen and by_urn[u].end <= path[-1].start + POLL_SECONDS * 2]
        if not blockers:
            return list(reversed(path))
        blocker = max(blockers, key=lambda s: s.end)
        seen.add(blocker.urn)
        path.append(blocker)


def _reachable_spans(urn: str, dependencies: dict[str, list[str]], by_urn: dict[str, Span]) -> set[str]:
    """The nearest dependencies of `urn` that have a span, looking through those that have none."""
    found, todo, seen = set(), list(dependencies.get(urn, [])), set()
    while todo:
        dep = todo.pop()
        if dep in seen:
            continue
        seen.add(dep)
        if dep in by_urn:
            found.add(dep)
        else:
            todo.extend(dependencies.get(dep, []))
    return found


def dependencies_from_state(deployment: dict) -> dict[str, list[str]]:
    """URN -> what it waits for, from `pulumi stack export`: its dependencies and its provider
    (a resource's step starts only once its provider is configured)."""
    graph = {}
    for resource in deployment.get("deployment", deployment).get("resources", []):
        deps = list(resource.get("dependencies") or [])
        provider = resource.get("provider", "")
        if provider:
            deps.append(provider.rsplit("::", 1)[0])  # "<urn>::<id>"
        graph[resource["urn"]] = deps
    return graph


def report(title: str, events: list[Stamped], exit_at: float, dependencies: dict[str, list[str]],
           top: int = 12) -> str:
    """The text the bench prints for one step: its phases, the slowest resources, the critical path."""
    resources = spans(events)
    cut = phases(events, exit_at)
    lines = [f"--- {title}: {exit_at:.1f} s"]
    summary = f"{cut.summary:.1f}" if cut.summary is not None else "-"
    lines.append(
        f"  phases: CLI, stack, language host's plugin query {cut.first_event:.1f} s | program start, plugins until the first step "
        f"{cut.first_resource - cut.first_event:.1f} s | steps {cut.last_resource - cut.first_resource:.1f} s | "
        f"after the last step {exit_at - cut.last_resource:.1f} s (summary at {summary} s)")
    lines.append(f"  {'start':>6} {'end':>6} {'secs':>6}  op       resource")
    for span in sorted(resources, key=lambda s: -s.seconds)[:top]:
        end = f"{span.end:6.1f}" if span.end is not None else "     -"
        lines.append(f"  {span.start:6.1f} {end} {span.seconds:6.1f}  {span.op:<8} {span.type}::{span.name}")
    path = critical_path(resources, dependencies)
    if path:
        lines.append("  critical path: " + " -> ".join(
            f"{s.name} ({s.start:.1f}-{s.end:.1f})" for s in path))
    return "\n".join(lines)

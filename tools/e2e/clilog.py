"""What a Pulumi command did outside its resource steps, from the CLI's verbose log.

The engine's event log (eventlog.py) shows the resource steps only. `pulumi ... --logtostderr
-v=7` (the bench's --pulumi-log) writes one JSON object per line, with a wall-clock "time" and a
"msg", and shows what comes before and between the steps too:

- the language host's About, which the CLI asks for beside loading the stack;
- its required-plugins query (the Python host runs `python -m pip list` for it);
- the program's run, from the engine starting it to the program's exit, and its start: until
  its first resource registration reaches the engine (Python start, imports, and the program's
  body, since the Python SDK sends its registrations only once the body has returned);
- each provider plugin's start, from the engine asking for the provider to the plugin's handshake;
- each provider's Configure (for kubernetes, the cluster discovery).

Only message texts of pulumi v3.274 are matched; a span whose messages are missing is left out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterable, Optional

_ABOUT = re.compile(r"^langhost\[\w+\]\.About\(\) (?P<state>executing|success|failed)")
_REQUIRED = re.compile(r"^langhost\[\w+\]\.GetRequired(?:Packages|Plugins)\(.*\) (?P<state>executing|success|failed)")
_RUN = re.compile(r"^langhost\[\w+\]\.Run\(.*\) (?P<state>executing|success|failed)")
_REGISTRATION = re.compile(r"^ResourceMonitor\.RegisterResource received")
_PROVIDER_CHECK = re.compile(r"^ProviderRegistry\.Check\(urn:\S*?::pulumi:providers:(?P<package>[\w-]+)::")
_HANDSHAKE = re.compile(r"^Handshake\b.*/pulumi-resource-(?P<package>[\w-]+)'")
_CHECK_CONFIG = re.compile(r"^Provider\[(?P<address>0x[0-9a-f]+)\]\.CheckConfig\(urn:\S*?::pulumi:providers:(?P<package>[\w-]+)::")
_CONFIGURE = re.compile(r"^Provider\[(?P<address>0x[0-9a-f]+)\]\.Configure\(\) executing")
# A provider is set once with the id "unconfigured" (after CheckConfig), again with its real id once
# Configure has returned.
_CONFIGURED = re.compile(r"^setProvider\(urn:\S*?::pulumi:providers:(?P<package>[\w-]+)::[^:]+::(?!unconfigured\))")


@dataclass(frozen=True)
class Line:
    at: float  # wall-clock seconds (epoch)
    msg: str


@dataclass(frozen=True)
class CliSpan:
    label: str  # "about", "required plugins", "program run", "program start", "plugin start X", "configure X"
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


def read(path: Path) -> list[Line]:
    """The log's JSON lines that carry a time and a message; anything else (plain text) is skipped."""
    lines = []
    for text in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(text)
            lines.append(Line(datetime.fromisoformat(record["time"]).timestamp(), record["msg"]))
        except (ValueError, KeyError, TypeError):
            continue
    return lines


def spans(lines: Iterable[Line]) -> list[CliSpan]:
    """Every span this module knows how to find, in the order they started."""
    lines = list(lines)
    found = [
        *_between(lines, _ABOUT, "about"),
        *_between(lines, _REQUIRED, "required plugins"),
        *_between(lines, _RUN, "program run"),
        *_program_start(lines),
        *_plugin_starts(lines),
        *_configures(lines),
    ]
    return sorted(found, key=lambda s: (s.start, s.end))


def _between(lines: list[Line], pattern: re.Pattern, label: str) -> list[CliSpan]:
    """From the first call's `executing` to the last call's `success` or `failed`. (Before the
    plugins query the CLI tries GetRequiredPackages, which this host does not know: one span.)"""
    starts = [line.at for line in lines if (m := pattern.match(line.msg)) and m["state"] == "executing"]
    ends = [line.at for line in lines if (m := pattern.match(line.msg)) and m["state"] != "executing"]
    return [CliSpan(label, starts[0], ends[-1])] if starts and ends else []


def _program_start(lines: list[Line]) -> list[CliSpan]:
    run = next((line.at for line in lines if (m := _RUN.match(line.msg)) and m["state"] == "executing"), None)
    first = next((line.at for line in lines if run is not None and line.at >= run and _REGISTRATION.match(line.msg)), None)
    return [CliSpan("program start", run, first)] if first is not None else []


def _plugin_starts(lines: list[Line]) -> list[CliSpan]:
    asked: dict[str, float] = {}
    result = []
    for line in lines:
        check = _PROVIDER_CHECK.match(line.msg)
        if check:
            asked.setdefault(check["package"], line.at)
            continue
        handshake = _HANDSHAKE.match(line.msg)
        if handshake and handshake["package"] in asked:
            package = handshake["package"]
            result.append(CliSpan(f"plugin start {package}", asked.pop(package), line.at))
    return result


def _configures(lines: list[Line]) -> list[CliSpan]:
    packages: dict[str, str] = {}
    started: dict[str, float] = {}
    result = []
    for line in lines:
        if match := _CHECK_CONFIG.match(line.msg):
            packages[match["address"]] = match["package"]
        elif (match := _CONFIGURE.match(line.msg)) and match["address"] in packages:
            started.setdefault(packages[match["address"]], line.at)
        elif (match := _CONFIGURED.match(line.msg)) and match["package"] in started:
            package = match["package"]
            result.append(CliSpan(f"configure {package}", started.pop(package), line.at))
    return result


def report(found: list[CliSpan], origin: Optional[float]) -> str:
    """One line per kind of span for the bench; times after `origin` (when the command started),
    or after the first span when it is not known."""
    if not found:
        return "  CLI log: none of the known messages (is it a -v=7 log of pulumi v3.274?)"
    origin = origin if origin is not None else found[0].start
    fixed = [s for s in found if not s.label.startswith(("plugin start ", "configure "))]
    parts = [f"{s.label} {s.seconds:.2f} s at {s.start - origin:.2f}" for s in fixed]
    lines = ["  CLI log: " + " | ".join(parts)]
    for kind in ("plugin start", "configure"):
        each = [s for s in found if s.label.startswith(kind + " ")]
        if each:
            lines.append(f"  {kind}: " + ", ".join(
                f"{s.label[len(kind) + 1:]} {s.seconds:.2f} s at {s.start - origin:.2f}" for s in each))
    return "\n".join(lines)

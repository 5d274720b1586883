"""tools/e2e/clilog.py, the bench's view of what ran outside the resource steps, offline.

data/clilog-recorded-no-change.jsonl is RECORDED: the lines clilog reads (and the first two
registrations) of the `-v=7` CLI log of a real `tools/e2e/bench --pulumi-log` no-change preview
on 2026-12-05, pulumi v3.274.1, GridDB parked. The other logs here are hand-written, in the same
message shapes.
"""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools" / "e2e"))
import clilog  # noqa: E402

RECORDED = Path(__file__).parent / "data" / "clilog-recorded-no-change.jsonl"
K8S = "urn:pulumi:dev::griddb-todo::pulumi:providers:kubernetes::cluster"


def log_file(tmp_path: Path, *entries: tuple[str, str]) -> Path:
    """A CLI log of (seconds after 12:00:00, message) entries."""
    path = tmp_path / "pulumi.log"
    path.write_text("".join(json.dumps({"time": f"2026-12-05T12:00:{s}Z", "level": "INFO", "msg": m}) + "\n"
                            for s, m in entries))
    return path


def by_label(path: Path) -> dict[str, clilog.CliSpan]:
    return {s.label: s for s in clilog.spans(clilog.read(path))}


def test_the_recorded_preview_shows_the_plugin_query_the_program_and_every_plugin():
    found = by_label(RECORDED)
    assert set(found) == {"about", "required plugins", "program run", "program start",
                          *(f"{kind} {p}" for kind in ("plugin start", "configure")
                            for p in ("kubernetes", "pulumi-python", "random", "tls"))}
    # The numbers this run printed (tools/e2e/bench, 2026-12-05 18:59 UTC):
    assert found["required plugins"].seconds == pytest.approx(0.276, abs=0.001)  # pip list
    assert found["program start"].seconds == pytest.approx(0.494, abs=0.001)
    assert found["program run"].seconds == pytest.approx(1.143, abs=0.001)
    assert found["plugin start pulumi-python"].seconds == pytest.approx(0.156, abs=0.001)
    assert found["configure kubernetes"].seconds == pytest.approx(0.067, abs=0.001)  # cluster discovery
    # Everything happens inside the program's run, except what the CLI asks first.
    run = found["program run"]
    inside = [s for label, s in found.items() if label.startswith(("plugin start", "configure", "program start"))]
    assert all(run.start <= s.start and s.end <= run.end for s in inside)
    assert found["required plugins"].end <= run.start


def test_a_failed_first_query_and_its_fallback_are_one_span(tmp_path):
    path = log_file(tmp_path,
                    ("01.0", "langhost[python].GetRequiredPackages(root=/p, program=/p, entryPoint=.) executing"),
                    ("01.1", "langhost[python].GetRequiredPackages(root=/p, program=/p, entryPoint=.) failed: err=unknown"),
                    ("01.2", "langhost[python].GetRequiredPlugins(root=/p, program=/p, entryPoint=.) executing"),
                    ("01.5", "langhost[python].GetRequiredPlugins(root=/p, program=/p, entryPoint=.) success: #versions=4"))
    span = by_label(path)["required plugins"]
    assert (span.start % 60, span.seconds) == (pytest.approx(1.0), pytest.approx(0.5))


def test_configure_ends_when_the_provider_is_set_with_its_id_not_when_unconfigured(tmp_path):
    path = log_file(tmp_path,
                    ("02.00", f"ProviderRegistry.Check({K8S}) executing (#oldInputs=0,#newInputs=3)"),
                    ("02.25", "Handshake: not supported by '/root/.pulumi/plugins/resource-kubernetes-v4.25.0/pulumi-resource-kubernetes'"),
                    ("02.26", f"Provider[0xabc].CheckConfig({K8S}) executing (#olds=0,#news=2)"),
                    ("02.27", f"setProvider({K8S}::unconfigured)"),
                    ("02.30", "Provider[0xabc].Configure() executing (#vars=2)"),
                    ("02.90", f"setProvider({K8S}::c8006fae-e82b-4a83-bad5-f0e36cef110f)"))
    found = by_label(path)
    assert found["plugin start kubernetes"].seconds == pytest.approx(0.25)
    assert found["configure kubernetes"].seconds == pytest.approx(0.60)


def test_a_span_whose_end_never_came_is_left_out_and_plain_lines_are_skipped(tmp_path):
    path = log_file(tmp_path,
                    ("03.0", "langhost[python].Run(pwd=/p,root=/p, program=/p) executing"),
                    ("03.1", f"ProviderRegistry.Check({K8S}) executing"))
    with path.open("a") as f:
        f.write("panic: not a JSON line\n")
    assert clilog.spans(clilog.read(path)) == []  # no registration, no exit, no handshake
    assert "none of the known messages" in clilog.report([], origin=None)


def test_report_counts_from_the_commands_start(tmp_path):
    found = clilog.spans(clilog.read(RECORDED))
    origin = found[0].start - 0.1  # as if the CLI had started 0.1 s before its About call
    text = clilog.report(found, origin)
    assert "about 0.08 s at 0.10 | required plugins 0.28 s at 0.25" in text
    assert "plugin start: kubernetes 0.05 s at" in text and "pulumi-python 0.16 s at" in text
    assert "configure: kubernetes 0.07 s at" in text

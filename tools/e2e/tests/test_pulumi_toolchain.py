"""Checks of the Pulumi toolchain that tools/e2e/pulumi-toolchain builds from the Go module proxy.

Run:  python3 -m pytest -v tools/e2e/tests/test_pulumi_toolchain.py
The first tests check the script's own pieces (no build needed). test_offline_smoke needs the built
toolchain (tools/e2e/pulumi-toolchain, ~35-45 min cold on 2 shared cores) and fails, never skips,
without it.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

E2E = Path(__file__).resolve().parents[1]
TOOLCHAIN = E2E / "pulumi-toolchain"
LAUNCHER = E2E / "pulumi-wrappers/language-python/pulumi-language-python"
EXECUTOR = E2E / "pulumi-wrappers/language-python/pulumi-language-python-exec"
CACHE = Path(os.environ.get("GRIDDB_TODO_PULUMI_CACHE", "/var/cache/griddb-todo/pulumi"))


def _bash(script: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_wrapper_go_mod_gets_only_non_local_replaces(tmp_path: Path) -> None:
    gomod = tmp_path / "go.mod"
    gomod.write_text(
        textwrap.dedent(
            """\
            module example.com/m

            replace github.com/pulumi/pulumi/sdk/v3 => ../sdk

            replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e

            replace (
            \t// a comment
            \tgithub.com/hashicorp/terraform-plugin-sdk/v2 => github.com/pulumi/terraform-plugin-sdk/v2 v2.0.0-1
            \tgithub.com/hashicorp/terraform-provider-tls => ./pkg/vendor/tls

            \tgolang.org/x/text => golang.org/x/text v0.3.6
            )

            require golang.org/x/text v0.3.0
            """
        )
    )
    out = _bash(f"source {TOOLCHAIN}; nonlocal_replaces {gomod}")
    lines = [" ".join(line.split()) for line in out.splitlines()]
    assert lines == [
        "replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e",
        "replace github.com/hashicorp/terraform-plugin-sdk/v2 => github.com/pulumi/terraform-plugin-sdk/v2 v2.0.0-1",
        "replace golang.org/x/text => golang.org/x/text v0.3.6",
    ]


def _launcher_env_seen(tmp_path: Path, pulumi_yaml: str | None, preset: str | None = None) -> str:
    """Run the launcher with a stand-in host that prints the PULUMI_PYTHON_CMD and arguments it was given."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "pulumi-language-python").write_bytes(LAUNCHER.read_bytes())
    (bindir / "pulumi-language-python").chmod(0o755)
    host = bindir / "pulumi-language-python-host"
    host.write_text('#!/bin/sh\necho "cmd=${PULUMI_PYTHON_CMD:-} args=$*"\n')
    host.chmod(0o755)
    project = tmp_path / "project"
    (project / ".venv/bin").mkdir(parents=True)
    python = project / ".venv/bin/python"
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    if pulumi_yaml is not None:
        (project / "Pulumi.yaml").write_text(pulumi_yaml)
    env = {k: v for k, v in os.environ.items() if k != "PULUMI_PYTHON_CMD"}
    if preset:
        env["PULUMI_PYTHON_CMD"] = preset
    return _bash(f"{bindir}/pulumi-language-python 127.0.0.1:1234", cwd=project, env=env).strip()


def test_launcher_hands_the_project_virtualenv_to_the_host(tmp_path: Path) -> None:
    yaml = "name: p\nruntime:\n  name: python\n  options:\n    toolchain: pip\n    virtualenv: .venv  # comment\n"
    seen = _launcher_env_seen(tmp_path, yaml)
    assert seen == f"cmd= args=-virtualenv {tmp_path}/project/.venv 127.0.0.1:1234"


def test_launcher_keeps_an_explicit_python(tmp_path: Path) -> None:
    yaml = "name: p\nruntime:\n  name: python\n  options:\n    virtualenv: .venv\n"
    assert _launcher_env_seen(tmp_path, yaml, preset="/usr/bin/python3") == "cmd=/usr/bin/python3 args=127.0.0.1:1234"


def test_launcher_without_virtualenv_option_leaves_python_alone(tmp_path: Path) -> None:
    assert _launcher_env_seen(tmp_path, "name: p\nruntime: python\n") == "cmd= args=127.0.0.1:1234"


def _executor():
    loader = importlib.machinery.SourceFileLoader("pulumi_language_python_exec", str(EXECUTOR))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_executor_reads_the_hosts_arguments(tmp_path: Path) -> None:
    exe = _executor()
    args = exe.parse_args(
        ["--monitor", "127.0.0.1:1", "--engine", "127.0.0.1:2", "--project", "griddb-todo", "--stack", "e2e",
         "--pwd", str(tmp_path), "--dry_run", "true", "--parallel", "16", "--organization", "organization",
         ".", "--flag", "x"]
    )
    assert (args.monitor, args.engine, args.project, args.stack) == ("127.0.0.1:1", "127.0.0.1:2", "griddb-todo", "e2e")
    assert (args.dry_run, args.parallel, args.organization, args.tracing) == ("true", "16", "organization", None)
    assert args.program == "." and args.program_args == ["--flag", "x"]
    (tmp_path / "main.py").write_text("")
    assert exe.program_entry(str(tmp_path)) == (str(tmp_path), str(tmp_path / "__main__.py"))
    assert exe.program_entry(str(tmp_path / "main.py")) == (str(tmp_path), str(tmp_path / "main.py"))


def test_offline_smoke() -> None:
    """The real thing: up/preview/destroy with the built CLI, host and plugins, nothing downloaded."""
    if not (CACHE / "bin/pulumi").exists():
        pytest.fail(f"{CACHE}/bin/pulumi missing: run tools/e2e/pulumi-toolchain first", pytrace=False)
    done = subprocess.run([str(E2E / "pulumi-toolchain-smoke")], capture_output=True, text=True, check=False,
                          timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK: CLI v" in done.stderr

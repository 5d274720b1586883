"""The real thing: the Pulumi CLI and engine, a Kubernetes API, a Docker engine and registry.

`make e2e` runs tools/e2e/up first, which builds (or reuses) all of it, writes
/var/lib/griddb-todo-e2e/cluster.env and installs the Pulumi CLI into
/var/cache/griddb-todo/pulumi/bin. These tests never skip: if the toolchain or the cluster is
missing, they fail and say what is missing.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

ROOT = Path(__file__).resolve().parents[2]
E2E_ENV_FILE = Path(os.environ.get("E2E_ENV_FILE", "/var/lib/griddb-todo-e2e/cluster.env"))
PULUMI_BIN = Path(os.environ.get("GRIDDB_TODO_PULUMI_CACHE", "/var/cache/griddb-todo/pulumi")) / "bin"
STACK = "e2e"
NAMESPACE = "griddb-todo-e2e"


def pytest_collection_modifyitems(items):
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.e2e)


def _read_env_file() -> dict[str, str]:
    if not E2E_ENV_FILE.exists():
        pytest.fail(f"{E2E_ENV_FILE} is missing: run tools/e2e/up (make e2e does) to bring up the cluster and toolchain")
    values = {}
    for line in E2E_ENV_FILE.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            values[key.strip().removeprefix("export ").strip()] = value.strip().strip('"')
    return values


@dataclass
class Project:
    """A working copy of the project with its own stack state, driven through the pulumi CLI."""

    workdir: Path
    env: dict[str, str]
    log: Path

    def run(self, *args: str, check: bool = True, timeout: int = 1500) -> subprocess.CompletedProcess:
        """Run a command in the working copy; its output goes to the terminal as it comes (progress)
        and to a log; a failure shows the tail."""
        started = time.monotonic()
        print(f"\n$ {' '.join(args)}", flush=True)
        with self.log.open("a") as log:
            log.write(f"\n$ {' '.join(args)}\n")
            process = subprocess.Popen(args, cwd=self.workdir, env=self.env, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True)
            lines = []
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line)
                log.write(line)
                sys.stdout.write(line)
            process.wait(timeout=timeout)
        output = "".join(lines)
        print(f"  ({time.monotonic() - started:.1f} s, exit {process.returncode})", flush=True)
        if check and process.returncode != 0:
            pytest.fail(f"{' '.join(args)} exited {process.returncode}:\n{output[-6000:]}")
        return subprocess.CompletedProcess(args, process.returncode, output, "")

    def pulumi(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.run("pulumi", *args, "--stack", STACK, "--non-interactive", check=check)

    def pulumi_json(self, *args: str, check: bool = True):
        """A pulumi command with --json: stdout is the JSON document, diagnostics go to stderr."""
        command = ["pulumi", *args, "--stack", STACK, "--non-interactive", "--json"]
        print(f"\n$ {' '.join(command)}", flush=True)
        result = subprocess.run(command, cwd=self.workdir, env=self.env, capture_output=True, text=True, timeout=1500)
        with self.log.open("a") as log:
            log.write(f"\n$ {' '.join(command)}\n{result.stdout}\n{result.stderr}\n")
        if check and result.returncode != 0:
            pytest.fail(f"{' '.join(command)} exited {result.returncode}:\n{result.stderr[-4000:]}\n{result.stdout[-2000:]}")
        return json.loads(result.stdout)

    def output(self, name: str, show_secrets: bool = False):
        args = ["stack", "output", name, "--json"] + (["--show-secrets"] if show_secrets else [])
        result = subprocess.run(["pulumi", *args, "--stack", STACK], cwd=self.workdir, env=self.env,
                                capture_output=True, text=True, check=True)
        return json.loads(result.stdout)

    def kubectl(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(["kubectl", *args], env=self.env, capture_output=True, text=True, timeout=300)
        if check and result.returncode != 0:
            pytest.fail(f"kubectl {' '.join(args)}: {result.stderr}")
        return result.stdout if check else result

    @functools.cached_property
    def web_url(self) -> str:
        # The LoadBalancer address tools/e2e's controller gives the Service is the node's IP.
        return self.output("url")


def _copy_project(destination: Path) -> None:
    """The tests change files (a web change must roll out): never in the real checkout."""
    ignore = shutil.ignore_patterns(".git", ".venv", "__pycache__", ".pytest_cache", "test-results", "*.pyc")
    shutil.copytree(ROOT, destination, ignore=ignore, symlinks=True)
    (destination / ".venv").symlink_to(ROOT / ".venv")


@pytest.fixture(scope="session")
def project(tmp_path_factory) -> Project:
    values = _read_env_file()
    env = dict(os.environ)
    # Our CLI and kubectl first: never another pulumi that might try to download plugins.
    env["PATH"] = f"{PULUMI_BIN}:{Path(values['KUBECTL']).parent}:{os.environ['PATH']}"
    for tool in ("pulumi", "kubectl", "docker"):
        if shutil.which(tool, path=env["PATH"]) is None:
            pytest.fail(f"{tool} is not on PATH after reading {E2E_ENV_FILE}: tools/e2e/up did not finish")
    workdir = tmp_path_factory.mktemp("project")
    _copy_project(workdir / "griddb-todo")
    workdir = workdir / "griddb-todo"
    state = tmp_path_factory.mktemp("state")
    env.update(
        PULUMI_BACKEND_URL=f"file://{state}",
        PULUMI_CONFIG_PASSPHRASE=secrets.token_urlsafe(24),
        PULUMI_SKIP_UPDATE_CHECK="true",
        # A missing plugin fails at once instead of an attempt to download it.
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
        # The engine talks gRPC to its plugins on loopback: never through a proxy.
        NO_PROXY=",".join(filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1,localhost"])),
        no_proxy=",".join(filter(None, [os.environ.get("no_proxy"), "127.0.0.1,localhost"])),
        PULUMI_DIY_BACKEND_NO_LEGACY_WARNING="true",
        KUBECONFIG=values["KUBECONFIG"],
    )
    log = Path(os.environ.get("E2E_LOG", ROOT / "test-results" / "e2e.log"))
    log.parent.mkdir(parents=True, exist_ok=True)
    proj = Project(workdir=workdir, env=env, log=log)
    # The stack state is new each run, so objects an aborted earlier run left behind would
    # clash with it (field-manager conflicts): this namespace and volume belong to these tests.
    proj.kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true")
    proj.kubectl("delete", "persistentvolume", f"{NAMESPACE}-griddb-data", "--ignore-not-found", "--wait=true")
    proj.pulumi("stack", "init")
    griddb_image: Optional[str] = os.environ.get("E2E_GRIDDB_IMAGE")
    if griddb_image:
        proj.pulumi("config", "set", "griddbReplicas", "1")
        proj.pulumi("config", "set", "griddbBaseImage", griddb_image)
    yield proj
    # Leave the cluster as we found it: protected resources too.
    proj.pulumi("state", "unprotect", "--all", "--yes", check=False)
    proj.pulumi("destroy", "--yes", "--skip-preview", check=False)
    proj.pulumi("stack", "rm", "--yes", "--force", check=False)

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
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest
import yaml

# A job started in the background by a non-interactive shell (`cmd &` in a script, as ours were) has
# SIGINT ignored, and an ignored signal stays ignored across exec: the Pulumi CLI then stops its
# Python language host with SIGINT in vain and waits its 5 s grace before killing it, before
# every update and preview (measured: the engine's first event at 6.2-6.4 s instead of 1.5-3 s).
# Any handler of ours is reset to the default on exec, so Pulumi's children can be interrupted.
signal.signal(signal.SIGINT, signal.default_int_handler)

ROOT = Path(__file__).resolve().parents[2]
E2E_ENV_FILE = Path(os.environ.get("E2E_ENV_FILE", "/var/lib/griddb-todo-e2e/cluster.env"))
PULUMI_BIN = Path(os.environ.get("GRIDDB_TODO_PULUMI_CACHE", "/var/cache/griddb-todo/pulumi")) / "bin"
# The stacks the deployment steps run for, in this order (pytest keeps a session fixture's
# parameters together): the k3s-style one, then the cloud path on the same cluster.
STACKS = ("e2e", "e2e-cloud")
# The GridDB image's user (services/griddb/Dockerfile).
GRIDDB_UID = 10001


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
    stack: str
    namespace: str
    # The cluster's env file (cluster.env), e.g. the credentials of the registry that wants them.
    cluster: dict[str, str]

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
        return self.run("pulumi", *args, "--stack", self.stack, "--non-interactive", check=check)

    def set_secret(self, key: str, value: str) -> None:
        """`pulumi config set --secret`, the value on stdin: never on a command line or in the log."""
        command = ["pulumi", "config", "set", "--secret", key, "--stack", self.stack, "--non-interactive"]
        print(f"\n$ {' '.join(command)} < (value from {E2E_ENV_FILE})", flush=True)
        result = subprocess.run(command, cwd=self.workdir, env=self.env, input=value, capture_output=True, text=True)
        if result.returncode != 0:
            pytest.fail(f"pulumi config set --secret {key} exited {result.returncode}: {result.stderr[-2000:]}")

    @property
    def stack_resource(self) -> tuple[str, str]:
        return ("pulumi:pulumi:Stack", f"griddb-todo-{self.stack}")

    def pulumi_json(self, *args: str, check: bool = True):
        """A pulumi command with --json: stdout is the JSON document, diagnostics go to stderr."""
        command = ["pulumi", *args, "--stack", self.stack, "--non-interactive", "--json"]
        print(f"\n$ {' '.join(command)}", flush=True)
        result = subprocess.run(command, cwd=self.workdir, env=self.env, capture_output=True, text=True, timeout=1500)
        with self.log.open("a") as log:
            log.write(f"\n$ {' '.join(command)}\n{result.stdout}\n{result.stderr}\n")
        if check and result.returncode != 0:
            pytest.fail(f"{' '.join(command)} exited {result.returncode}:\n{result.stderr[-4000:]}\n{result.stdout[-2000:]}")
        return json.loads(result.stdout)

    def output(self, name: str, show_secrets: bool = False):
        args = ["stack", "output", name, "--json"] + (["--show-secrets"] if show_secrets else [])
        result = subprocess.run(["pulumi", *args, "--stack", self.stack], cwd=self.workdir, env=self.env,
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
    ignore = shutil.ignore_patterns(".git", ".venv", "venv", "__pycache__", ".pytest_cache", "test-results", "*.pyc")
    shutil.copytree(ROOT, destination, ignore=ignore, symlinks=True)
    (destination / ".venv").symlink_to(ROOT / ".venv")
    # The policy pack's own virtualenv (make test creates it), for `pulumi preview --policy-pack policy`.
    (destination / "policy" / "venv").symlink_to(ROOT / "policy" / "venv")


def _stack_namespace(workdir: Path, stack: str) -> str:
    return yaml.safe_load((workdir / f"Pulumi.{stack}.yaml").read_text())["config"]["griddb-todo:namespace"]


def _prepare_host_path(workdir: Path, stack: str) -> None:
    """What README "Prepare k3s" asks of a dev user, done for the stack's hostPath directory: no
    container of ours runs as root (Pod Security "restricted"), so GridDB's directory is handed to
    its user (10001) before the pod starts. tools/e2e's node is this machine."""
    host_path = yaml.safe_load((workdir / f"Pulumi.{stack}.yaml").read_text())["config"].get("griddb-todo:griddbHostPath")
    if host_path:
        os.makedirs(host_path, exist_ok=True)
        os.chown(host_path, GRIDDB_UID, GRIDDB_UID)
        os.chmod(host_path, 0o750)


def _auth_registry(values: dict[str, str]) -> tuple[str, str, str]:
    """The registry that wants credentials (the cloud path): address, user, password."""
    keys = ("E2E_AUTH_REGISTRY", "E2E_AUTH_REGISTRY_USER", "E2E_AUTH_REGISTRY_PASSWORD")
    missing = [k for k in keys if not values.get(k)]
    if missing:
        pytest.fail(f"{E2E_ENV_FILE} has no {', '.join(missing)}: tools/e2e/up must start the registry "
                    "that wants credentials for the e2e-cloud stack")
    return values[keys[0]], values[keys[1]], values[keys[2]]


def _use_auth_registry(proj: Project, values: dict[str, str]) -> None:
    """The stack pushes to and pulls from the registry that wants credentials (the password as a secret)."""
    address, user, password = _auth_registry(values)
    proj.pulumi("config", "set", "registry", address)
    proj.pulumi("config", "set", "registryUsername", user)
    proj.set_secret("registryPassword", password)


def _tool_env(values: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    # Our CLI and kubectl first: never another pulumi that might try to download plugins.
    env["PATH"] = f"{PULUMI_BIN}:{Path(values['KUBECTL']).parent}:{os.environ['PATH']}"
    env["KUBECONFIG"] = values["KUBECONFIG"]
    for tool in ("pulumi", "kubectl", "docker"):
        if shutil.which(tool, path=env["PATH"]) is None:
            pytest.fail(f"{tool} is not on PATH after reading {E2E_ENV_FILE}: tools/e2e/up did not finish")
    return env


@pytest.fixture(scope="session")
def kube_env() -> dict[str, str]:
    """The environment kubectl needs to reach the e2e cluster (tests that drive no stack)."""
    return _tool_env(_read_env_file())


def working_copy(stack: str, tmp_path_factory, values: dict[str, str],
                 stack_file: Optional[str] = None) -> Project:
    """A copy of the project with its own, new Pulumi state for `stack`; `stack_file` (the
    text of Pulumi.<stack>.yaml) for a stack the repository does not ship."""
    env = _tool_env(values)
    workdir = tmp_path_factory.mktemp(f"project-{stack}")
    _copy_project(workdir / "griddb-todo")
    workdir = workdir / "griddb-todo"
    if stack_file is not None:
        (workdir / f"Pulumi.{stack}.yaml").write_text(stack_file)
    state = tmp_path_factory.mktemp(f"state-{stack}")
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
    )
    log = Path(os.environ.get("E2E_LOG", ROOT / "test-results" / "e2e.log"))
    log.parent.mkdir(parents=True, exist_ok=True)
    namespace = _stack_namespace(workdir, stack)
    return Project(workdir=workdir, env=env, log=log, stack=stack, namespace=namespace, cluster=values)


@pytest.fixture(scope="session")
def new_project(tmp_path_factory):
    """For a test that needs a stack of its own: `new_project(stack, stack_file_text)` returns its
    working copy with a new state and the stack initialised, registry credentials set for a
    cloud stack (the caller destroys what it deploys)."""
    values = _read_env_file()

    def make(stack: str, stack_file: str) -> Project:
        proj = working_copy(stack, tmp_path_factory, values, stack_file)
        proj.kubectl("delete", "namespace", proj.namespace, "--ignore-not-found", "--wait=true")
        proj.pulumi("stack", "init")
        _use_auth_registry(proj, values)
        return proj

    return make


@pytest.fixture(scope="session", params=STACKS)
def project(request, tmp_path_factory) -> Project:
    stack = request.param
    values = _read_env_file()
    proj = working_copy(stack, tmp_path_factory, values)
    namespace = proj.namespace
    # The stack state is new each run, so objects an aborted earlier run left behind would
    # clash with it (field-manager conflicts): this namespace and volume belong to these tests.
    # (The cloud stack's volume is provisioned for its claim, reclaim Delete: it goes with it.)
    proj.kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=true")
    proj.kubectl("delete", "persistentvolume", f"{namespace}-griddb-data", "--ignore-not-found", "--wait=true")
    _prepare_host_path(proj.workdir, stack)
    proj.pulumi("stack", "init")
    if stack == "e2e-cloud":
        _use_auth_registry(proj, values)
    griddb_image: Optional[str] = os.environ.get("E2E_GRIDDB_IMAGE")
    if griddb_image:
        proj.pulumi("config", "set", "griddbReplicas", "1")
        proj.pulumi("config", "set", "griddbBaseImage", griddb_image)
    yield proj
    # Leave the cluster as we found it: protected resources too.
    proj.pulumi("state", "unprotect", "--all", "--yes", check=False)
    proj.pulumi("destroy", "--yes", "--skip-preview", check=False)
    proj.pulumi("stack", "rm", "--yes", "--force", check=False)

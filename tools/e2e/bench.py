"""Pulumi against plain kubectl on the same cluster: three steps a user repeats, timed.

1. cold deploy (images already in Docker's build cache): `pulumi up` | docker build+push, `kubectl apply`, wait for rollout
2. no-change check: `pulumi preview --expect-no-changes` | `kubectl diff`
3. a change in services/web rolled out: `pulumi up` | docker build+push web, `kubectl apply`, wait for rollout

The kubectl side applies the very objects the program produces (rendered by the program
tests' mocks harness), with real images and real keys, in a namespace of its own, so both sides
do the same work. Needs `tools/e2e/up` first. Prints seconds per step and the ratio, and for
each Pulumi step where its time went (tools/e2e/eventlog.py: phases, the slowest resources and
the critical path, from the engine's event log; with --pulumi-log also tools/e2e/clilog.py: the
language host's calls, the program's start, each plugin's start and Configure, from the CLI's log).
With E2E_GRIDDB_IMAGE set (a local GridDB image), GridDB runs on both sides and its rollout is
part of every wait.
Usage: tools/e2e/bench [--runs N] [--record DIR] [--pulumi-log]
  (DIR keeps each step's event log and state; --pulumi-log adds the CLI's verbose log to it)
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bcrypt
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "program"))
sys.path.insert(0, str(ROOT / "tools" / "e2e"))
import clilog  # noqa: E402
import eventlog  # noqa: E402
import harness  # noqa: E402

ENV_FILE = Path(os.environ.get("E2E_ENV_FILE", "/var/lib/griddb-todo-e2e/cluster.env"))
PULUMI_BIN = Path(os.environ.get("GRIDDB_TODO_PULUMI_CACHE", "/var/cache/griddb-todo/pulumi")) / "bin"
PULUMI_NS, KUBECTL_NS = "griddb-todo-bench", "griddb-todo-bench-kubectl"
# Its own namespace, volume and port, so it never touches the e2e tests' stack.
BENCH_CONFIG = {"namespace": PULUMI_NS, "griddbHostPath": "/var/lib/griddb-todo-e2e/bench-data",
                "webPort": "8081", "protectData": "false"}
KUBECTL_HOST_PATH = "/var/lib/griddb-todo-e2e/bench-kubectl-data"
GRIDDB_UID = 10001  # the GridDB container's user (docs/interfaces.md)
GRIDDB_IMAGE = os.environ.get("E2E_GRIDDB_IMAGE", "")
if GRIDDB_IMAGE:  # as tests/e2e does: the node runs, built on the local GridDB image
    BENCH_CONFIG.update(griddbReplicas="1", griddbBaseImage=GRIDDB_IMAGE)
SERVICES = ("auth", "web", "griddb") if GRIDDB_IMAGE else ("auth", "web")


def environment() -> dict[str, str]:
    if not ENV_FILE.exists():
        sys.exit(f"{ENV_FILE} is missing: run tools/e2e/up first")
    env = dict(os.environ)
    for line in ENV_FILE.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            env[key.strip()] = value.strip()
    env["PATH"] = f"{PULUMI_BIN}:{Path(env['KUBECTL']).parent}:{os.environ['PATH']}"
    return env


def timed(env: dict, cwd: Path, *commands: list[str], stderr_to: Path | None = None) -> float:
    started = time.monotonic()
    for command in commands:
        result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
        if stderr_to is not None:
            stderr_to.write_text(result.stderr)
        if result.returncode != 0:
            sys.exit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}\n{result.stdout[-2000:]}")
    return time.monotonic() - started


def touch_web(workdir: Path, run: int) -> None:
    style = workdir / "services" / "web" / "web" / "static" / "style.css"
    style.write_text(style.read_text() + f"\n/* bench change {run} {time.time()} */\n")


def fresh_start(env: dict) -> None:
    """Remove what an aborted earlier run left: its namespaces (the kubectl side's Secrets are
    immutable, so a second apply over them fails), the hostPath volumes reserved for their claims,
    and the volumes' data. Then hand each data directory to GridDB's user, as README "Prepare k3s"
    asks of a dev user: GridDB runs as 10001 and could not write a directory the kubelet made."""
    for namespace in (PULUMI_NS, KUBECTL_NS):
        timed(env, ROOT, ["kubectl", "delete", "namespace", namespace, "--ignore-not-found", "--wait=true"],
              ["kubectl", "delete", "persistentvolume", f"{namespace}-griddb-data", "--ignore-not-found", "--wait=true"])
    for host_path in (Path(BENCH_CONFIG["griddbHostPath"]), Path(KUBECTL_HOST_PATH)):
        shutil.rmtree(host_path, ignore_errors=True)
        host_path.mkdir(mode=0o750, parents=True)
        os.chown(host_path, GRIDDB_UID, GRIDDB_UID)


# --- the Pulumi side -------------------------------------------------------------------------

def pulumi_step(env: dict, workdir: Path, step: str, command: list[str], record: Path,
                pulumi_log: bool) -> float:
    """Run one timed Pulumi command with the engine's event log on, and print where its time went."""
    label = step.replace(" ", "-")
    log = record / f"{label}.events.jsonl"
    log.unlink(missing_ok=True)
    started, started_wall = time.monotonic(), time.time()
    # --event-log exists only with PULUMI_DEBUG_COMMANDS set (pulumi 3.274's up and preview).
    # With --pulumi-log, the CLI's own verbose log (timestamped) is kept too: it shows what the
    # time before the engine's first event is spent on. It costs time itself, so it is off by default.
    verbose = ["--logtostderr", "-v=7"] if pulumi_log else []
    with eventlog.EventLogTail(log, started) as tail:
        seconds = timed({**env, "PULUMI_DEBUG_COMMANDS": "true"}, workdir, [*command, "--event-log", str(log), *verbose],
                        stderr_to=record / f"{label}.pulumi.log" if pulumi_log else None)
    state = subprocess.run(["pulumi", "stack", "export", "--stack", "bench"], cwd=workdir, env=env,
                           capture_output=True, text=True, check=True).stdout
    (record / f"{label}.state.json").write_text(state)
    stamped = record / f"{label}.stamped.jsonl"
    stamped.write_text("".join(json.dumps({"at": round(e.at, 3), "event": e.event}) + "\n" for e in tail.events))
    print(eventlog.report(step, tail.events, seconds, eventlog.dependencies_from_state(json.loads(state))), flush=True)
    if pulumi_log:  # what ran outside the steps: language host, program start, plugin starts, Configure
        print(clilog.report(clilog.spans(clilog.read(record / f"{label}.pulumi.log")), started_wall), flush=True)
    return seconds


def pulumi_side(env: dict, workdir: Path, run: int, record: Path, pulumi_log: bool) -> dict[str, float]:
    stack = ["--stack", "bench", "--non-interactive"]
    timed(env, workdir, ["pulumi", "stack", "select", "--create", *stack])
    record = record / f"run-{run + 1}"
    record.mkdir(parents=True, exist_ok=True)
    up = ["pulumi", "up", "--yes", "--skip-preview", *stack]
    results = {
        "cold deploy": pulumi_step(env, workdir, "cold deploy", up, record, pulumi_log),
        "no-change check": pulumi_step(env, workdir, "no-change check",
                                       ["pulumi", "preview", "--expect-no-changes", *stack], record, pulumi_log),
    }
    touch_web(workdir, run)
    results["web change rolled out"] = pulumi_step(env, workdir, "web change rolled out", up, record, pulumi_log)
    timed(env, workdir, ["pulumi", "destroy", "--yes", "--skip-preview", *stack],
          # --preserve-config: the next run's stack uses Pulumi.bench.yaml again (stack rm deletes it).
          ["pulumi", "stack", "rm", "--yes", "--preserve-config", *stack])
    return results


# --- the kubectl side ------------------------------------------------------------------------

def build_and_push(env: dict, workdir: Path, service: str, base: str) -> str:
    image = f"127.0.0.1:5000/{service}:bench-kubectl"
    base_arg = f"GRIDDB_BASE_IMAGE={GRIDDB_IMAGE}" if service == "griddb" else f"PYTHON_BASE_IMAGE={base}"
    timed(env, workdir, ["docker", "build", "-q", "--platform", "linux/amd64", "--build-arg", base_arg,
                         "-t", image, f"services/{service}"], ["docker", "push", "-q", image])
    out = subprocess.run(["docker", "image", "inspect", "-f", "{{range .RepoDigests}}{{println .}}{{end}}", image],
                         env=env, capture_output=True, text=True, check=True).stdout.split()
    return next(d for d in out if d.startswith(f"127.0.0.1:5000/{service}@"))


def _private_pem(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode()


def _public_pem(key) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def real_secrets() -> dict[str, str]:
    """What the program's generated secrets would hold: every key of the auth signing Secret
    (the signing key, the next key's public half, a previous key after a rotation) real, since
    auth refuses to start on anything that is not a PEM key."""
    signing, following, previous = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    password = secrets.token_urlsafe(16)
    accounts = json.dumps({"demo": bcrypt.hashpw(password.encode(), bcrypt.gensalt(10)).decode()})
    return {"private.pem": _private_pem(signing), "next.pub.pem": _public_pem(following),
            "previous.pub.pem": _public_pem(previous), "accounts.json": accounts,
            "password": secrets.token_hex(16)}


def manifests(images: dict[str, str], values: dict[str, str]) -> str:
    overrides = {**BENCH_CONFIG, "namespace": KUBECTL_NS, "webPort": "8082",
                 "griddbHostPath": KUBECTL_HOST_PATH}
    run = harness.run_program("e2e", overrides)
    documents = []
    for resource in run.k8s_objects():
        obj = json.loads(json.dumps(resource.inputs))
        obj["metadata"]["name"] = resource.outputs["metadata"]["name"]
        if obj["kind"] == "Secret":
            obj["stringData"] = {k: values.get(k, v) for k, v in obj["stringData"].items()}
            mocked = [k for k, v in obj["stringData"].items() if str(v).startswith("mock-") and k not in values]
            if mocked:  # a new generated secret the kubectl side would hand over as a placeholder
                sys.exit(f"bench: no real value for Secret {obj['metadata']['name']} keys {mocked}")
        for pod in [obj["spec"]["template"]["spec"]] if obj["kind"] in ("Deployment", "StatefulSet") else []:
            for c in pod["containers"] + pod.get("initContainers", []):
                service = obj["metadata"]["name"]
                c["image"] = images.get(service, c["image"])
        documents.append(obj)
    # Namespace first, as Pulumi's dependency order does.
    documents.sort(key=lambda o: o["kind"] != "Namespace")
    return yaml.safe_dump_all(documents, sort_keys=False)


def kubectl_side(env: dict, workdir: Path, run: int, base: str) -> dict[str, float]:
    manifest = workdir / "bench-manifests.yaml"
    workloads = ["deployment/auth", "deployment/web"] + (["statefulset/griddb"] if GRIDDB_IMAGE else [])
    rollout = ["kubectl", "-n", KUBECTL_NS, "rollout", "status", *workloads, "--timeout=600s"]
    started = time.monotonic()
    images = {s: build_and_push(env, workdir, s, base) for s in SERVICES}
    values = real_secrets()  # once: the Secrets are immutable, as the program makes them
    manifest.write_text(manifests(images, values))
    results = {"cold deploy": time.monotonic() - started + timed(env, workdir, ["kubectl", "apply", "-f", str(manifest)], rollout)}
    started = time.monotonic()
    diff = subprocess.run(["kubectl", "diff", "-f", str(manifest)], cwd=workdir, env=env, capture_output=True, text=True)
    results["no-change check"] = time.monotonic() - started
    if diff.returncode != 0:
        print(f"note: kubectl diff reported differences (exit {diff.returncode}) on an unchanged manifest")
    touch_web(workdir, run)
    started = time.monotonic()
    images["web"] = build_and_push(env, workdir, "web", base)
    manifest.write_text(manifests(images, values))
    results["web change rolled out"] = time.monotonic() - started + timed(
        env, workdir, ["kubectl", "apply", "-f", str(manifest)], rollout)
    timed(env, workdir, ["kubectl", "delete", "-f", str(manifest), "--wait=true"])
    return results


def main() -> None:
    # Pulumi's children must hear SIGINT even when the bench runs as a background job: see the
    # same line in tests/e2e/conftest.py (without it, 5 s more per Pulumi command).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1, help="repeat each side N times and report the median")
    parser.add_argument("--record", type=Path, help="keep each Pulumi step's event log and state here")
    parser.add_argument("--pulumi-log", action="store_true",
                        help="keep each Pulumi step's verbose CLI log (-v=7) beside its event log")
    arguments = parser.parse_args()
    runs = arguments.runs
    env = environment()
    print("removing what an earlier run left ...", flush=True)
    fresh_start(env)
    e2e = yaml.safe_load((ROOT / "Pulumi.e2e.yaml").read_text())["config"]
    base = e2e["griddb-todo:pythonBaseImage"]
    with tempfile.TemporaryDirectory(prefix="griddb-todo-bench-") as tmp:
        workdir = Path(tmp) / "project"
        shutil.copytree(ROOT, workdir, ignore=shutil.ignore_patterns(".git", ".venv", "__pycache__", "test-results"))
        (workdir / ".venv").symlink_to(ROOT / ".venv")
        stack_file = yaml.safe_load((workdir / "Pulumi.e2e.yaml").read_text())
        stack_file["config"].update({f"griddb-todo:{k}": v for k, v in BENCH_CONFIG.items()})
        (workdir / "Pulumi.bench.yaml").write_text(yaml.safe_dump(stack_file))
        env.update(PULUMI_BACKEND_URL=f"file://{tmp}/state", PULUMI_CONFIG_PASSPHRASE=secrets.token_urlsafe(16),
                   PULUMI_SKIP_UPDATE_CHECK="true", PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
                   NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
        (Path(tmp) / "state").mkdir()
        print("warming Docker's build cache ...", flush=True)
        for service in SERVICES:
            build_and_push(env, workdir, service, base)
        record = arguments.record.resolve() if arguments.record else Path(tmp) / "record"
        pulumi_runs, kubectl_runs = [], []
        for run in range(runs):
            print(f"run {run + 1}/{runs}: pulumi ...", flush=True)
            pulumi_runs.append(pulumi_side(env, workdir, run, record, arguments.pulumi_log))
            print(f"run {run + 1}/{runs}: kubectl ...", flush=True)
            kubectl_runs.append(kubectl_side(env, workdir, run, base))
    print(f"\n{'step':<24}{'pulumi s':>10}{'kubectl s':>11}{'ratio':>8}   (median of {runs}; "
          f"GridDB {'running' if GRIDDB_IMAGE else 'parked'})")
    for step in pulumi_runs[0]:
        p = statistics.median(r[step] for r in pulumi_runs)
        k = statistics.median(r[step] for r in kubectl_runs)
        print(f"{step:<24}{p:>10.1f}{k:>11.1f}{p / k:>8.2f}")
    if runs > 1:  # the spread behind each median
        print("each run, pulumi | kubectl:")
        for step in pulumi_runs[0]:
            pulumi = " ".join(f"{r[step]:.1f}" for r in pulumi_runs)
            kubectl = " ".join(f"{r[step]:.1f}" for r in kubectl_runs)
            print(f"  {step:<22}{pulumi} | {kubectl}")


if __name__ == "__main__":
    main()

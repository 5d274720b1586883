"""Runs the whole Pulumi program (`__main__.py`) under Pulumi's mocks and records what it registers.

No CLI, cluster or Docker engine: the mock monitor stands in for the engine. The program is run the
way the CLI's Python language host runs it: config from Pulumi.yaml's declared defaults overlaid with
a stack file, handed over in PULUMI_CONFIG / PULUMI_CONFIG_SECRET_KEYS; a `pulumi.RunError` reported
to the engine as its message alone, any other exception as its traceback.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import runpy
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings as runtime_settings
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "griddb-todo"
# What a user of Pulumi.cloud.yaml fills in for the CHANGE-ME placeholders.
CLOUD_FILLED_IN = {
    "kubeContext": "prod-cluster",
    "registry": "registry.example.com/acme",
    "registryUsername": "robot",
    "griddbStorageClass": "standard-rwo",
}
CLOUD_SECRETS = {"registryPassword": "registry-token-for-tests"}
# What tests/e2e sets on the e2e-cloud stack from the cluster's env file (E2E_AUTH_REGISTRY...).
E2E_CLOUD_REGISTRY = {"registry": "127.0.0.1:5001", "registryUsername": "e2e-pusher"}
E2E_CLOUD_SECRETS = {"registryPassword": "e2e-registry-password-for-tests"}
WORKLOAD_KINDS = ("Deployment", "StatefulSet")
# Every Pulumi.<stack>.yaml of the repository (a test checks none is missing).
STACKS = ("dev", "cloud", "e2e", "e2e-cloud")
# A documentation-range address (RFC 5737): only ever a string in these tests.
MOCK_CREATION_TIMESTAMP = "2026-12-01T10:00:00Z"  # what the API server would stamp
MOCK_LOAD_BALANCER_IP = "198.51.100.7"


@dataclass
class Registered:
    urn: str
    type: str
    name: str
    inputs: dict
    custom: bool
    parent: str
    protect: bool
    dependencies: list[str]
    provider: str
    aliases: list[str] = field(default_factory=list)
    secret_paths: set[str] = field(default_factory=set)
    outputs: dict = field(default_factory=dict)
    delete_before_replace: bool = False
    custom_timeouts: dict = field(default_factory=dict)  # {"create": "600s", ...}: what the engine waits

    @property
    def kind(self) -> str:
        return self.inputs.get("kind", "")

    @property
    def metadata(self) -> dict:
        return self.inputs.get("metadata", {})


@dataclass
class ProgramRun:
    resources: list[Registered]
    outputs: dict
    secret_outputs: set[str]
    # URN -> what the component passed to register_outputs (secret wrappers kept).
    component_outputs: dict[str, dict] = field(default_factory=dict)
    # run_program's: the config the program was given, keys without the project prefix.
    config: dict[str, Any] = field(default_factory=dict)

    def pushed_image(self, service: str) -> tuple[Registered, str]:
        """The resource that builds and pushes `service`'s image (pulumi-docker's or the CI
        stand-in) and the digest it reports."""
        (image,) = [r for r in self.resources if r.custom and r.name == f"{service}-image"
                    and r.parent.endswith(f"griddb-todo:index:AppImage::{service}")]
        return image, image.outputs.get("repoDigest") or image.outputs["repo_digest"]

    @property
    def urns(self) -> list[str]:
        return [r.urn for r in self.resources]

    def of_type(self, type_: str) -> list[Registered]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str) -> Registered:
        found = [r for r in self.resources if r.type == type_ and r.name == name]
        assert len(found) == 1, f"expected one {type_} named {name}, found {len(found)}"
        return found[0]

    def k8s_objects(self) -> list[Registered]:
        return [r for r in self.resources if r.type.startswith("kubernetes:") and r.custom and "kind" in r.inputs]

    def workload(self, name: str) -> Registered:
        """The Deployment or StatefulSet named `name`: what runs the pods of one service."""
        found = [r for r in self.k8s_objects() if r.kind in WORKLOAD_KINDS and r.outputs["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one workload {name}, found {[(r.kind, r.name) for r in found]}"
        return found[0]

    def kube(self, kind: str, name: str) -> Registered:
        found = [r for r in self.k8s_objects() if r.kind == kind and r.outputs["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind}/{name}, found {[r.name for r in found]}"
        return found[0]


def _secret_paths(value: Any, path: str = "") -> set[str]:
    """Paths of the secret-wrapped values in a serialized property struct."""
    found: set[str] = set()
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return {path or "."}
        for key, inner in value.items():
            found |= _secret_paths(inner, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found |= _secret_paths(inner, f"{path}[{index}]")
    return found


def _struct_to_python(struct) -> Any:
    from google.protobuf import json_format

    return json_format.MessageToDict(struct)


class RecordingMocks(pulumi.runtime.Mocks):
    """Gives each provider's computed outputs a plausible value and records nothing itself."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        outputs = dict(args.inputs)
        token = hashlib.sha256(f"{args.typ}/{args.name}".encode()).hexdigest()
        if args.typ == "docker:index/image:Image":
            repository = args.inputs["imageName"].rsplit(":", 1)[0]
            outputs["repoDigest"] = f"{repository}@sha256:{token}"
        elif args.typ == "random:index/randomPassword:RandomPassword":
            outputs["result"] = f"mock-password-{token[:12]}"
            outputs["bcryptHash"] = "$2a$10$" + (token + token)[:53]
        elif args.typ == "tls:index/privateKey:PrivateKey":
            outputs["privateKeyPem"] = f"mock-ecdsa-p256-private-key-{token[:12]}"
            outputs["publicKeyPem"] = f"mock-ecdsa-p256-public-key-{token[:12]}"
        elif args.typ == "pulumi-python:dynamic:Resource":  # the CI image stand-in
            outputs["repo_digest"] = f"{args.inputs['image_name'].rsplit(':', 1)[0]}@sha256:{token}"
        elif args.typ.startswith("kubernetes:") and "kind" in args.inputs:
            metadata = dict(outputs.get("metadata") or {})
            # The provider auto-names objects without metadata.name: name plus a random suffix.
            # An immutable Secret or ConfigMap whose data changes is replaced, and its replacement
            # gets a new suffix; modelled here as a suffix that follows the data.
            if args.inputs.get("immutable") is True:
                data = {k: args.inputs.get(k) for k in ("data", "stringData", "binaryData")}
                token = hashlib.sha256((token + json.dumps(data, sort_keys=True)).encode()).hexdigest()
            metadata.setdefault("name", f"{args.name}-{token[:8]}")
            metadata.setdefault("creationTimestamp", MOCK_CREATION_TIMESTAMP)
            outputs["metadata"] = metadata
            if args.inputs["kind"] == "Service" and args.inputs.get("spec", {}).get("type") == "LoadBalancer":
                outputs["status"] = {"loadBalancer": {"ingress": [{"ip": MOCK_LOAD_BALANCER_IP}]}}
        return [f"{args.name}-id", outputs]

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The mock monitor, plus a record of every registration as the engine would see it."""

    def __init__(self, mocks: RecordingMocks):
        super().__init__(mocks)
        self.registered: list[Registered] = []
        self.stack_outputs: Optional[dict] = None
        self.component_outputs: dict[str, dict] = {}
        self._names: dict[str, str] = {}
        self._aliases: dict[str, list[str]] = {}

    def _engine_aliases(self, request) -> list[str]:
        """The URNs a resource answers to, as the engine derives them from alias specs: each
        alias given, plus one per alias of its parent; a child named "<parent name>-x" follows
        its parent's old name (the SDK's naming convention, which the engine honours)."""
        def collapse(alias) -> str:
            if alias.urn:
                return alias.urn
            spec = alias.spec
            parent = spec.parentUrn or ("" if spec.noParent else request.parent)
            return self.make_urn(parent, spec.type or request.type, spec.name or request.name)

        aliases = [collapse(a) for a in request.aliases]
        parent_name = self._names.get(request.parent, "")
        for parent_alias in self._aliases.get(request.parent, []):
            name = request.name
            if parent_name and name.startswith(parent_name):
                name = parent_alias.rsplit("::", 1)[1] + name[len(parent_name):]
            aliases.append(self.make_urn(parent_alias, request.type, name))
        return aliases

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        self._names[response.urn] = request.name
        self._aliases[response.urn] = self._engine_aliases(request)
        if request.type != "pulumi:pulumi:Stack":
            raw = _struct_to_python(request.object)
            state = self.resources[response.urn].state if response.urn in self.resources else {}
            self.registered.append(
                Registered(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    inputs=rpc_plain(rpc.deserialize_properties(request.object)),
                    custom=request.custom,
                    parent=request.parent,
                    protect=bool(request.protect),
                    dependencies=list(request.dependencies),
                    provider=request.provider,
                    aliases=self._aliases[response.urn],
                    secret_paths=_secret_paths(raw),
                    outputs=state,
                    delete_before_replace=bool(request.deleteBeforeReplace),
                    custom_timeouts={k: v for k, v in (("create", request.customTimeouts.create),
                                                       ("update", request.customTimeouts.update),
                                                       ("delete", request.customTimeouts.delete)) if v},
                )
            )
        return response

    def RegisterResourceOutputs(self, request):
        outputs = _struct_to_python(request.outputs)
        if request.urn.endswith(f"::pulumi:pulumi:Stack::{PROJECT}-" + pulumi.get_stack()):
            self.stack_outputs = outputs
        else:
            self.component_outputs[request.urn] = outputs
        return super().RegisterResourceOutputs(request)


class ProgramFailed(Exception):
    """The program stopped with errors, as the CLI would show them (`error: ...` lines)."""

    def __init__(self, errors: list[str], registered: list[Registered]):
        super().__init__("\n".join(errors))
        self.errors = errors
        self.registered = registered


class _ErrorRecorder(logging.Handler):
    """Collects what the program reports on the engine's error channel."""

    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.errors.append(record.getMessage())


def stack_config(stack: str, overrides: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """Pulumi.yaml defaults overlaid with Pulumi.<stack>.yaml, keys without the project prefix."""
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    values = {key: spec["default"] for key, spec in project["config"].items() if "default" in spec}
    stack_file = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text()) or {}
    for key, value in (stack_file.get("config") or {}).items():
        values[key.split(":", 1)[1]] = value
    values.update(overrides or {})
    return values


def _as_config_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def run_program(
    stack: str,
    overrides: Optional[dict[str, Any]] = None,
    secrets: Optional[dict[str, str]] = None,
) -> ProgramRun:
    """Run __main__.py for `stack`. `secrets` are set as secret config (as `config set --secret`)."""
    config = stack_config(stack, overrides)
    config.update(secrets or {})
    program = run(
        lambda: runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__"),
        stack,
        {f"{PROJECT}:{k}": _as_config_string(v) for k, v in config.items() if v is not None},
        [f"{PROJECT}:{k}" for k in (secrets or {})],
    )
    program.config = config
    return program


def run(program: Callable[[], Any], stack: str = "dev", config: Optional[dict[str, str]] = None,
        secret_keys: Optional[list[str]] = None) -> ProgramRun:
    """Run `program` as the language host runs a Pulumi program; raise ProgramFailed on errors."""
    mocks = RecordingMocks()
    monitor = RecordingMonitor(mocks)
    logger = logging.getLogger(f"{__name__}.engine")
    logger.propagate = False
    recorder = _ErrorRecorder()
    logger.handlers = [recorder]
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor, logger=logger)
    # set_mocks made a root stack for tests of single resources; run_in_stack makes its own,
    # as the language host does, and registers the program's exports on it.
    runtime_settings.set_root_resource(None)
    runtime_settings.SETTINGS.rpc_manager.clear()
    runtime_settings.SETTINGS.outputs.clear()
    saved_env = {k: os.environ.get(k) for k in ("PULUMI_CONFIG", "PULUMI_CONFIG_SECRET_KEYS")}
    previous_cwd = os.getcwd()
    # What the CLI hands the program: the merged stack config and the names of its secret keys.
    os.environ["PULUMI_CONFIG"] = json.dumps(config or {})
    os.environ["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(secret_keys or [])
    os.chdir(ROOT)  # the CLI runs the program from the project directory
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    try:
        _run_like_the_language_host(program)
    finally:
        os.chdir(previous_cwd)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    if recorder.errors:
        raise ProgramFailed(recorder.errors, monitor.registered)
    outputs = monitor.stack_outputs or {}
    return ProgramRun(
        resources=monitor.registered,
        outputs=rpc_plain(outputs),
        secret_outputs={k for k, v in outputs.items() if _secret_paths(v)},
        component_outputs=monitor.component_outputs,
    )


def _run_like_the_language_host(program: Callable[[], Any]) -> None:
    """What pulumi-language-python-exec does with a program: load the config it was handed, run
    the program in a stack, report a RunError's message alone and anything else with its
    traceback on the engine's error channel."""
    pulumi.runtime.set_all_config(pulumi.runtime.get_config_env(), pulumi.runtime.get_config_secret_keys_env())
    try:
        _sync_await(run_in_stack(program))
    except pulumi.RunError as error:
        pulumi.log.error(str(error))
    except Exception:  # noqa: BLE001 - as the host: every other failure shows its traceback
        pulumi.log.error(traceback.format_exc())


def rpc_plain(value: Any) -> Any:
    """Strip secret wrappers from a serialized struct, keeping the values."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return rpc_plain(value.get("value"))
        return {k: rpc_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rpc_plain(v) for v in value]
    return value

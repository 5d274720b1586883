"""The policy pack as pulumi-policy runs it (policy/__main__.py), in the pack's own virtualenv:
    policy/venv/bin/python -m pytest tests/policy/test_pack.py      (make test does)

Through pulumi-policy's own objects: each policy's validate() with ResourceValidationArgs whose
props are wrapped the way the SDK wraps them (unknown values raise when read); and the pack served
over gRPC, as the engine talks to it: GetAnalyzerInfo and Analyze on a real server process.
"""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

pulumi_policy = pytest.importorskip("pulumi_policy", reason="runs in the pack's virtualenv: policy/venv (make test)")
import grpc  # noqa: E402
import pulumi  # noqa: E402
from google.protobuf import empty_pb2, struct_pb2  # noqa: E402
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc  # noqa: E402
from pulumi_policy import EnforcementLevel, PolicyCustomTimeouts, PolicyResourceOptions, ResourceValidationArgs  # noqa: E402
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "policy"
POLICIES = {p.name: p for p in runpy.run_path(str(PACK / "__main__.py"), run_name="griddb_todo_policy")["POLICIES"]}
DIGEST = "@sha256:" + "cd" * 32
URN = "urn:pulumi:cloud::griddb-todo::kubernetes:apps/v1:Deployment::web-deployment"


def deployment(image: str, probes: bool = True) -> dict:
    container = {"name": "web", "image": image, "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}
    if probes:
        container.update(readinessProbe={"tcpSocket": {"port": 80}}, livenessProbe={"tcpSocket": {"port": 80}})
    return {"metadata": {"name": "web"}, "spec": {"replicas": 2, "template": {"spec": {"containers": [container]}}}}


def violations(policy: str, props: dict, resource_type: str = "kubernetes:apps/v1:Deployment", urn: str = URN,
               protect: bool = False, config: dict | None = None) -> list[str]:
    found: list[str] = []
    opts = PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
    args = ResourceValidationArgs(resource_type, unknown_checking_proxy(props), urn, "web-deployment", opts, None,
                                  config)
    POLICIES[policy].validate(args, lambda message, urn=None: found.append(message))
    return found


@pytest.fixture
def registry_setting():
    """The stack's config as the engine hands it to the pack (pulumi.Config reads it)."""
    def set_registry(value: str | None):
        pulumi.runtime.set_all_config({} if value is None else {"griddb-todo:registry": value})

    yield set_registry
    set_registry(None)


def test_every_policy_is_mandatory():
    assert set(POLICIES) == {"images", "limits", "probes", "public-services", "plain-secrets", "protected-data"}
    assert {p.enforcement_level for p in POLICIES.values()} == {EnforcementLevel.MANDATORY}


def test_the_registry_is_the_stack_setting_else_pulumi_yaml_default(registry_setting):
    registry_setting("ghcr.io/acme")
    assert violations("images", deployment(f"ghcr.io/acme/web{DIGEST}")) == []
    assert violations("images", deployment(f"127.0.0.1:5000/web{DIGEST}"))
    registry_setting(None)  # Pulumi.yaml's default, 127.0.0.1:5000
    assert violations("images", deployment(f"127.0.0.1:5000/web{DIGEST}")) == []
    (message,) = violations("images", deployment("127.0.0.1:5000/web:latest"))
    assert "is not from the stack registry 127.0.0.1:5000, pinned by digest" in message


def test_a_value_unknown_during_preview_does_not_stop_the_other_checks():
    props = deployment(UNKNOWN_STRING_VALUE, probes=False)
    assert violations("images", props) == []
    assert violations("probes", props) == ["container web: no readinessProbe and no livenessProbe"]


def test_protection_follows_the_stack_in_the_urn_and_the_pack_config():
    claim = "kubernetes:core/v1:PersistentVolumeClaim"
    cloud = "urn:pulumi:cloud::griddb-todo::kubernetes:core/v1:PersistentVolumeClaim::griddb-data"
    dev = cloud.replace(":cloud::", ":dev::")
    assert violations("protected-data", {}, claim, cloud)
    assert violations("protected-data", {}, claim, cloud, protect=True) == []
    assert violations("protected-data", {}, claim, dev) == []
    # Relaxed on purpose: --policy-pack-config with {"protected-data": {"stacks": ["dev", "cloud"]}}.
    assert violations("protected-data", {}, claim, cloud, config={"stacks": ["dev", "cloud"]}) == []


def test_public_services_can_be_widened_in_the_pack_config():
    service = {"metadata": {"name": "admin"}, "spec": {"type": "LoadBalancer"}}
    assert violations("public-services", service, "kubernetes:core/v1:Service")
    assert violations("public-services", service, "kubernetes:core/v1:Service", config={"names": ["web", "admin"]}) == []


# --- over gRPC, as the engine runs the pack ------------------------------------------------------

@pytest.fixture(scope="module")
def analyzer():
    """The pack's own process (`python policy/__main__.py`): it prints its port and serves. The
    stack's config comes as the engine passes it, in PULUMI_CONFIG."""
    env = dict(os.environ, PULUMI_CONFIG='{"griddb-todo:registry": "registry.example.com/acme"}')
    process = subprocess.Popen([sys.executable, str(PACK / "__main__.py")], stdout=subprocess.PIPE, env=env, cwd=PACK)
    try:
        port = int(process.stdout.readline())
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
        channel.close()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_served_pack_describes_its_mandatory_policies(analyzer):
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "griddb-todo"
    assert {p.name for p in info.policies} == set(POLICIES)
    assert {p.enforcementLevel for p in info.policies} == {analyzer_pb2.MANDATORY}


def test_the_served_pack_refuses_an_offending_deployment(analyzer):
    def analyze(props: dict):
        properties = struct_pb2.Struct()
        properties.update(props)
        return analyzer.Analyze(analyzer_pb2.AnalyzeRequest(
            type="kubernetes:apps/v1:Deployment", properties=properties, urn=URN, name="web-deployment"))

    assert list(analyze(deployment(f"registry.example.com/acme/web{DIGEST}")).diagnostics) == []
    diagnostics = analyze(deployment(f"127.0.0.1:5000/web{DIGEST}", probes=False)).diagnostics
    assert {(d.policyName, d.enforcementLevel) for d in diagnostics} == {
        ("images", analyzer_pb2.MANDATORY), ("probes", analyzer_pb2.MANDATORY)}
    assert any(f"container web: image '127.0.0.1:5000/web{DIGEST}' is not from the stack registry "
               "registry.example.com/acme" in d.message for d in diagnostics)

"""The components' contract with the engine, as a deployed stack relies on it: outputs recorded,
workloads only after the namespace's policies, secrets that roll their pods, renames that keep
the data, a caller's options reaching every child."""

import json

import pulumi
import pytest

from components import auth
from components.auth import AuthService, AuthServiceArgs
from components.griddb import GridDbNode, GridDbNodeArgs
from components.image import AppImage, AppImageArgs
from components.namespace import AppNamespace, AppNamespaceArgs
from components.registry import RegistryPullSecret, RegistryPullSecretArgs
from components.web import WebFrontend, WebFrontendArgs
from harness import MOCK_LOAD_BALANCER_IP, _secret_paths, rpc_plain, run, run_program

COMPONENT = "griddb-todo:index:"


def components(program, type_name: str):
    return [r for r in program.resources if r.type == COMPONENT + type_name]


def workload_spec(program, name: str) -> dict:
    """The pod spec of workload `name`, whatever its kind."""
    (found,) = [r for r in program.k8s_objects()
                if r.kind in ("Deployment", "StatefulSet") and r.outputs["metadata"]["name"] == name]
    return found.inputs["spec"]["template"]["spec"]


def secret_refs(program, workload: str) -> set[str]:
    """Names of the Secrets a workload's pods read, as env or as volumes."""
    spec = workload_spec(program, workload)
    names = {v["secret"]["secretName"] for v in spec.get("volumes", []) if "secret" in v}
    for container in spec["containers"]:
        names |= {e["valueFrom"]["secretKeyRef"]["name"] for e in container.get("env", [])
                  if "secretKeyRef" in e.get("valueFrom", {})}
    return names


# --- outputs --------------------------------------------------------------------------------

def test_every_component_registers_its_outputs(dev_run):
    """What `pulumi stack export` shows of each component, and what marks it complete."""
    def outputs(type_name, name):
        (component,) = [c for c in components(dev_run, type_name) if c.name == name]
        return dev_run.component_outputs[component.urn]

    for service in ("auth", "web", "griddb"):
        assert rpc_plain(outputs("AppImage", service)) == {"ref": dev_run.outputs["images"][service]}
    assert outputs("AppNamespace", "app") == {"name": "griddb-todo-dev"}
    griddb = dict(outputs("GridDbNode", "griddb"))
    assert {griddb.pop("credentialsSecretName")} == secret_refs(dev_run, "griddb")
    assert griddb == {"host": "griddb", "port": 10001, "clusterName": "myCluster", "claimName": "griddb-data"}
    auth_outputs = outputs("AuthService", "auth")
    assert _secret_paths(auth_outputs) == {"passwords"}
    assert rpc_plain(auth_outputs) == {"url": "http://auth:2828", "passwords": dev_run.outputs["accountPasswords"]}
    assert outputs("WebFrontend", "web") == {"url": f"http://{MOCK_LOAD_BALANCER_IP}:8080"}


def test_the_pull_secret_component_registers_the_name_pods_pull_with(cloud_run):
    (component,) = components(cloud_run, "RegistryPullSecret")
    pulled_with = {s["name"] for r in cloud_run.k8s_objects() if r.kind in ("Deployment", "StatefulSet")
                   for s in r.inputs["spec"]["template"]["spec"]["imagePullSecrets"]}
    assert cloud_run.component_outputs[component.urn] == {"name": pulled_with.pop()} and not pulled_with


# --- order ----------------------------------------------------------------------------------

def test_no_workload_exists_before_the_namespace_denies_traffic(any_run):
    namespace = components(any_run, "AppNamespace")[0]
    guards = {r.urn for r in any_run.resources if r.parent == namespace.urn}
    assert len(guards) == 4  # the Namespace and its three default policies
    last_guard = max(i for i, r in enumerate(any_run.resources) if r.urn in guards)
    for type_name in ("GridDbNode", "AuthService", "WebFrontend"):
        (component,) = components(any_run, type_name)
        # The engine creates the component (and so its children) only after these exist.
        assert guards <= set(component.dependencies), type_name
        children = [i for i, r in enumerate(any_run.resources) if r.parent == component.urn]
        assert children and min(children) > last_guard, type_name


# --- secrets --------------------------------------------------------------------------------

def test_a_changed_secret_value_makes_a_new_secret_and_rolls_the_pods_that_read_it(dev_run):
    """Secrets are immutable: the cluster refuses edits, and a new value is a new Secret whose
    new name changes the pod templates, so pods never keep running with the old value."""
    for secret in (r for r in dev_run.k8s_objects() if r.kind == "Secret"):
        assert secret.inputs["immutable"] is True, secret.name
    new_password = run_program("dev", secrets={"griddbPassword": "a-new-password-0123"})
    more_accounts = run_program("dev", {"accounts": ["demo", "ann"]})

    # Nothing changed, nothing rolls.
    assert secret_refs(run_program("dev"), "auth") == secret_refs(dev_run, "auth")
    # A new GridDB password reaches GridDB and web through a new Secret.
    (old,) = secret_refs(dev_run, "griddb")
    (new,) = secret_refs(new_password, "griddb")
    assert new != old and secret_refs(new_password, "web") == {new}
    # A new account reaches auth through a new accounts Secret; its signing key stays.
    assert len(secret_refs(more_accounts, "auth") - secret_refs(dev_run, "auth")) == 1
    assert len(secret_refs(more_accounts, "auth") & secret_refs(dev_run, "auth")) == 1


def test_the_accounts_file_is_a_secret_even_from_plain_hashes():
    """Hashes can be cracked offline: the file is secret whatever marks its inputs carry."""
    program = run(lambda: pulumi.export("file", auth.accounts_file({"demo": "$2a$10$x"}, {"ann": "$2b$12$y"})))
    assert program.secret_outputs == {"file"}
    assert json.loads(program.outputs["file"]) == {"ann": "$2b$12$y", "demo": "$2a$10$x"}


# --- renames and options ----------------------------------------------------------------------

def _griddb(name: str, opts=None) -> GridDbNode:
    return GridDbNode(name, GridDbNodeArgs(
        namespace="todo", image="registry.example.com/griddb@sha256:0", cluster_name="myCluster", replicas=1,
        username="admin", password=None, log_write_mode=0, storage_size="1Gi", storage_class="griddb-hostpath",
        host_path="/srv/griddb", protect_data=True, clients=("web",),
    ), opts)


def test_renaming_the_griddb_component_keeps_its_claim_and_volume():
    """With an alias on the renamed component, every child (the claim, the volume) keeps its
    identity: the engine updates nothing instead of replacing the data."""
    before = run(lambda: _griddb("griddb"))
    after = run(lambda: _griddb("database", pulumi.ResourceOptions(aliases=[pulumi.Alias(name="griddb")])))
    old_urns = {r.name: r.urn for r in before.resources if r.custom}
    for child in (r for r in after.resources if r.custom):
        old_name = "griddb" + child.name.removeprefix("database")
        assert old_urns[old_name] in child.aliases, child.name
    claim = next(r for r in after.resources if r.name == "database-data")
    assert claim.urn != old_urns["griddb-data"]


def _every_component(opts: pulumi.ResourceOptions) -> None:
    AppImage("web", AppImageArgs(context="services/web", repository="registry.example.com/web", tag="t"), opts)
    namespace = AppNamespace("app", AppNamespaceArgs("todo"), opts)
    RegistryPullSecret("registry", RegistryPullSecretArgs(
        namespace=namespace.name, server="registry.example.com", username="robot", password=pulumi.Output.secret("t"),
    ), opts)
    griddb = GridDbNode("griddb", GridDbNodeArgs(
        namespace=namespace.name, image="i", cluster_name="c", replicas=1, username="admin", password=None,
        log_write_mode=0, storage_size="1Gi", storage_class=None, host_path=None, protect_data=False, clients=(),
    ), opts)
    service = AuthService("auth", AuthServiceArgs(
        namespace=namespace.name, image="i", accounts=("demo",), password_hashes=None, issuer="i",
        audience="a", token_ttl_seconds=900, clients=(),
    ), opts)
    WebFrontend("web", WebFrontendArgs(
        namespace=namespace.name, image="i", replicas=1, service_type="ClusterIP", port=8080, node_port=None,
        auth_url=service.url, issuer="i", audience="a", griddb_host=griddb.host, griddb_port=griddb.port,
        griddb_cluster_name=griddb.cluster_name, griddb_credentials_secret=griddb.credentials_secret_name,
    ), opts)


@pytest.mark.parametrize("protect", [True, False])
def test_a_callers_protect_and_transformations_reach_every_child_once(protect):
    seen: list[str] = []

    def record(args: pulumi.ResourceTransformationArgs):
        seen.append(args.name)
        return None

    program = run(lambda: _every_component(pulumi.ResourceOptions(protect=protect, transformations=[record])))
    children = [r for r in program.resources if r.custom]
    assert len(children) >= 20
    unprotected = [r.name for r in children if r.protect != protect]
    assert unprotected == []
    # Once each: applied twice, a transformation that appends (a label, a toleration) would double it.
    assert sorted(seen) == sorted(r.name for r in program.resources)

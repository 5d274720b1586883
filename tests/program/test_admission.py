"""The stack's ValidatingAdmissionPolicies (components/admission.py) as the program registers them.

What the CEL refuses is shown for real on the e2e cluster (tests/e2e/test_guardrails.py); here:
every stack gets them for its own namespace and registry, before any workload, and a stack that
may not create cluster-scoped objects can leave them out.
"""

import pytest

from components import admission
from harness import ProgramFailed, run_program

POLICY = "ValidatingAdmissionPolicy"
BINDING = "ValidatingAdmissionPolicyBinding"
# Every kind that carries a pod spec, and Services.
COVERED = {
    ("", "pods"), ("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets"),
    ("", "replicationcontrollers"), ("apps", "daemonsets"), ("batch", "jobs"), ("batch", "cronjobs"),
    ("", "services"),
}


def policies(run) -> dict[str, dict]:
    return {r.outputs["metadata"]["name"]: r.inputs for r in run.k8s_objects() if r.kind == POLICY}


def bindings(run) -> dict[str, dict]:
    return {r.outputs["metadata"]["name"]: r.inputs for r in run.k8s_objects() if r.kind == BINDING}


def namespace_of(run) -> str:
    (namespace,) = [r for r in run.k8s_objects() if r.kind == "Namespace"]
    return namespace.inputs["metadata"]["name"]


def test_every_rule_is_bound_to_the_stack_namespace_only_and_denies(any_run):
    namespace = namespace_of(any_run)
    found = policies(any_run)
    assert set(found) == {f"{namespace}.{h.name}" for h in admission.POD_HOLDERS} | {f"{namespace}.services"}
    assert set(bindings(any_run)) == set(found)
    for name, binding in bindings(any_run).items():
        spec = binding["spec"]
        assert spec["policyName"] == name
        assert spec["validationActions"] == ["Deny"]
        assert spec["matchResources"] == {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}
        assert found[name]["spec"]["failurePolicy"] == "Fail"


def test_the_policies_cover_every_kind_that_runs_a_pod_and_services(any_run):
    covered = set()
    for policy in policies(any_run).values():
        for rule in policy["spec"]["matchConstraints"]["resourceRules"]:
            assert rule["operations"] == ["CREATE", "UPDATE"]
            covered |= {(group, resource) for group in rule["apiGroups"] for resource in rule["resources"]}
    assert covered == COVERED


@pytest.mark.parametrize("stack, registry", [("dev", "127.0.0.1:5000"), ("cloud", "registry.example.com/acme"),
                                              ("e2e-cloud", "127.0.0.1:5001")])
def test_images_must_come_from_the_stack_registry(request, stack, registry):
    run = request.getfixturevalue(f"{stack.replace('-', '_')}_run")
    for name, policy in policies(run).items():
        if name.endswith(".services"):
            continue
        (unpinned,) = [v["expression"] for v in policy["spec"]["variables"] if v["name"] == "unpinnedImages"]
        assert f'c.image.startsWith("{registry}/")' in unpinned
        assert '"@sha256:[0-9a-f]{64}$"' in unpinned
    # ...which is where the program's own images come from.
    for image in run.outputs["images"].values() if stack != "dev" else ():
        assert image.startswith(registry + "/")


def test_only_web_may_be_public(any_run):
    services = policies(any_run)[f"{namespace_of(any_run)}.services"]
    (rule,) = services["spec"]["validations"]
    assert rule["expression"].endswith('object.metadata.name in ["web"]')


def test_no_workload_exists_before_the_admission_policies(any_run):
    (component,) = [r for r in any_run.resources if r.type == "griddb-todo:index:AdmissionPolicy"]
    guards = {r.urn for r in any_run.resources if r.parent == component.urn}
    assert len(guards) == 2 * (len(admission.POD_HOLDERS) + 1)  # each policy and its binding
    for type_name in ("GridDbNode", "AuthService", "WebFrontend"):
        (workload,) = [r for r in any_run.resources if r.type == f"griddb-todo:index:{type_name}"]
        # The engine creates the component (and so its children) only after these exist.
        assert guards <= set(workload.dependencies), type_name


def test_a_stack_that_may_not_create_cluster_scoped_objects_leaves_them_out():
    run = run_program("dev", {"admissionPolicy": False})
    assert not [r for r in run.resources if r.kind in (POLICY, BINDING) or r.type.endswith(":AdmissionPolicy")]
    # Everything else is still there.
    assert {r.kind for r in run.k8s_objects()} >= {"Namespace", "StatefulSet", "Deployment", "Service"}


def test_the_setting_must_be_a_boolean():
    with pytest.raises(ProgramFailed) as failed:
        run_program("dev", {"admissionPolicy": "sometimes"})
    assert "griddb-todo:admissionPolicy = 'sometimes': must be true or false" in str(failed.value)


def test_cel_literals_escape_what_would_end_them():
    assert admission.cel_string('a"b\\c') == '"a\\"b\\\\c"'


def test_the_component_registers_the_names_of_its_policies(dev_run):
    (component,) = [r for r in dev_run.resources if r.type == "griddb-todo:index:AdmissionPolicy"]
    assert sorted(dev_run.component_outputs[component.urn]["policyNames"]) == sorted(policies(dev_run))

"""AdmissionPolicy: the cluster itself refuses, in the stack's namespace, what breaks our conventions.

Kubernetes' built-in CEL admission (ValidatingAdmissionPolicy, GA since 1.30) checks every create
and update in the namespace, whoever makes it: a later change of this program, or a person with
kubectl. It refuses
  - a container or init container whose image is not from the stack's registry, pinned by digest;
  - a container or init container without cpu and memory limits;
  - a container without a readiness and a liveness probe (init containers run to completion);
  - a Service of type LoadBalancer or NodePort, except the ones named public (web's).
Pod Security "restricted" (components/namespace.py) covers the security contexts.

Policies and bindings are cluster-scoped objects: a stack whose user may not create them turns
this component off (setting `admissionPolicy`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components import workload

COMPONENT = "admission-policy"
# What every refusal starts with, so a user sees whose rule it is.
MESSAGE_PREFIX = "griddb-todo guardrail: "
DIGEST = "@sha256:[0-9a-f]{64}$"


@dataclass(frozen=True)
class PodHolder:
    """Objects that carry a pod spec, all at the same place in the object."""

    name: str  # suffix of the policy's name
    resources: tuple[tuple[str, tuple[str, ...]], ...]  # (API group, resources)
    pod_spec: str  # CEL: where the pod spec is
    # CEL: true when the object runs no pod now (replicas 0): then its image is not checked, so a
    # parked workload may keep a template image that was never built (GridDB parked). Any pod it
    # would start is still checked, by the Pod policy.
    parked: str = "false"


# One policy per place of the pod spec: CEL is type-checked against every kind a policy matches,
# and a field one kind lacks (a Pod has no spec.template) would be a type error for it.
POD_HOLDERS = (
    PodHolder("pods", (("", ("pods",)),), "object.spec"),
    PodHolder(
        "replicated",
        (("apps", ("deployments", "replicasets", "statefulsets")), ("", ("replicationcontrollers",))),
        "object.spec.template.spec",
        parked="has(object.spec.replicas) && object.spec.replicas == 0",
    ),
    PodHolder("daemonsets-and-jobs", (("apps", ("daemonsets",)), ("batch", ("jobs",))), "object.spec.template.spec"),
    PodHolder("cronjobs", (("batch", ("cronjobs",)),), "object.spec.jobTemplate.spec.template.spec"),
)


@dataclass(frozen=True)
class AdmissionPolicyArgs:
    namespace: pulumi.Input[str]  # the stack's namespace: the policies apply there only
    registry: str  # the stack's registry address, host[:port][/path]: images must come from there
    public_services: tuple[str, ...]  # Services that may be LoadBalancer or NodePort


def cel_string(value: str) -> str:
    """A CEL string literal (CEL's escapes are JSON's)."""
    return json.dumps(value)


def pod_validations(registry: str, parked: str) -> list[k8s.admissionregistration.v1.ValidationArgs]:
    """The rules for containers; the variables they use come from pod_variables."""
    v1 = k8s.admissionregistration.v1
    return [
        v1.ValidationArgs(
            expression=f"({parked}) || size(variables.unpinnedImages) == 0",
            message_expression=(
                f"{cel_string(MESSAGE_PREFIX)} + 'images must come from the stack registry ' + "
                f"{cel_string(registry)} + ', pinned by digest (' + {cel_string(registry)} + "
                "'/<name>@sha256:<digest>); not so: ' + variables.unpinnedImages.join(', ')"
            ),
        ),
        v1.ValidationArgs(
            expression="size(variables.withoutLimits) == 0",
            message_expression=(
                f"{cel_string(MESSAGE_PREFIX)} + 'every container and init container needs cpu and memory "
                "limits; missing in: ' + variables.withoutLimits.join(', ')"
            ),
        ),
        v1.ValidationArgs(
            expression="size(variables.withoutProbes) == 0",
            message_expression=(
                f"{cel_string(MESSAGE_PREFIX)} + 'every container needs a readinessProbe and a livenessProbe; "
                "missing in: ' + variables.withoutProbes.join(', ')"
            ),
        ),
    ]


def pod_variables(pod_spec: str, registry: str) -> list[k8s.admissionregistration.v1.VariableArgs]:
    v1 = k8s.admissionregistration.v1
    prefix = cel_string(registry + "/")
    return [
        v1.VariableArgs(name="spec", expression=pod_spec),
        v1.VariableArgs(
            name="initContainers",
            expression="has(variables.spec.initContainers) ? variables.spec.initContainers : []",
        ),
        v1.VariableArgs(name="allContainers", expression="variables.spec.containers + variables.initContainers"),
        v1.VariableArgs(
            name="unpinnedImages",
            expression=(
                "variables.allContainers.filter(c, !has(c.image) || "
                f"!(c.image.startsWith({prefix}) && c.image.matches({cel_string(DIGEST)})))"
                ".map(c, c.name + ' (' + (has(c.image) ? c.image : 'no image') + ')')"
            ),
        ),
        v1.VariableArgs(
            name="withoutLimits",
            expression=(
                "variables.allContainers.filter(c, !has(c.resources) || !has(c.resources.limits) || "
                "!('cpu' in c.resources.limits) || !('memory' in c.resources.limits)).map(c, c.name)"
            ),
        ),
        v1.VariableArgs(
            name="withoutProbes",
            expression=(
                "variables.spec.containers.filter(c, !has(c.readinessProbe) || !has(c.livenessProbe))"
                ".map(c, c.name)"
            ),
        ),
    ]


def service_validation(public_services: tuple[str, ...]) -> k8s.admissionregistration.v1.ValidationArgs:
    allowed = "[" + ", ".join(cel_string(s) for s in public_services) + "]"
    return k8s.admissionregistration.v1.ValidationArgs(
        expression=(
            "!(has(object.spec.type) && object.spec.type in ['LoadBalancer', 'NodePort']) || "
            f"object.metadata.name in {allowed}"
        ),
        message_expression=(
            f"{cel_string(MESSAGE_PREFIX)} + 'only ' + {cel_string(', '.join(public_services) or 'no Service')} + "
            "' may be of type LoadBalancer or NodePort; Service ' + object.metadata.name + ' is ' + object.spec.type"
        ),
    )


class AdmissionPolicy(pulumi.ComponentResource):
    """ValidatingAdmissionPolicies with their bindings, bound to the stack's namespace only."""

    policy_names: pulumi.Output[list[str]]

    def __init__(self, name: str, args: AdmissionPolicyArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("griddb-todo:index:AdmissionPolicy", name, None, opts)
        names = []
        for holder in POD_HOLDERS:
            names.append(self._policy(
                name, holder.name, args.namespace,
                [self._rule(group, resources) for group, resources in holder.resources],
                pod_validations(args.registry, holder.parked),
                pod_variables(holder.pod_spec, args.registry),
            ))
        names.append(self._policy(
            name, "services", args.namespace, [self._rule("", ("services",))],
            [service_validation(args.public_services)], [],
        ))
        self.policy_names = pulumi.Output.all(*names)
        self.register_outputs({"policyNames": self.policy_names})

    @staticmethod
    def _rule(group: str, resources: tuple[str, ...]) -> k8s.admissionregistration.v1.NamedRuleWithOperationsArgs:
        # Create and update: what makes or changes a pod spec or a Service type. Not delete,
        # and not subresources (status, scale: `kubectl scale` of a parked workload starts pods,
        # and those pods are checked by the Pod policy).
        return k8s.admissionregistration.v1.NamedRuleWithOperationsArgs(
            api_groups=[group], api_versions=["*"], resources=list(resources), operations=["CREATE", "UPDATE"],
        )

    def _policy(self, name, suffix, namespace, rules, validations, variables) -> pulumi.Output[str]:
        v1 = k8s.admissionregistration.v1
        child = pulumi.ResourceOptions(parent=self)
        # Cluster-scoped: the namespace in the name keeps stacks apart (a namespace has no '.').
        policy_name = pulumi.Output.concat(namespace, ".", suffix)
        labels = workload.labels(f"{name}-{suffix}", COMPONENT)
        policy = v1.ValidatingAdmissionPolicy(
            f"{name}-{suffix}",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=policy_name, labels=labels),
            spec=v1.ValidatingAdmissionPolicySpecArgs(
                # An expression that cannot be evaluated refuses the request: never a silent pass.
                failure_policy="Fail",
                match_constraints=v1.MatchResourcesArgs(resource_rules=rules),
                variables=variables or None,
                validations=validations,
            ),
            opts=child,
        )
        v1.ValidatingAdmissionPolicyBinding(
            f"{name}-{suffix}-binding",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=policy_name, labels=labels),
            spec=v1.ValidatingAdmissionPolicyBindingSpecArgs(
                policy_name=policy.metadata.name,
                validation_actions=["Deny"],
                # This stack's namespace only (the label every namespace carries since 1.22).
                match_resources=v1.MatchResourcesArgs(
                    namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                        match_labels={"kubernetes.io/metadata.name": namespace}
                    ),
                ),
            ),
            opts=child,
        )
        return policy.metadata.name

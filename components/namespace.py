"""AppNamespace: the stack's namespace and its default-deny policies (ingress and egress)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components import workload


@dataclass(frozen=True)
class AppNamespaceArgs:
    name: pulumi.Input[str]  # the Kubernetes namespace
    protect: bool = False  # deleting a namespace deletes the claims in it: protect it with the data


class AppNamespace(pulumi.ComponentResource):
    """Every pod in the namespace refuses ingress, and may only look names up, unless a
    component's policy allows more."""

    name: pulumi.Output[str]

    def __init__(self, name: str, args: AppNamespaceArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("griddb-todo:index:AppNamespace", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ns = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args.name,
                labels={
                    "app.kubernetes.io/part-of": workload.PART_OF,
                    # Pod Security "restricted", enforced: the API server refuses any pod here
                    # that runs as root, escalates privileges, keeps a capability, lacks the
                    # RuntimeDefault seccomp profile or mounts a hostPath directly. Ours are
                    # written for it (no root init step: components/griddb.py).
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/warn": "restricted",
                },
            ),
            # Protected together with the data; else protect is inherited from the caller.
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect or None),
        )
        def namespace_policy(policy: str, spec: k8s.networking.v1.NetworkPolicySpecArgs) -> None:
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{policy}",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=policy, namespace=ns.metadata.name, labels={"app.kubernetes.io/part-of": workload.PART_OF}
                ),
                spec=spec,
                opts=child,
            )

        every_pod = k8s.meta.v1.LabelSelectorArgs()
        namespace_policy("default-deny-ingress", k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=every_pod, policy_types=["Ingress"]))
        # Outbound too: a compromised pod reaches nothing the components did not allow.
        namespace_policy("default-deny-egress", k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=every_pod, policy_types=["Egress"]))
        # Name lookups, wherever the cluster's resolver runs (kube-dns, node-local DNS, ...).
        namespace_policy("allow-dns-egress", k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=every_pod,
            policy_types=["Egress"],
            egress=[k8s.networking.v1.NetworkPolicyEgressRuleArgs(ports=[
                k8s.networking.v1.NetworkPolicyPortArgs(protocol="UDP", port=53),
                k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=53),
            ])],
        ))
        self.name = ns.metadata.name
        self.register_outputs({"name": self.name})

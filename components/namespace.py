"""AppNamespace: the stack's namespace and its default-deny ingress policy."""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components import workload


class AppNamespace(pulumi.ComponentResource):
    """Every pod in the namespace refuses ingress unless a component's policy admits it."""

    name: pulumi.Output[str]

    def __init__(self, name: str, namespace: str, protect: bool, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("griddb-todo:index:AppNamespace", name, None, opts)
        ns = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=namespace,
                labels={
                    "app.kubernetes.io/part-of": workload.PART_OF,
                    # The pod security admission level every workload here is written for.
                    "pod-security.kubernetes.io/enforce": "baseline",
                    "pod-security.kubernetes.io/warn": "restricted",
                },
            ),
            # Deleting a namespace deletes the claims in it: protected together with the data.
            opts=pulumi.ResourceOptions(parent=self, protect=protect),
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-default-deny-ingress",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name="default-deny-ingress", namespace=ns.metadata.name, labels={"app.kubernetes.io/part-of": workload.PART_OF}
            ),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(),
                policy_types=["Ingress"],
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.name = ns.metadata.name
        self.register_outputs({"name": self.name})

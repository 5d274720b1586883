"""Pieces every workload shares: labels, hardened security contexts, network policy peers.

One place, so the hardening cannot drift between the three services.
"""

from __future__ import annotations

from typing import Optional

import pulumi_kubernetes as k8s

PART_OF = "griddb-todo"
# Every Dockerfile declares `USER 10001:10001` (docs/interfaces.md).
APP_UID = 10001


def labels(name: str, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
    }


def selector(name: str) -> dict[str, str]:
    """The immutable subset of `labels` used by Deployment and Service selectors."""
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": PART_OF}


def pod_security_context() -> k8s.core.v1.PodSecurityContextArgs:
    return k8s.core.v1.PodSecurityContextArgs(
        run_as_non_root=True,
        run_as_user=APP_UID,
        run_as_group=APP_UID,
        fs_group=APP_UID,
        # Only chown the volume when its root does not already match: fast restarts on big data.
        fs_group_change_policy="OnRootMismatch",
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )


def container_security_context(
    add_capabilities: Optional[list[str]] = None, run_as_root: bool = False
) -> k8s.core.v1.SecurityContextArgs:
    """Non-root, read-only root filesystem, no privilege escalation, every capability dropped.

    `run_as_root` and `add_capabilities` exist for the one init step that must chown a hostPath
    directory; callers say why in a comment.
    """
    return k8s.core.v1.SecurityContextArgs(
        allow_privilege_escalation=False,
        read_only_root_filesystem=True,
        run_as_non_root=not run_as_root,
        run_as_user=0 if run_as_root else None,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"], add=add_capabilities or None),
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )


def resources(cpu_request: str, memory_request: str, cpu_limit: str, memory_limit: str):
    return k8s.core.v1.ResourceRequirementsArgs(
        requests={"cpu": cpu_request, "memory": memory_request},
        limits={"cpu": cpu_limit, "memory": memory_limit},
    )


def tmp_volume() -> tuple[k8s.core.v1.VolumeArgs, k8s.core.v1.VolumeMountArgs]:
    """A small writable /tmp for a container whose root filesystem is read-only."""
    return (
        k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="64Mi")),
        k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp"),
    )


def http_probe(path: str, port: str, period: int, failure_threshold: int = 3) -> k8s.core.v1.ProbeArgs:
    return k8s.core.v1.ProbeArgs(
        http_get=k8s.core.v1.HTTPGetActionArgs(path=path, port=port),
        period_seconds=period,
        timeout_seconds=3,
        failure_threshold=failure_threshold,
    )


def ingress_policy(
    name: str,
    namespace: str,
    target: str,
    port: int,
    from_pods: Optional[list[str]],
    opts,
) -> k8s.networking.v1.NetworkPolicy:
    """Admit TCP `port` of the pods named `target`: from the pods named in `from_pods`, or from
    anywhere when `from_pods` is None. Everything else is denied by the namespace default."""
    peers = None
    if from_pods is not None:
        peers = [
            k8s.networking.v1.NetworkPolicyPeerArgs(pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector(p)))
            for p in from_pods
        ]
    return k8s.networking.v1.NetworkPolicy(
        name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=f"allow-{target}", namespace=namespace, labels=labels(target, "network-policy")),
        spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector(target)),
            policy_types=["Ingress"],
            ingress=[
                k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                    from_=peers,
                    ports=[k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=port)],
                )
            ],
        ),
        opts=opts,
    )

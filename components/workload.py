"""Pieces every workload shares: labels, hardened security contexts, network policy peers.

One place, so the hardening cannot drift between the three services.
"""

from __future__ import annotations

from typing import Mapping, Optional

import pulumi
import pulumi_kubernetes as k8s

PART_OF = "griddb-todo"
# Every Dockerfile declares `USER 10001:10001` (docs/interfaces.md).
APP_UID = 10001
# Every image is built for linux/amd64 (components/image.py: GridDB's server exists for amd64
# only): a mixed-architecture cluster must never schedule a pod where it cannot run.
NODE_ARCH = "amd64"
# web and auth serve Prometheus metrics here, apart from their public port (docs/interfaces.md).
METRICS_PORT = 9090
METRICS_PATH = "/metrics"


def as_text(value: pulumi.Input) -> pulumi.Output[str]:
    """An int (or an output of one) as the string an environment variable needs."""
    return pulumi.Output.from_input(value).apply(str)


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


def container_security_context() -> k8s.core.v1.SecurityContextArgs:
    """Non-root, read-only root filesystem, no privilege escalation, every capability dropped:
    what Pod Security "restricted" (enforced on the namespace) demands, and more."""
    return k8s.core.v1.SecurityContextArgs(
        allow_privilege_escalation=False,
        read_only_root_filesystem=True,
        run_as_non_root=True,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
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


def env_from_secret(env: str, secret_name, key: str) -> k8s.core.v1.EnvVarArgs:
    return k8s.core.v1.EnvVarArgs(
        name=env,
        value_from=k8s.core.v1.EnvVarSourceArgs(
            secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=secret_name, key=key)
        ),
    )


def http_probe(path: str, port: str, period: int, failure_threshold: int = 3) -> k8s.core.v1.ProbeArgs:
    return k8s.core.v1.ProbeArgs(
        http_get=k8s.core.v1.HTTPGetActionArgs(path=path, port=port),
        period_seconds=period,
        timeout_seconds=3,
        failure_threshold=failure_threshold,
    )


# Graceful shutdown of the HTTP services (web, auth). When a pod is deleted, Kubernetes removes
# it from the Service's endpoints and sends SIGTERM at the same moment; kube-proxy and load
# balancers learn of the removal a little later. So the container first pauses (preStop) while
# new connections may still arrive, then on SIGTERM stops listening, lets requests in flight
# finish (at most SHUTDOWN_DRAIN_SECONDS, the services read it from that variable), closes its
# connections (web: GridDB) and exits. The grace period covers all of it with room to spare.
ENDPOINT_REMOVAL_PAUSE_SECONDS = 5
SHUTDOWN_DRAIN_SECONDS = 10
SHUTDOWN_CLOSE_SECONDS = 5  # web's GridDB store closes within this (services/web/web/griddb_store.py)
SHUTDOWN_GRACE_SECONDS = ENDPOINT_REMOVAL_PAUSE_SECONDS + SHUTDOWN_DRAIN_SECONDS + SHUTDOWN_CLOSE_SECONDS + 10


def shutdown_env() -> k8s.core.v1.EnvVarArgs:
    return k8s.core.v1.EnvVarArgs(name="SHUTDOWN_DRAIN_SECONDS", value=str(SHUTDOWN_DRAIN_SECONDS))


def endpoint_removal_pause() -> k8s.core.v1.LifecycleArgs:
    """preStop: the kubelet's own sleep (Kubernetes >= 1.30), no sleep binary needed in the image."""
    return k8s.core.v1.LifecycleArgs(
        pre_stop=k8s.core.v1.LifecycleHandlerArgs(
            sleep=k8s.core.v1.SleepActionArgs(seconds=ENDPOINT_REMOVAL_PAUSE_SECONDS)
        )
    )


def startup_probe(path: str, port: str, budget_seconds: int) -> k8s.core.v1.ProbeArgs:
    """Asked every second until it passes (at most `budget_seconds`); liveness and readiness
    start only then, so a slow start is never mistaken for a hung process."""
    return k8s.core.v1.ProbeArgs(
        http_get=k8s.core.v1.HTTPGetActionArgs(path=path, port=port),
        period_seconds=1,
        timeout_seconds=2,
        failure_threshold=budget_seconds,
    )


def one_at_a_time() -> k8s.apps.v1.DeploymentStrategyArgs:
    """A rolling update that starts one new pod and removes an old one only once the new one is
    ready: never fewer ready pods than wanted (stateless workloads only)."""
    return k8s.apps.v1.DeploymentStrategyArgs(
        type="RollingUpdate",
        rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(max_unavailable=0, max_surge=1),
    )


def spread_across_nodes(name: str) -> list[k8s.core.v1.TopologySpreadConstraintArgs]:
    """Pods of `name` on different nodes where there are several. ScheduleAnyway: a preference,
    so one node (k3s) still runs them all. pod-template-hash: the spread is counted per
    revision, so a rollout's new pods spread too instead of piling up beside the old ones."""
    return [
        k8s.core.v1.TopologySpreadConstraintArgs(
            max_skew=1,
            topology_key="kubernetes.io/hostname",
            when_unsatisfiable="ScheduleAnyway",
            label_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector(name)),
            match_label_keys=["pod-template-hash"],
        )
    ]


def disruption_budget(resource_name: str, name: str, namespace, component: str, replicas: int, opts):
    """With more than one pod: a drain or an eviction takes one at a time. None with one pod: a
    budget would then block every node drain (the rolling update keeps it serving instead)."""
    if replicas <= 1:
        return None
    return k8s.policy.v1.PodDisruptionBudget(
        resource_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace, labels=labels(name, component)),
        spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
            max_unavailable=1,
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector(name)),
            # A pod that is not ready serves nothing: evicting it never costs availability, and
            # a crash-looping pod must not block a drain.
            unhealthy_pod_eviction_policy="AlwaysAllow",
        ),
        opts=opts,
    )


def metrics_container_port() -> k8s.core.v1.ContainerPortArgs:
    """The port a container serves its metrics on. Named "metrics"; no Service ever lists it."""
    return k8s.core.v1.ContainerPortArgs(name="metrics", container_port=METRICS_PORT)


def scrape_annotations(scrape_namespace: Optional[str]) -> Optional[dict[str, str]]:
    """The usual prometheus.io annotations of a pod, when something may scrape it: a pod that
    says "scrape me" while its policy lets nobody in would only be a target that is always down."""
    if scrape_namespace is None:
        return None
    return {"prometheus.io/scrape": "true", "prometheus.io/port": str(METRICS_PORT),
            "prometheus.io/path": METRICS_PATH}


def metrics_ingress_policy(
    name: str,
    namespace: str,
    target: str,
    scrape_namespace: Optional[str],
    opts,
) -> Optional[k8s.networking.v1.NetworkPolicy]:
    """Admit the metrics port of the pods named `target` from the pods of `scrape_namespace`
    (any pod there), nothing else; no policy, so no scrape ingress at all, without one.
    The namespace is matched by kubernetes.io/metadata.name, the label the API server itself
    sets on every namespace, so no one can label another namespace into the scrapers."""
    if scrape_namespace is None:
        return None
    return k8s.networking.v1.NetworkPolicy(
        name,
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=f"allow-{target}-metrics", namespace=namespace, labels=labels(target, "network-policy")
        ),
        spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector(target)),
            policy_types=["Ingress"],
            ingress=[
                k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                    from_=[k8s.networking.v1.NetworkPolicyPeerArgs(
                        namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                            match_labels={"kubernetes.io/metadata.name": scrape_namespace}))],
                    ports=[k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=METRICS_PORT)],
                )
            ],
        ),
        opts=opts,
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


def egress_policy(
    name: str,
    namespace: str,
    source: str,
    destinations: list[tuple[str, list[int]]],
    opts,
) -> k8s.networking.v1.NetworkPolicy:
    """Let the pods named `source` open TCP connections to the pods named in `destinations`, on
    the given ports. Everything else but DNS is denied by the namespace default."""
    return k8s.networking.v1.NetworkPolicy(
        name,
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=f"allow-{source}-egress", namespace=namespace, labels=labels(source, "network-policy")
        ),
        spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector(source)),
            policy_types=["Egress"],
            egress=[
                k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                    to=[k8s.networking.v1.NetworkPolicyPeerArgs(
                        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector(target)))],
                    ports=[k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=p) for p in ports],
                )
                for target, ports in destinations
            ],
        ),
        opts=opts,
    )


def pod_spec(
    containers: list[k8s.core.v1.ContainerArgs],
    volumes: list[k8s.core.v1.VolumeArgs],
    init_containers: Optional[list[k8s.core.v1.ContainerArgs]] = None,
    termination_grace_period_seconds: Optional[int] = None,
    image_pull_secret: Optional[pulumi.Input[str]] = None,
    topology_spread_constraints: Optional[list[k8s.core.v1.TopologySpreadConstraintArgs]] = None,
) -> k8s.core.v1.PodSpecArgs:
    """What every pod of ours shares: the hardened security context; no service-account token
    (none of the services calls the Kubernetes API); no service-link variables (a Service named
    auth would inject AUTH_PORT=tcp://..., clashing with the services' own variables); nodes of
    the images' architecture only; the registry's pull secret when the registry wants one."""
    return k8s.core.v1.PodSpecArgs(
        automount_service_account_token=False,
        enable_service_links=False,
        security_context=pod_security_context(),
        node_selector={"kubernetes.io/arch": NODE_ARCH},
        image_pull_secrets=(
            [k8s.core.v1.LocalObjectReferenceArgs(name=image_pull_secret)] if image_pull_secret is not None else None
        ),
        init_containers=init_containers,
        containers=containers,
        volumes=volumes,
        termination_grace_period_seconds=termination_grace_period_seconds,
        topology_spread_constraints=topology_spread_constraints,
    )


def deployment(
    resource_name: str,
    name: str,
    namespace,
    component: str,
    replicas: int,
    pod: k8s.core.v1.PodSpecArgs,
    opts,
    strategy: Optional[k8s.apps.v1.DeploymentStrategyArgs] = None,
    pod_annotations: Optional[dict[str, str]] = None,
) -> k8s.apps.v1.Deployment:
    return k8s.apps.v1.Deployment(
        resource_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace, labels=labels(name, component)),
        spec=k8s.apps.v1.DeploymentSpecArgs(
            replicas=replicas,
            strategy=strategy,
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector(name)),
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels(name, component), annotations=pod_annotations),
                spec=pod,
            ),
        ),
        opts=opts,
    )


def stateful_set(
    resource_name: str,
    name: str,
    namespace,
    component: str,
    replicas: int,
    service_name: str,
    pod: k8s.core.v1.PodSpecArgs,
    opts,
) -> k8s.apps.v1.StatefulSet:
    """A StatefulSet of at most one pod, for a workload that must never run twice at once.

    Its pod has a fixed name (`<name>-0`): the controller creates the replacement only once the
    old pod object is gone, i.e. after its containers stopped (deletion, eviction) or after the
    node is known to be down, where a Deployment starts the replacement at once. Volumes are the
    caller's (no volumeClaimTemplates), so the data's lifetime stays the caller's decision."""
    return k8s.apps.v1.StatefulSet(
        resource_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace, labels=labels(name, component)),
        spec=k8s.apps.v1.StatefulSetSpecArgs(
            replicas=replicas,
            service_name=service_name,
            # One pod: ordered start and a rolling update mean "stop the old, then start the new".
            pod_management_policy="OrderedReady",
            update_strategy=k8s.apps.v1.StatefulSetUpdateStrategyArgs(type="RollingUpdate"),
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector(name)),
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels(name, component)), spec=pod
            ),
        ),
        opts=opts,
    )


# What `pulumi up` waits for on a Service of each type (pulumi-kubernetes' waitFor annotation):
# the address clients use. A LoadBalancer's comes from the cloud (or k3s' ServiceLB) and is the
# stack's `url`; the others are assigned by the API server as the Service is created.
WAIT_FOR = "pulumi.com/waitFor"
SERVICE_ADDRESS_WAIT = {
    "LoadBalancer": "jsonpath={.status.loadBalancer.ingress}",
    "NodePort": "jsonpath={.spec.ports[0].nodePort}",
    "ClusterIP": "jsonpath={.spec.clusterIP}",
}


def _with_address_wait(annotations, service_type: str):
    """The given annotations plus the address wait; a waitFor of the user's own takes precedence."""
    wait = {WAIT_FOR: SERVICE_ADDRESS_WAIT[service_type]}
    if annotations is None:
        return wait
    return pulumi.Output.from_input(annotations).apply(lambda given: {**wait, **(given or {})})


def service(
    resource_name: str,
    name: str,
    namespace,
    component: str,
    port: k8s.core.v1.ServicePortArgs,
    opts,
    service_type: str = "ClusterIP",
    annotations: Optional[pulumi.Input[Mapping[str, pulumi.Input[str]]]] = None,
    external_traffic_policy: Optional[str] = None,
) -> k8s.core.v1.Service:
    """A Service with an explicit name (the DNS name the other services use) selecting `name`'s pods.

    Pulumi waits for the Service's address (SERVICE_ADDRESS_WAIT), not for its endpoints: the
    pods it selects are its workload's, whose rollout Pulumi awaits until they are ready, and the
    Endpoints follow them at once. pulumi-kubernetes' default Service wait adds a fixed 10 s
    "settle" after every change of the Endpoints (its await/service.go), which put about 2 s on
    every cold deploy's critical path and told nothing the rollout wait does not."""
    return k8s.core.v1.Service(
        resource_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=name, namespace=namespace, labels=labels(name, component),
            annotations=_with_address_wait(annotations, service_type),
        ),
        spec=k8s.core.v1.ServiceSpecArgs(type=service_type, selector=selector(name), ports=[port],
                                         external_traffic_policy=external_traffic_policy),
        opts=opts,
    )

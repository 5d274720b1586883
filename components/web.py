"""WebFrontend: the Todo UI and API, the one workload reachable from outside the cluster."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

import pulumi
import pulumi_kubernetes as k8s

from components import workload

NAME = "web"
COMPONENT = "web-frontend"
# The port the server listens on inside the container (WEB_PORT). The Service's targetPort
# names it, so the original's fault (targetPort 8000, server on 8080) cannot come back.
CONTAINER_PORT = 8080


@dataclass(frozen=True)
class WebFrontendArgs:
    namespace: pulumi.Input[str]
    image: pulumi.Input[str]
    replicas: int  # plain: a PodDisruptionBudget exists only with more than one
    service_type: str  # plain: it decides how the public URL is found
    port: pulumi.Input[int]
    node_port: Optional[pulumi.Input[int]]
    auth_url: pulumi.Input[str]
    issuer: pulumi.Input[str]
    audience: pulumi.Input[str]
    griddb_host: pulumi.Input[str]
    griddb_port: pulumi.Input[int]
    griddb_cluster_name: pulumi.Input[str]
    griddb_credentials_secret: pulumi.Input[str]
    # (workload name, port) web opens connections to: auth and GridDB.
    upstreams: tuple[tuple[str, pulumi.Input[int]], ...] = ()
    image_pull_secret: Optional[pulumi.Input[str]] = None  # the registry's, when it wants credentials
    # The namespace whose pods may scrape the metrics port (Prometheus'); None: nobody's.
    metrics_scrape_namespace: Optional[str] = None
    # e.g. a cloud load balancer's settings (TLS certificate, internal scheme): README.md
    service_annotations: Optional[pulumi.Input[Mapping[str, pulumi.Input[str]]]] = None
    # True when GridDB runs: a new pod counts as started only once it reached GridDB, so `up`
    # (which waits for the rollout) returns when the todo API answers. False when GridDB is
    # parked: nothing to reach, the API answers 503 and the pod starts at once.
    wait_for_store: bool = False
    # With wait_for_store: how long GridDB may take to be ready (griddbWaitSeconds). web's rollout
    # cannot end before GridDB's, so `up` waits that long plus web's own start, and no longer: a
    # GridDB that never comes (a claim that cannot bind) fails `up` in that time, not in 10 minutes.
    store_wait_seconds: int = 600
    # Each pod's CPU request in millicores (webCpuMillicores); the limit is one core.
    cpu_millicores: int = 100


class WebFrontend(pulumi.ComponentResource):
    url: pulumi.Output[str]

    def __init__(self, name: str, args: WebFrontendArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("griddb-todo:index:WebFrontend", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        tmp, tmp_mount = workload.tmp_volume()
        container = k8s.core.v1.ContainerArgs(
            name=NAME,
            image=args.image,
            ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=CONTAINER_PORT),
                   workload.metrics_container_port()],
            env=[
                k8s.core.v1.EnvVarArgs(name="WEB_PORT", value=str(CONTAINER_PORT)),
                k8s.core.v1.EnvVarArgs(name="WEB_METRICS_PORT", value=str(workload.METRICS_PORT)),
                k8s.core.v1.EnvVarArgs(name="AUTH_URL", value=args.auth_url),
                k8s.core.v1.EnvVarArgs(name="TOKEN_ISSUER", value=args.issuer),
                k8s.core.v1.EnvVarArgs(name="TOKEN_AUDIENCE", value=args.audience),
                k8s.core.v1.EnvVarArgs(name="TODO_STORE", value="griddb"),
                k8s.core.v1.EnvVarArgs(
                    name="GRIDDB_NOTIFICATION_MEMBER",
                    value=pulumi.Output.concat(args.griddb_host, ":", workload.as_text(args.griddb_port)),
                ),
                k8s.core.v1.EnvVarArgs(name="GRIDDB_CLUSTER_NAME", value=args.griddb_cluster_name),
                workload.env_from_secret("GRIDDB_USERNAME", args.griddb_credentials_secret, "username"),
                workload.env_from_secret("GRIDDB_PASSWORD", args.griddb_credentials_secret, "password"),
                workload.shutdown_env(),
            ],
            volume_mounts=[tmp_mount],
            security_context=workload.container_security_context(),
            # The GridDB client runs in a JVM (JPype): memory is sized for it.
            resources=workload.resources(f"{args.cpu_millicores}m", "384Mi", "1", "768Mi"),
            # Both on /healthz: web serves the UI and login while GridDB is away (the todo API
            # answers 503), so it stays in the Service.
            readiness_probe=workload.http_probe("/healthz", "http", period=5),
            liveness_probe=workload.http_probe("/healthz", "http", period=15),
            # With GridDB running, /readyz: 200 once the store is connected. Only at start: a
            # started pod keeps serving the UI and login through a GridDB outage (probes above).
            # Started with GridDB, not after it, so web's rollout runs beside GridDB's and `up`
            # returns with the todo API answering. Parked, /startupz: up, and its first
            # connection attempt made, so no rollout waits for a GridDB that is not there.
            startup_probe=(
                workload.http_probe("/readyz", "http", period=1, failure_threshold=_start_budget_seconds(args))
                if args.wait_for_store
                else workload.startup_probe("/startupz", "http", budget_seconds=60)
            ),
            lifecycle=workload.endpoint_removal_pause(),
        )
        rollout_opts = pulumi.ResourceOptions.merge(child, _rollout_wait(args))
        workload.deployment(
            f"{name}-deployment", NAME, args.namespace, COMPONENT, args.replicas,
            # Stateless: roll one pod at a time and never drop below the wanted count.
            strategy=workload.one_at_a_time(),
            pod=workload.pod_spec(
                [container], [tmp], image_pull_secret=args.image_pull_secret,
                termination_grace_period_seconds=workload.SHUTDOWN_GRACE_SECONDS,
                topology_spread_constraints=workload.spread_across_nodes(NAME),
            ),
            pod_annotations=workload.scrape_annotations(args.metrics_scrape_namespace),
            opts=rollout_opts,
        )
        workload.disruption_budget(f"{name}-disruption-budget", NAME, args.namespace, COMPONENT, args.replicas, child)
        service = workload.service(
            f"{name}-service", NAME, args.namespace, COMPONENT,
            k8s.core.v1.ServicePortArgs(name="http", port=args.port, target_port="http", node_port=args.node_port),
            # Created beside the Deployment. Pulumi waits for its address (a LoadBalancer's
            # ingress: the stack's url), while the Deployment's rollout wait covers web's ready
            # pods, its endpoints (workload.service says why).
            opts=child,
            service_type=args.service_type,
            annotations=args.service_annotations,
            # Local: the pod sees the client's own address (auth throttles logins by it); the
            # default policy would show it the node's, shared by every client.
            external_traffic_policy=None if args.service_type == "ClusterIP" else "Local",
        )
        # From anywhere, but only to the container's port.
        workload.ingress_policy(f"{name}-ingress", args.namespace, NAME, CONTAINER_PORT, None, child)
        # The metrics port: only from the scrapers' namespace (none when unset), never from anywhere.
        workload.metrics_ingress_policy(f"{name}-metrics-ingress", args.namespace, NAME,
                                        args.metrics_scrape_namespace, child)
        workload.egress_policy(
            f"{name}-egress", args.namespace, NAME, [(target, [port]) for target, port in args.upstreams], child
        )

        self.url = _public_url(service, args)
        self.register_outputs({"url": self.url})


def _public_url(service: k8s.core.v1.Service, args: WebFrontendArgs) -> pulumi.Output[str]:
    port = workload.as_text(args.port)
    if args.service_type == "LoadBalancer":
        def from_status(status) -> pulumi.Input[str]:
            ingress = (status.load_balancer.ingress or [None])[0] if status and status.load_balancer else None
            host = (ingress.ip or ingress.hostname) if ingress else None
            return pulumi.Output.concat("http://", host, ":", port) if host else "(load balancer address pending)"

        return service.status.apply(from_status)
    if args.service_type == "NodePort":
        return service.spec.apply(lambda spec: f"http://<node-address>:{spec.ports[0].node_port}")
    return pulumi.Output.concat(
        "(cluster-internal) http://web.", args.namespace, ".svc:", port,
        " - reach it with: kubectl -n ", args.namespace, " port-forward svc/web ", port,
    )


# web's own part of a rollout once GridDB answers: its pods start, one at a time, in seconds.
OWN_ROLLOUT_SECONDS = 120


def _start_budget_seconds(args: WebFrontendArgs) -> int:
    """While web's start waits for GridDB: GridDB's wait plus web's own start. One bound for both
    the kubelet (the startup probe's budget, at one probe a second) and Pulumi (the rollout's
    wait), so a GridDB that takes long to start is waited for, not fought with restarts."""
    return args.store_wait_seconds + OWN_ROLLOUT_SECONDS


def _rollout_wait(args: WebFrontendArgs) -> pulumi.ResourceOptions:
    """pulumi-kubernetes' default wait (10 minutes) while GridDB is parked; the start budget
    while web's startup waits for GridDB."""
    if not args.wait_for_store:
        return pulumi.ResourceOptions()
    seconds = f"{_start_budget_seconds(args)}s"
    return pulumi.ResourceOptions(custom_timeouts=pulumi.CustomTimeouts(create=seconds, update=seconds))

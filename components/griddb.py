"""GridDbNode: one GridDB Community Edition node (FIXED_LIST, one member) and its storage.

At most one GridDB process may ever open the volume: the node runs as a StatefulSet of 0 or 1
pods (see workload.stateful_set), and its claim is a separate, optionally protected resource,
so `pulumi destroy` or a rename of the workload never touches the data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components import workload

NAME = "griddb"
COMPONENT = "database"
TRANSACTION_PORT = 10001
# The claim's name; the k3s hostPath volume is reserved for exactly this claim.
CLAIM_NAME = "griddb-data"
# The image keeps data/ and txnlog/ under this directory (docs/interfaces.md): both must
# survive a new container, or GridDB refuses to start (RM_CP_FILE_WITH_NO_LOG_FILE).
STORAGE_MOUNT = "/var/lib/gridstore/storage"
# Long enough for the clean shutdown (stop cluster, then node, with its checkpoint).
TERMINATION_GRACE_SECONDS = 60


@dataclass(frozen=True)
class GridDbNodeArgs:
    """Plain values where the component's shape depends on them; inputs everywhere else."""

    namespace: pulumi.Input[str]
    image: pulumi.Input[str]
    cluster_name: pulumi.Input[str]
    replicas: int  # 0 parks the node (claim and data stay, no endpoints to wait for), 1 runs it
    username: pulumi.Input[str]
    password: Optional[pulumi.Input[str]]  # None: generate one
    log_write_mode: pulumi.Input[int]
    storage_size: pulumi.Input[str]
    storage_class: Optional[pulumi.Input[str]]
    host_path: Optional[pulumi.Input[str]]  # set: a hostPath PersistentVolume (k3s); None: dynamic provisioning
    protect_data: bool
    clients: tuple[str, ...]  # names of the workloads allowed to reach port 10001
    image_pull_secret: Optional[pulumi.Input[str]] = None  # the registry's, when it wants credentials
    # How long `up` waits for the claim to be Bound and for the StatefulSet to be ready (its pod
    # cannot be ready before the claim binds): past it, `up` fails and says which one was late.
    wait_seconds: int = 600


class GridDbNode(pulumi.ComponentResource):
    host: str
    port: int
    cluster_name: pulumi.Output[str]
    credentials_secret_name: pulumi.Output[str]
    claim_name: pulumi.Output[str]

    def __init__(self, name: str, args: GridDbNodeArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("griddb-todo:index:GridDbNode", name, None, opts)
        # Children inherit the caller's provider, protect and transforms from their parent.
        child = pulumi.ResourceOptions(parent=self)
        # The data outlives `pulumi destroy` when the stack says so; else protect is inherited
        # (never False: that would undo a caller who protected the whole component).
        data_opts = pulumi.ResourceOptions(parent=self, protect=args.protect_data or None)

        password = args.password
        if password is None:
            # Letters and digits only: the password goes into GridDB's config files.
            password = random.RandomPassword(f"{name}-admin-password", length=24, special=False, opts=child).result

        credentials = k8s.core.v1.Secret(
            f"{name}-credentials",
            metadata=k8s.meta.v1.ObjectMetaArgs(namespace=args.namespace, labels=workload.labels(NAME, COMPONENT)),
            string_data={"username": args.username, "password": password},
            # Immutable and auto-named: a new password makes a new Secret, and the workloads
            # that read it roll, instead of pods silently keeping the old value.
            immutable=True,
            opts=child,
        )

        volume = None
        if args.host_path is not None:
            volume = self._host_path_volume(name, args, data_opts)
        claim = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-data",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=CLAIM_NAME,
                namespace=args.namespace,
                labels=workload.labels(NAME, COMPONENT),
                annotations=_claim_await(args, volume is not None),
            ),
            spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                access_modes=["ReadWriteOnce"],
                storage_class_name=args.storage_class,
                volume_name=volume.metadata.name if volume is not None else None,
                resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": args.storage_size}),
            ),
            # Created with the pod that makes it bind, i.e. once the image is pushed: its wait for
            # Bound (_claim_await) must not run out while the image is still being built.
            opts=pulumi.ResourceOptions.merge(data_opts, pulumi.ResourceOptions(depends_on=[_after(args.image)])),
        )

        # The StatefulSet names the claim by its constant name, not by the claim's output: it must
        # not wait for a Bound claim, because on a WaitForFirstConsumer class the claim binds only
        # once this pod is scheduled.
        self._stateful_set(name, args, credentials, child)
        # Created beside the StatefulSet, not after it. Its endpoints are the node's ready pod
        # (MASTER status), which the StatefulSet's rollout wait already waits for; a parked node
        # has none, and the Service's own wait (its address) does not look for any.
        workload.service(
            f"{name}-service", NAME, args.namespace, COMPONENT,
            k8s.core.v1.ServicePortArgs(name="transaction", port=TRANSACTION_PORT, target_port="transaction"),
            opts=child,
            # ClusterIP only: the node hands clients its pod IP, which only in-cluster clients reach.
            service_type="ClusterIP",
        )
        workload.ingress_policy(
            f"{name}-ingress", args.namespace, NAME, TRANSACTION_PORT, list(args.clients), child
        )
        # The one FIXED_LIST member reaches itself at its pod IP (transaction, cluster, sync, system).
        workload.egress_policy(
            f"{name}-egress", args.namespace, NAME, [(NAME, [TRANSACTION_PORT, 10010, 10020, 10040])], child
        )

        # A plain string: the Service's name is fixed (NAME), so web's Deployment, whose GridDB
        # address this is, is not held back until GridDB's pod is ready.
        self.host = NAME
        self.port = TRANSACTION_PORT
        self.cluster_name = pulumi.Output.from_input(args.cluster_name)
        self.credentials_secret_name = credentials.metadata.name
        self.claim_name = claim.metadata.name
        self.register_outputs({
            "host": self.host,
            "port": self.port,
            "clusterName": self.cluster_name,
            "credentialsSecretName": self.credentials_secret_name,
            "claimName": self.claim_name,
        })

    def _host_path_volume(self, name: str, args: GridDbNodeArgs, opts: pulumi.ResourceOptions):
        # PersistentVolumes are cluster-wide: the namespace in the name keeps stacks apart.
        pv_name = pulumi.Output.concat(args.namespace, "-", CLAIM_NAME)
        return k8s.core.v1.PersistentVolume(
            f"{name}-volume",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=pv_name, labels=workload.labels(NAME, COMPONENT)),
            spec=k8s.core.v1.PersistentVolumeSpecArgs(
                capacity={"storage": args.storage_size},
                access_modes=["ReadWriteOnce"],
                # Retain: deleting the claim never deletes GridDB's files.
                persistent_volume_reclaim_policy="Retain",
                # The same explicit class as the claim, so k3s' default local-path class
                # does not provision a different volume for it.
                storage_class_name=args.storage_class,
                host_path=k8s.core.v1.HostPathVolumeSourceArgs(path=args.host_path, type="DirectoryOrCreate"),
                # Reserved for our claim: no other claim can take it.
                claim_ref=k8s.core.v1.ObjectReferenceArgs(namespace=args.namespace, name=CLAIM_NAME),
            ),
            opts=opts,
        )

    def _stateful_set(self, name, args: GridDbNodeArgs, credentials, opts) -> k8s.apps.v1.StatefulSet:
        def empty_dir(volume: str) -> k8s.core.v1.VolumeArgs:
            return k8s.core.v1.VolumeArgs(name=volume, empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="256Mi"))

        storage_mount = k8s.core.v1.VolumeMountArgs(name="storage", mount_path=STORAGE_MOUNT)
        ready = k8s.core.v1.ExecActionArgs(command=["griddb-ready"])
        server = k8s.core.v1.ContainerArgs(
            name="griddb",
            image=args.image,
            ports=[
                k8s.core.v1.ContainerPortArgs(name="transaction", container_port=TRANSACTION_PORT),
                k8s.core.v1.ContainerPortArgs(name="cluster", container_port=10010),
                k8s.core.v1.ContainerPortArgs(name="sync", container_port=10020),
                k8s.core.v1.ContainerPortArgs(name="system", container_port=10040),
                k8s.core.v1.ContainerPortArgs(name="sql", container_port=20001),
            ],
            env=[
                k8s.core.v1.EnvVarArgs(name="GRIDDB_CLUSTER_NAME", value=args.cluster_name),
                k8s.core.v1.EnvVarArgs(name="NOTIFICATION_MEMBER", value="1"),
                workload.env_from_secret("GRIDDB_USERNAME", credentials.metadata.name, "username"),
                workload.env_from_secret("GRIDDB_PASSWORD", credentials.metadata.name, "password"),
                # Read on every start: the config never keeps a stale pod IP.
                k8s.core.v1.EnvVarArgs(
                    name="POD_IP",
                    value_from=k8s.core.v1.EnvVarSourceArgs(
                        field_ref=k8s.core.v1.ObjectFieldSelectorArgs(field_path="status.podIP")
                    ),
                ),
                k8s.core.v1.EnvVarArgs(name="GRIDDB_LOG_WRITE_MODE", value=workload.as_text(args.log_write_mode)),
            ],
            volume_mounts=[
                storage_mount,
                k8s.core.v1.VolumeMountArgs(name="conf", mount_path="/var/lib/gridstore/conf"),
                k8s.core.v1.VolumeMountArgs(name="log", mount_path="/var/lib/gridstore/log"),
                k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp"),
            ],
            security_context=workload.container_security_context(),
            resources=workload.resources("250m", "768Mi", "1", "1536Mi"),
            # The server listens before it has joined its cluster, so a TCP check says ready too
            # early: the node's own MASTER status (what gs_stat reports) is the honest one.
            startup_probe=k8s.core.v1.ProbeArgs(exec_=ready, period_seconds=5, timeout_seconds=10, failure_threshold=60),
            readiness_probe=k8s.core.v1.ProbeArgs(exec_=ready, period_seconds=10, timeout_seconds=10, failure_threshold=3),
            liveness_probe=k8s.core.v1.ProbeArgs(
                tcp_socket=k8s.core.v1.TCPSocketActionArgs(port="transaction"),
                period_seconds=20,
                timeout_seconds=5,
                failure_threshold=3,
            ),
        )
        volumes = [
            k8s.core.v1.VolumeArgs(
                name="storage",
                persistent_volume_claim=k8s.core.v1.PersistentVolumeClaimVolumeSourceArgs(claim_name=CLAIM_NAME),
            ),
            empty_dir("conf"),
            empty_dir("log"),
            empty_dir("tmp"),
        ]
        return workload.stateful_set(
            f"{name}-statefulset", NAME, args.namespace, COMPONENT, args.replicas,
            # The Service the clients use. GridDB needs no per-pod DNS name (clients follow the
            # pod IP the node advertises), so no headless Service just for the StatefulSet.
            service_name=NAME,
            # No init step: the server makes data/ and txnlog/ itself on a volume it may write
            # (fsGroup, local-path's 0777 directory, or a host directory prepared for it: README
            # "Prepare k3s"), so nothing in the pod runs as root (Pod Security "restricted").
            pod=workload.pod_spec([server], volumes,
                                  termination_grace_period_seconds=TERMINATION_GRACE_SECONDS,
                                  image_pull_secret=args.image_pull_secret),
            # A replacement (an immutable field changed) must also stop the old pod before the
            # new one starts: delete first, never two StatefulSets on one claim.
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
                delete_before_replace=True,
                # Its pod waits for the claim: both waits end together, not the StatefulSet's 10 minutes later.
                custom_timeouts=pulumi.CustomTimeouts(create=f"{args.wait_seconds}s", update=f"{args.wait_seconds}s"),
            )),
        )


def _after(value: pulumi.Input[str]) -> pulumi.Output:
    """For depends_on: an Output that carries the resources `value` comes from (the image's
    build and push), so a resource listing it is created after them."""
    return pulumi.Output.from_input(value).apply(lambda _: None)


# What pulumi-kubernetes waits for on the claim. 4.25.0's own PVC await is no use here: on a
# WaitForFirstConsumer class it is satisfied by a Pending claim on create, so a claim that can
# never bind passes, and on update it waits for Pending on a Bound claim until it times out
# (fixed in 4.27). Waiting for Bound explicitly (for args.wait_seconds) fails `up` when the
# claim stays Pending, while the claim's warning events (e.g. ProvisioningFailed: storageclass
# "x" not found) are shown.
def _claim_await(args: GridDbNodeArgs, pre_bound: bool) -> dict[str, str]:
    if args.replicas == 0 and not pre_bound:
        # Parked on a dynamic class: no pod consumes the claim, so on a WaitForFirstConsumer
        # class it rightly stays Pending; there is nothing to wait for.
        return {"pulumi.com/skipAwait": "true"}
    return {
        "pulumi.com/waitFor": "jsonpath={.status.phase}=Bound",
        "pulumi.com/timeoutSeconds": str(args.wait_seconds),
    }

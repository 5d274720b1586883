"""AuthService: the token issuer, its signing key and its accounts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Mapping, Optional

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
import pulumi_tls as tls

from components import workload

NAME = "auth"
COMPONENT = "auth-server"
PORT = 2828
SIGNING_DIR = "/etc/griddb-todo/auth/signing"
ACCOUNTS_DIR = "/etc/griddb-todo/auth/accounts"


@dataclass(frozen=True)
class AuthServiceArgs:
    namespace: pulumi.Input[str]
    image: pulumi.Input[str]
    accounts: tuple[str, ...]  # a password is generated for each (plain: one resource each)
    password_hashes: Optional[pulumi.Input[Mapping[str, str]]]  # given by the user (secret)
    issuer: pulumi.Input[str]
    audience: pulumi.Input[str]
    token_ttl_seconds: pulumi.Input[int]
    clients: tuple[str, ...]  # names of the workloads allowed to reach auth
    replicas: int = 1  # plain: a PodDisruptionBudget exists only with more than one
    signing_key_generation: int = 1  # which generated key signs (raise by 1 to rotate)
    image_pull_secret: Optional[pulumi.Input[str]] = None  # the registry's, when it wants credentials
    # The namespace whose pods may scrape the metrics port (Prometheus'); None: nobody's.
    metrics_scrape_namespace: Optional[str] = None


class AuthService(pulumi.ComponentResource):
    url: str
    port: int
    # {account: password} for the generated accounts; a secret output.
    passwords: pulumi.Output[dict[str, str]]

    def __init__(self, name: str, args: AuthServiceArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("griddb-todo:index:AuthService", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # Generated and kept, encrypted, in the state. ES256: web verifies with the public
        # halves published as JWKS, so web never holds a signing secret.
        keys = signing_keys(name, args.signing_key_generation, child)
        passwords = {
            account: random.RandomPassword(f"{name}-password-{account}", length=20, special=False, opts=child)
            for account in args.accounts
        }
        # Only hashes reach the cluster; the clear passwords stay in the state as secrets.
        generated_hashes = pulumi.Output.all(**{a: p.bcrypt_hash for a, p in passwords.items()})

        labels = workload.labels(NAME, COMPONENT)
        # Immutable and auto-named: a new key or account list makes a new Secret and rolls auth.
        signing_secret = k8s.core.v1.Secret(
            f"{name}-signing-key",
            metadata=k8s.meta.v1.ObjectMetaArgs(namespace=args.namespace, labels=labels),
            string_data=signing_files(keys),
            immutable=True,
            opts=child,
        )
        accounts_secret = k8s.core.v1.Secret(
            f"{name}-accounts",
            metadata=k8s.meta.v1.ObjectMetaArgs(namespace=args.namespace, labels=labels),
            string_data={"accounts.json": accounts_file(generated_hashes, args.password_hashes)},
            immutable=True,
            opts=child,
        )

        tmp, tmp_mount = workload.tmp_volume()
        container = k8s.core.v1.ContainerArgs(
            name=NAME,
            image=args.image,
            ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=PORT),
                   workload.metrics_container_port()],
            env=[
                k8s.core.v1.EnvVarArgs(name="AUTH_PORT", value=str(PORT)),
                k8s.core.v1.EnvVarArgs(name="AUTH_METRICS_PORT", value=str(workload.METRICS_PORT)),
                k8s.core.v1.EnvVarArgs(name="AUTH_SIGNING_KEY_FILE", value=f"{SIGNING_DIR}/private.pem"),
                k8s.core.v1.EnvVarArgs(
                    name="AUTH_PUBLISHED_KEY_FILES",
                    value=",".join(f"{SIGNING_DIR}/{role}.pub.pem" for role in keys if role == "next"),
                ),
                *previous_key_env(keys, signing_secret, args.token_ttl_seconds),
                k8s.core.v1.EnvVarArgs(name="AUTH_ACCOUNTS_FILE", value=f"{ACCOUNTS_DIR}/accounts.json"),
                k8s.core.v1.EnvVarArgs(name="AUTH_TOKEN_TTL_SECONDS", value=workload.as_text(args.token_ttl_seconds)),
                k8s.core.v1.EnvVarArgs(name="TOKEN_ISSUER", value=args.issuer),
                k8s.core.v1.EnvVarArgs(name="TOKEN_AUDIENCE", value=args.audience),
                # only web reaches auth (NetworkPolicy), so the client address web forwards is trusted
                k8s.core.v1.EnvVarArgs(name="AUTH_TRUSTED_CLIENT_HEADER", value="X-Todo-Client-Address"),
                workload.shutdown_env(),
            ],
            volume_mounts=[
                k8s.core.v1.VolumeMountArgs(name="signing-key", mount_path=SIGNING_DIR, read_only=True),
                k8s.core.v1.VolumeMountArgs(name="accounts", mount_path=ACCOUNTS_DIR, read_only=True),
                tmp_mount,
            ],
            security_context=workload.container_security_context(),
            resources=workload.resources("50m", "96Mi", "500m", "256Mi"),
            readiness_probe=workload.http_probe("/readyz", "http", period=5),
            liveness_probe=workload.http_probe("/healthz", "http", period=15),
            startup_probe=workload.startup_probe("/healthz", "http", budget_seconds=30),
            lifecycle=workload.endpoint_removal_pause(),
        )
        volumes = [
            # 0440 + fsGroup: readable by the service's group, nobody else.
            k8s.core.v1.VolumeArgs(
                name="signing-key",
                secret=k8s.core.v1.SecretVolumeSourceArgs(secret_name=signing_secret.metadata.name, default_mode=0o440),
            ),
            k8s.core.v1.VolumeArgs(
                name="accounts",
                secret=k8s.core.v1.SecretVolumeSourceArgs(secret_name=accounts_secret.metadata.name, default_mode=0o440),
            ),
            tmp,
        ]
        workload.deployment(
            f"{name}-deployment", NAME, args.namespace, COMPONENT,
            # Each pod counts failed logins on its own (README "Throttling"): with N pods a
            # guesser spread over them gets up to N times the per-pod allowance.
            replicas=args.replicas,
            strategy=workload.one_at_a_time(),
            pod=workload.pod_spec(
                [container], volumes, image_pull_secret=args.image_pull_secret,
                termination_grace_period_seconds=workload.SHUTDOWN_GRACE_SECONDS,
                topology_spread_constraints=workload.spread_across_nodes(NAME),
            ),
            pod_annotations=workload.scrape_annotations(args.metrics_scrape_namespace),
            opts=child,
        )
        workload.disruption_budget(f"{name}-disruption-budget", NAME, args.namespace, COMPONENT, args.replicas, child)
        # Created beside the Deployment, not after it. `up` returns only once login can reach
        # auth: Pulumi waits for the Deployment's rollout (auth's pods ready, so in the Service's
        # endpoints); the Service itself only for its address (workload.service says why).
        workload.service(
            f"{name}-service", NAME, args.namespace, COMPONENT,
            k8s.core.v1.ServicePortArgs(name="http", port=PORT, target_port="http"),
            opts=child,
        )
        workload.ingress_policy(f"{name}-ingress", args.namespace, NAME, PORT, list(args.clients), child)
        workload.metrics_ingress_policy(f"{name}-metrics-ingress", args.namespace, NAME,
                                        args.metrics_scrape_namespace, child)

        self.port = PORT
        # A plain string: the Service's name is fixed (NAME), so a client's Deployment built from
        # this URL need not wait until auth's Service, and through it auth's pods, are ready.
        self.url = f"http://{NAME}:{PORT}"
        self.passwords = pulumi.Output.secret(pulumi.Output.all(**{a: p.result for a, p in passwords.items()}))
        self.register_outputs({"url": self.url, "passwords": self.passwords})


def signing_key_generations(generation: int) -> dict[str, int]:
    """The generations of the keys auth holds: it signs with the current one and publishes all.

    The next key is published before anything signs with it, so during a rotation's rollout a
    token from a new pod verifies against a key set fetched from an old pod too; the previous key
    stays published until the tokens signed before the rotation have expired (previous_key_env)."""
    roles = {"previous": generation - 1, "current": generation, "next": generation + 1}
    return {role: g for role, g in roles.items() if g >= 1}


def signing_keys(name: str, generation: int, opts: pulumi.ResourceOptions) -> dict[str, tls.PrivateKey]:
    """One pulumi_tls key per generation. Generation 1 keeps the name stacks made before
    rotation existed gave their only key, so upgrading replaces no key and logs no one out."""
    def key(g: int) -> tls.PrivateKey:
        resource_name = f"{name}-signing-key" if g == 1 else f"{name}-signing-key-{g}"
        return tls.PrivateKey(resource_name, algorithm="ECDSA", ecdsa_curve="P256", opts=opts)

    return {role: key(g) for role, g in signing_key_generations(generation).items()}


# How long old auth pods may still sign with the previous key after the rotation's Secret exists:
# the rollout's bound (pulumi-kubernetes waits at most 10 minutes for a Deployment; past that
# `up` fails and says so).
ROLLOUT_ALLOWANCE_SECONDS = 600


def previous_key_env(keys: Mapping[str, tls.PrivateKey], signing_secret: k8s.core.v1.Secret,
                     token_ttl_seconds: pulumi.Input[int]) -> list[k8s.core.v1.EnvVarArgs]:
    """The previous key and the moment it leaves the JWKS: the rotation's Secret was created at
    creationTimestamp, old pods sign with the previous key until the rollout ends, and the last
    token they signed expires token_ttl_seconds later. Replacing the Secret for another reason
    only keeps the previous key longer, never shorter."""
    if "previous" not in keys:
        return []
    until = pulumi.Output.all(signing_secret.metadata.creation_timestamp, token_ttl_seconds).apply(
        lambda parts: retirement_time(parts[0], int(parts[1]))
    )
    return [
        k8s.core.v1.EnvVarArgs(name="AUTH_PREVIOUS_KEY_FILE", value=f"{SIGNING_DIR}/previous.pub.pem"),
        k8s.core.v1.EnvVarArgs(name="AUTH_PREVIOUS_KEY_UNTIL", value=until),
    ]


def retirement_time(created: str, token_ttl_seconds: int) -> str:
    """RFC 3339 UTC: `created` (the API server's creationTimestamp) plus the rollout allowance and
    the token lifetime."""
    start = datetime.fromisoformat(created.replace("Z", "+00:00"))
    end = start + timedelta(seconds=ROLLOUT_ALLOWANCE_SECONDS + token_ttl_seconds)
    return end.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def signing_files(keys: Mapping[str, tls.PrivateKey]) -> dict[str, pulumi.Output[str]]:
    """The signing Secret's files: the current private key, and the other keys' public halves
    only (auth publishes them but never signs with them)."""
    files = {"private.pem": keys["current"].private_key_pem}
    files.update({f"{role}.pub.pem": k.public_key_pem for role, k in keys.items() if role != "current"})
    return files


def accounts_file(generated: pulumi.Input[Mapping[str, str]],
                  given: Optional[pulumi.Input[Mapping[str, str]]]) -> pulumi.Output[str]:
    """auth's accounts file, {"name": "<hash>"}: always a secret, whatever marks its inputs carry
    (hashes can be cracked offline, so they never sit in the state or a preview in plain text)."""
    merged = pulumi.Output.all(generated, given or {}).apply(
        lambda parts: json.dumps({**parts[1], **parts[0]}, sort_keys=True)
    )
    return pulumi.Output.secret(merged)

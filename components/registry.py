"""RegistryPullSecret: lets the stack's pods pull from a registry that wants credentials.

The credentials that push the images (components/image.py) are the ones the kubelet pulls
with: without them, a private registry answers every pod with ImagePullBackOff.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components import workload


@dataclass(frozen=True)
class RegistryPullSecretArgs:
    namespace: pulumi.Input[str]
    server: pulumi.Input[str]  # as docker logs in to it: host[:port]
    username: pulumi.Input[str]
    password: pulumi.Input[str]  # a secret


def docker_config_json(server: str, username: str, password: str) -> str:
    """The `.dockerconfigjson` document the kubelet reads (the same shape `docker login` writes)."""
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    return json.dumps({"auths": {server: {"username": username, "password": password, "auth": auth}}}, sort_keys=True)


class RegistryPullSecret(pulumi.ComponentResource):
    name: pulumi.Output[str]  # what pods list in imagePullSecrets

    def __init__(self, name: str, args: RegistryPullSecretArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("griddb-todo:index:RegistryPullSecret", name, None, opts)
        document = pulumi.Output.all(args.server, args.username, args.password).apply(
            lambda login: docker_config_json(*login)
        )
        secret = k8s.core.v1.Secret(
            f"{name}-pull-secret",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                namespace=args.namespace, labels={"app.kubernetes.io/part-of": workload.PART_OF}
            ),
            type="kubernetes.io/dockerconfigjson",
            string_data={".dockerconfigjson": pulumi.Output.secret(document)},
            # Immutable and auto-named like the other secrets: a new token makes a new Secret and
            # the pods that pull with it roll.
            immutable=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.name = secret.metadata.name
        self.register_outputs({"name": self.name})

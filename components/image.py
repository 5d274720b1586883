"""AppImage: build one service's image, push it, expose the digest-pinned reference."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional

import pulumi
import pulumi_docker as docker


@dataclass(frozen=True)
class AppImageArgs:
    context: str  # the service's build context, e.g. "services/web" (plain: read at build time)
    repository: pulumi.Input[str]  # where to push, e.g. "127.0.0.1:5000/web"
    tag: pulumi.Input[str]  # a human-readable tag; Deployments use the digest, never this tag
    build_args: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    registry_server: Optional[pulumi.Input[str]] = None
    registry_username: Optional[pulumi.Input[str]] = None  # None: an unauthenticated registry
    registry_password: Optional[pulumi.Input[str]] = None


# GridDB's server image is amd64 only; build every image for the same platform so a
# laptop on another architecture still produces images the cluster can run.
PLATFORM = "linux/amd64"


class AppImage(pulumi.ComponentResource):
    """Builds `context` with BuildKit and pushes it to `repository`.

    `ref` is `repository@sha256:...`: a rebuilt image changes it, so the Deployment that uses
    it rolls out. Always pushed: k3s runs containerd, which cannot see Docker's local images.
    """

    ref: pulumi.Output[str]

    def __init__(self, name: str, args: AppImageArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("griddb-todo:index:AppImage", name, None, opts)
        self.ref = self._build(name, args, pulumi.ResourceOptions(parent=self))
        self.register_outputs({"ref": self.ref})

    def _build(self, name: str, args: AppImageArgs, child: pulumi.ResourceOptions) -> pulumi.Output[str]:
        """Build and push; return the pushed `repository@sha256:...`."""
        registry = None
        # An unauthenticated registry (the local one on 127.0.0.1:5000) needs no registry block.
        if args.registry_username is not None:
            registry = docker.RegistryArgs(
                server=args.registry_server,
                username=args.registry_username,
                password=args.registry_password,
            )
        image = docker.Image(
            f"{name}-image",
            image_name=pulumi.Output.concat(args.repository, ":", args.tag),
            build=docker.DockerBuildArgs(
                context=args.context,
                dockerfile=f"{args.context}/Dockerfile",
                args=args.build_args,
                platform=PLATFORM,
            ),
            registry=registry,
            skip_push=False,
            opts=child,
        )
        return image.repo_digest

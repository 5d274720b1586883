"""AppImage: build one service's image, push it, expose the digest-pinned reference."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import pulumi
import pulumi_docker as docker

from components import standins


@dataclass(frozen=True)
class AppImageArgs:
    context: str  # the service's build context, e.g. "services/web"
    repository: str  # where to push, e.g. "127.0.0.1:5000/web"
    tag: str  # a human-readable tag; Deployments use the digest, never this tag
    build_args: dict[str, str] = field(default_factory=dict)
    registry_server: Optional[str] = None
    registry_username: Optional[str] = None
    registry_password: Optional[pulumi.Input[str]] = None
    # CI only: build with components/standins.py instead of pulumi-docker (see there why).
    stand_in: bool = False


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
        child = pulumi.ResourceOptions(parent=self)
        if args.stand_in:
            login = None
            if args.registry_username:
                login = {"server": args.registry_server, "username": args.registry_username,
                         "password": args.registry_password}
            self.ref = standins.StandInImage(
                f"{name}-image", f"{args.repository}:{args.tag}", args.context, args.build_args, PLATFORM, child,
                registry=login,
            ).repo_digest
            self.register_outputs({"ref": self.ref})
            return
        registry = None
        # An unauthenticated registry (the local one on 127.0.0.1:5000) needs no registry block.
        if args.registry_username:
            registry = docker.RegistryArgs(
                server=args.registry_server,
                username=args.registry_username,
                password=args.registry_password,
            )
        image = docker.Image(
            f"{name}-image",
            image_name=f"{args.repository}:{args.tag}",
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
        self.ref = image.repo_digest
        self.register_outputs({"ref": self.ref})

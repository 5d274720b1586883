"""STAND-IN for pulumi-docker's Image, for this repository's CI only.

pulumi-docker's plugin is a Go program that cannot be built on the offline CI machine (the Go
module proxy there does not serve it; see tools/e2e/README.md), while the real Pulumi engine,
the Python language host and the kubernetes, random and tls plugins can. So that `pulumi up`
still runs for real end to end, a stack may replace it with StandInImage, a Python dynamic
provider that produces the output AppImage consumes: `docker build` + `docker push` through
the Docker CLI, and the pushed repo digest.

Users never need it: the shipped stacks use pulumi-docker, and the program tests check both
paths. Selected by the `providerStandIns` config key (Pulumi.e2e.yaml sets it): __main__.py then
builds StandInAppImage instead of AppImage; the component, its name and its output stay the same.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Optional

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

from components.image import PLATFORM, AppImage, AppImageArgs

# Never part of an image's build context (same spirit as the services' .dockerignore files).
_IGNORED_PARTS = {"__pycache__", ".pytest_cache", ".mypy_cache"}


def context_digest(context: str) -> str:
    """sha256 over every file path and content under `context`: a changed file rebuilds."""
    root = Path(context)
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root)
        if _IGNORED_PARTS & set(relative.parts) or path.suffix == ".pyc":
            continue
        digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


class _DockerCliImageProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        repo_digest = _build_and_push(props)
        return CreateResult(id_=repo_digest, outs={**_without_password(props), "repo_digest": repo_digest})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        watched = ("image_name", "context", "context_digest", "build_args", "platform")
        changed = [k for k in watched if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=[])

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs={**_without_password(news), "repo_digest": _build_and_push(news)})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        # Like pulumi-docker's Image: pushed tags are left in the registry.
        return None


def _without_password(props: dict[str, Any]) -> dict[str, Any]:
    """The outputs: never the registry password (the inputs keep it, as a secret)."""
    registry = props.get("registry")
    if not registry:
        return props
    return {**props, "registry": {k: v for k, v in registry.items() if k != "password"}}


def _build_and_push(props: dict[str, Any]) -> str:
    image, context = props["image_name"], props["context"]
    command = ["docker", "build", "--platform", props["platform"], "--tag", image, "--file", f"{context}/Dockerfile"]
    for key, value in sorted(props["build_args"].items()):
        command += ["--build-arg", f"{key}={value}"]
    _run(command + [context])
    _push(image, props.get("registry"))
    repository = image.rsplit(":", 1)[0]
    digests = _run(["docker", "image", "inspect", "--format", "{{range .RepoDigests}}{{println .}}{{end}}", image]).split()
    pushed = [d for d in digests if d.startswith(repository + "@sha256:")]
    if not pushed:
        raise RuntimeError(f"docker push of {image} reported no digest for {repository}: {digests}")
    return pushed[0]


def _push(image: str, registry: Optional[dict[str, str]]) -> None:
    """`docker push`, logged in first when the registry wants credentials (as pulumi-docker's
    `registry` block does). The login lives in a throw-away Docker config, so the password never
    stays in the user's ~/.docker/config.json."""
    if not registry:
        _run(["docker", "push", image])
        return
    with tempfile.TemporaryDirectory(prefix="griddb-todo-docker-") as config:
        login = ["docker", "--config", config, "login", registry["server"], "--username", registry["username"],
                 "--password-stdin"]
        _run(login, stdin=registry["password"])
        _run(["docker", "--config", config, "push", image])


def _run(command: list[str], stdin: Optional[str] = None) -> str:
    result = subprocess.run(command, capture_output=True, text=True, input=stdin)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:3])} failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return result.stdout


class StandInImage(Resource):
    """Stand-in for pulumi_docker.Image (see the module docstring)."""

    repo_digest: pulumi.Output[str]

    def __init__(self, name: str, image_name: pulumi.Input[str], context: str,
                 build_args: pulumi.Input[dict[str, str]], platform: str,
                 opts: Optional[pulumi.ResourceOptions] = None,
                 registry: Optional[dict[str, pulumi.Input[str]]] = None):
        """`registry`: {"server", "username", "password"} when pushing wants a login; the
        password is kept in the state as a secret."""
        absolute = str(Path(context).resolve())
        super().__init__(
            _DockerCliImageProvider(),
            name,
            {
                "image_name": image_name,
                "context": absolute,
                "context_digest": context_digest(absolute),
                "build_args": build_args,
                "platform": platform,
                "registry": (
                    {**registry, "password": pulumi.Output.secret(registry["password"])} if registry else None
                ),
                "repo_digest": None,
            },
            opts,
        )


class StandInAppImage(AppImage):
    """AppImage built by StandInImage instead of pulumi-docker (CI only, see the module docstring)."""

    def _build(self, name: str, args: AppImageArgs, child: pulumi.ResourceOptions) -> pulumi.Output[str]:
        image_name = pulumi.Output.concat(args.repository, ":", args.tag)
        # Logged in exactly when AppImage gives pulumi-docker a registry block.
        login = None
        if args.registry_username is not None:
            login = {"server": args.registry_server, "username": args.registry_username,
                     "password": args.registry_password}
        return StandInImage(f"{name}-image", image_name, args.context, dict(args.build_args), PLATFORM, child,
                            registry=login).repo_digest

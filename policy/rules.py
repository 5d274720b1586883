"""The rules of griddb-todo's policy pack, as plain functions of a resource's type and inputs.

Each returns the violations it finds as messages (empty: the resource keeps the rule). No Pulumi
import: __main__.py wires them into pulumi-policy, and tests call them directly. A value the engine
does not know yet during a preview (an image digest before the push) arrives as UNKNOWN and is not
judged: the cluster's admission policy (components/admission.py) checks it when it is applied.

The same rules as the admission policy, and the program-level ones only Pulumi can see:
  images           from the stack's registry, pinned by digest (a parked workload's template excepted)
  limits           cpu and memory limits on every container and init container
  probes           readiness and liveness probes on every container
  public-services  LoadBalancer or NodePort Services only for the public ones (web)
  plain-secrets    no secret in plain text where it would be stored or shown as such
  protected-data   claims, volumes and their namespace protected on stacks that keep data
"""

from __future__ import annotations

import re
from typing import Any, Iterator, Optional

UNKNOWN = type("Unknown", (), {"__repr__": lambda self: "<unknown during preview>"})()

DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
# Kinds that carry a pod spec: where it is, and whether a replica count can park them.
_POD_SPEC_PATHS = {
    "kubernetes:core/v1:Pod": (("spec",), False),
    "kubernetes:apps/v1:Deployment": (("spec", "template", "spec"), True),
    "kubernetes:apps/v1:StatefulSet": (("spec", "template", "spec"), True),
    "kubernetes:apps/v1:ReplicaSet": (("spec", "template", "spec"), True),
    "kubernetes:core/v1:ReplicationController": (("spec", "template", "spec"), True),
    "kubernetes:apps/v1:DaemonSet": (("spec", "template", "spec"), False),
    "kubernetes:batch/v1:Job": (("spec", "template", "spec"), False),
    "kubernetes:batch/v1:CronJob": (("spec", "jobTemplate", "spec", "template", "spec"), False),
}
# What holds the data: deleting any of them deletes it (a namespace takes its claims along).
STATEFUL_TYPES = (
    "kubernetes:core/v1:PersistentVolumeClaim",
    "kubernetes:core/v1:PersistentVolume",
    "kubernetes:core/v1:Namespace",
)
# A name that says "this is a secret": PASSWORD, DB_PASSWORD, api-key, signing.token ... but not
# TOKEN_ISSUER or TOKEN_TTL_SECONDS (settings about tokens, not tokens).
_SECRET_NAME = re.compile(r"(^|[-_.])(password|passwd|secret|token|api[-_.]?key|private[-_.]?key|credentials?)$",
                          re.IGNORECASE)
_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
# Kubernetes Secrets' data: pulumi-kubernetes always stores it as a Pulumi secret, and it is where
# a secret belongs in the cluster.
_SECRET_KIND = "kubernetes:core/v1:Secret"


def _get(value: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def pod_spec(resource_type: str, props: dict) -> tuple[Optional[dict], bool]:
    """The pod spec a resource carries (None if it carries none) and whether it is parked
    (replicas 0: it runs no pod)."""
    if resource_type not in _POD_SPEC_PATHS:
        return None, False
    path, scalable = _POD_SPEC_PATHS[resource_type]
    spec = _get(props, *path)
    parked = scalable and _get(props, "spec", "replicas") == 0
    return (spec if isinstance(spec, dict) else None), parked


def _containers(spec: dict, init: bool = True) -> Iterator[tuple[str, dict]]:
    """(kind, container) of every container, then every init container."""
    for kind, key in (("container", "containers"), ("init container", "initContainers")):
        if key == "initContainers" and not init:
            continue
        for container in spec.get(key) or []:
            if isinstance(container, dict):
                yield kind, container


def image_violations(resource_type: str, props: dict, registry: str) -> list[str]:
    spec, parked = pod_spec(resource_type, props)
    if spec is None or parked:
        return []
    found = []
    for kind, c in _containers(spec):
        image = c.get("image")
        if image is UNKNOWN:
            continue  # built and pushed during the update; the admission policy checks it then
        if not (isinstance(image, str) and image.startswith(registry + "/") and DIGEST.search(image)):
            found.append(f"{kind} {c.get('name')}: image {image!r} is not from the stack registry {registry}, "
                         f"pinned by digest ({registry}/<name>@sha256:<digest>)")
    return found


def limit_violations(resource_type: str, props: dict) -> list[str]:
    spec, _ = pod_spec(resource_type, props)
    if spec is None:
        return []
    found = []
    for kind, c in _containers(spec):
        limits = _get(c, "resources", "limits")
        if limits is UNKNOWN:
            continue
        missing = [r for r in ("cpu", "memory") if not isinstance(limits, dict) or r not in limits]
        if missing:
            found.append(f"{kind} {c.get('name')}: no {' and no '.join(missing)} limit")
    return found


def probe_violations(resource_type: str, props: dict) -> list[str]:
    spec, _ = pod_spec(resource_type, props)
    if spec is None:
        return []
    # Init containers run to completion: a probe means nothing for them.
    return [f"container {c.get('name')}: no {' and no '.join(missing)}"
            for _, c in _containers(spec, init=False)
            if (missing := [p for p in ("readinessProbe", "livenessProbe") if p not in c])]


def public_service_violations(resource_type: str, props: dict, public_services: tuple[str, ...]) -> list[str]:
    if resource_type != "kubernetes:core/v1:Service":
        return []
    service_type = _get(props, "spec", "type")
    name = _get(props, "metadata", "name")
    if service_type in ("LoadBalancer", "NodePort") and name not in public_services:
        return [f"Service {name!r} is of type {service_type}: only {', '.join(public_services) or 'none'} "
                "may be LoadBalancer or NodePort"]
    return []


def _strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield from _strings(inner, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _strings(inner, f"{path}[{index}]")


def plain_secret_violations(resource_type: str, props: dict) -> list[str]:
    """Secrets where Kubernetes stores or shows them in plain text: an environment variable or a
    ConfigMap entry or annotation whose name says it is a secret and which holds a value, and a
    private key anywhere but in a Kubernetes Secret.

    pulumi-policy's Python SDK hands a policy the inputs with Pulumi secrets already unwrapped
    (pulumi_policy.deserialize), so whether a value is a Pulumi secret cannot be seen here;
    components/settings.py refuses secret settings given in plain text."""
    found = []
    spec, _ = pod_spec(resource_type, props)
    for _, c in _containers(spec) if spec else ():
        for env in c.get("env") or []:
            if isinstance(env, dict) and _SECRET_NAME.search(str(env.get("name"))) and "value" in env:
                found.append(f"container {c.get('name')}: env {env.get('name')} holds its value in plain text "
                             "(use valueFrom.secretKeyRef)")
    if resource_type == "kubernetes:core/v1:ConfigMap":
        for key in list(props.get("data") or {}) + list(props.get("binaryData") or {}):
            if _SECRET_NAME.search(key):
                found.append(f"ConfigMap key {key!r} looks like a secret: keep it in a Secret")
    for key in _get(props, "metadata", "annotations") or {}:
        if _SECRET_NAME.search(key.rsplit("/", 1)[-1]):
            found.append(f"annotation {key!r} looks like a secret: annotations are shown to anyone who may read the object")
    for path, text in _strings(props):
        in_secret_data = resource_type == _SECRET_KIND and path.split(".", 1)[0] in ("data", "stringData")
        if _PRIVATE_KEY.search(text) and not in_secret_data:
            found.append(f"{path} holds a private key in plain text")
    return found


def protection_violations(resource_type: str, protect: bool, stack: str, dev_stacks: tuple[str, ...]) -> list[str]:
    if resource_type in STATEFUL_TYPES and stack not in dev_stacks and not protect:
        kind = resource_type.rsplit(":", 1)[-1]
        return [f"{kind} holds data on stack {stack!r} and is not protected (set protectData: true): "
                "`pulumi destroy` would delete it"]
    return []


def stack_of(urn: str) -> str:
    """urn:pulumi:<stack>::<project>::<type>::<name>"""
    return urn.split("::", 1)[0].split(":", 2)[2]

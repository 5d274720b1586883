"""griddb-todo's CrossGuard policy pack: `pulumi preview --policy-pack policy` refuses, before
anything reaches the cluster, what breaks the project's conventions. Every policy is mandatory.

The rules are in rules.py; this file hands each resource's inputs to them. The stack's registry
comes from the stack's own config (the engine passes it to the pack), else Pulumi.yaml's default.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Callable

import pulumi
import yaml
from pulumi_policy import (EnforcementLevel, PolicyConfigSchema, PolicyPack, ReportViolation,
                           ResourceValidationArgs, ResourceValidationPolicy)
from pulumi_policy.proxy import UnknownValueError

sys.path.insert(0, str(Path(__file__).resolve().parent))
import rules  # noqa: E402

PROJECT = "griddb-todo"
PROJECT_FILE = Path(__file__).resolve().parents[1] / "Pulumi.yaml"


def plain(value: Any) -> Any:
    """The SDK's inputs as plain dicts and lists, a value unknown during preview as rules.UNKNOWN
    (the SDK raises when one is read)."""
    def read(container, key):
        try:
            return plain(container[key])
        except UnknownValueError:
            return rules.UNKNOWN

    if isinstance(value, Mapping):
        return {key: read(value, key) for key in value}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [read(value, index) for index in range(len(value))]
    return value


def stack_registry() -> str:
    """The stack's `registry` setting; Pulumi.yaml's default when the stack does not set it."""
    value = pulumi.Config(PROJECT).get("registry")
    if value:
        return value.strip()
    return yaml.safe_load(PROJECT_FILE.read_text())["config"]["registry"]["default"]


def policy(name: str, description: str, check: Callable[[ResourceValidationArgs, dict], list[str]],
           config_schema: PolicyConfigSchema | None = None) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in check(args, plain(args.props)):
            report_violation(message)

    return ResourceValidationPolicy(name=name, description=description, validate=validate,
                                    enforcement_level=EnforcementLevel.MANDATORY, config_schema=config_schema)


def public_services(args: ResourceValidationArgs) -> tuple[str, ...]:
    return tuple(args.get_config().get("names", ["web"]))


def dev_stacks(args: ResourceValidationArgs) -> tuple[str, ...]:
    return tuple(args.get_config().get("stacks", ["dev"]))


POLICIES = [
    policy("images", "Images come from the stack's registry, pinned by digest.",
           lambda args, props: rules.image_violations(args.resource_type, props, stack_registry())),
    policy("limits", "Every container and init container has cpu and memory limits.",
           lambda args, props: rules.limit_violations(args.resource_type, props)),
    policy("probes", "Every container has a readiness and a liveness probe.",
           lambda args, props: rules.probe_violations(args.resource_type, props)),
    policy("public-services", "Only the public Services (web) are of type LoadBalancer or NodePort.",
           lambda args, props: rules.public_service_violations(args.resource_type, props, public_services(args)),
           PolicyConfigSchema(properties={"names": {"type": "array", "items": {"type": "string"}, "default": ["web"]}})),
    policy("plain-secrets", "No secret in plain text in a resource's inputs.",
           lambda args, props: rules.plain_secret_violations(args.resource_type, props)),
    policy("protected-data", "Claims, volumes and their namespace are protected on stacks that keep data.",
           lambda args, props: rules.protection_violations(args.resource_type, args.opts.protect,
                                                           rules.stack_of(args.urn), dev_stacks(args)),
           PolicyConfigSchema(properties={"stacks": {"type": "array", "items": {"type": "string"}, "default": ["dev"]}})),
]

if __name__ == "__main__":
    PolicyPack(name="griddb-todo", policies=POLICIES, enforcement_level=EnforcementLevel.MANDATORY)

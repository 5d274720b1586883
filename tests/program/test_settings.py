"""Bad stack config stops the program before any resource exists, with a message that names
the key, the bad value and what is allowed."""

import pytest
import yaml

from components import settings
from harness import CLOUD_FILLED_IN, CLOUD_SECRETS, ROOT, run_program


def failure(stack, overrides=None, secrets=None) -> str:
    with pytest.raises(settings.SettingsError) as raised:
        run_program(stack, overrides, secrets)
    assert raised.value.registered == [], "resources were registered before the config was rejected"
    return str(raised.value)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"platform": "aws"}, "griddb-todo:platform = 'aws': must be one of k3s, cloud"),
        ({"griddbStorageSize": "2Gb"}, "griddb-todo:griddbStorageSize = '2Gb': must be a Kubernetes quantity"),
        ({"griddbStorageSize": "2 GiB"}, "griddb-todo:griddbStorageSize = '2 GiB'"),
        ({"webPort": 70000}, "griddb-todo:webPort = 70000: must be from 1 to 65535"),
        ({"webPort": "eighty"}, "griddb-todo:webPort = 'eighty': must be a whole number from 1 to 65535"),
        ({"webNodePort": 8080}, "griddb-todo:webNodePort = 8080: must be in the default NodePort range"),
        ({"griddbReplicas": 3}, "griddb-todo:griddbReplicas = 3: must be from 0 to 1"),
        ({"registry": "acme"}, "griddb-todo:registry = 'acme': must name a registry server"),
        ({"registry": "https://ghcr.io/acme"}, "griddb-todo:registry = 'https://ghcr.io/acme': must name a registry server"),
        ({"registry": ""}, "griddb-todo:registry = '': must name a registry server"),
        ({"registryUsername": "robot"}, "griddb-todo:registryPassword is missing"),
        ({"griddbHostPath": "data/griddb"}, "griddb-todo:griddbHostPath = 'data/griddb': must be an absolute directory"),
        ({"griddbHostPath": ""}, "griddb-todo:griddbHostPath = '': k3s stacks keep GridDB's data in a hostPath"),
        ({"griddbStorageClass": ""}, "griddb-todo:griddbStorageClass = '': k3s stacks need an explicit class"),
        ({"namespace": "Todo_App"}, "griddb-todo:namespace = 'Todo_App': must be a DNS label"),
        ({"accounts": ["Bob!"]}, "griddb-todo:accounts = 'Bob!': each account name must start"),
        ({"accounts": ["ann", "ann"]}, "account names must be unique"),
        ({"protectData": "yes"}, "griddb-todo:protectData = 'yes': must be true or false"),
        ({"webServiceType": "Ingress"}, "griddb-todo:webServiceType = 'Ingress': must be one of LoadBalancer, NodePort, ClusterIP"),
        ({"griddbLogWriteMode": 2}, "griddb-todo:griddbLogWriteMode = 2: must be from 0 to 1"),
        ({"tokenTtlSeconds": 5}, "griddb-todo:tokenTtlSeconds = 5: must be from 60 to 86400"),
        ({"griddbClusterName": "my cluster"}, "griddb-todo:griddbClusterName = 'my cluster'"),
    ],
)
def test_bad_dev_config_is_rejected_with_a_clear_message(overrides, expected):
    assert expected in failure("dev", overrides)


def test_hostpath_on_the_cloud_stack_is_rejected():
    message = failure("cloud", {**CLOUD_FILLED_IN, "griddbHostPath": "/srv/griddb"}, CLOUD_SECRETS)
    assert "griddb-todo:griddbHostPath = '/srv/griddb': hostPath volumes are for k3s only" in message


def test_cloud_placeholders_must_be_replaced():
    message = failure("cloud", secrets=CLOUD_SECRETS)
    for key in ("kubeContext", "registry", "registryUsername", "griddbStorageClass"):
        assert f"griddb-todo:{key} = " in message and "replace the CHANGE-ME placeholder" in message


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("kubeContext", "griddb-todo:kubeContext = '': cloud stacks must name their cluster's kubeconfig context"),
        ("griddbStorageClass", "griddb-todo:griddbStorageClass = '': cloud stacks must name the storage class"),
    ],
)
def test_cloud_stack_never_falls_back_to_ambient_context_or_default_class(key, expected):
    assert expected in failure("cloud", {**CLOUD_FILLED_IN, key: ""}, CLOUD_SECRETS)


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        ({"service.beta.kubernetes.io/aws-load-balancer-ssl-ports": 443},
         "griddb-todo:webServiceAnnotations = {'service.beta.kubernetes.io/aws-load-balancer-ssl-ports': 443}: each value must be a string"),
        ({"bad key!": "x"}, "griddb-todo:webServiceAnnotations = 'bad key!': each name must be a Kubernetes annotation key"),
        (["not", "an", "object"], "griddb-todo:webServiceAnnotations = ['not', 'an', 'object']: must be an object"),
    ],
)
def test_bad_web_service_annotations_are_rejected(annotations, expected):
    assert expected in failure("dev", {"webServiceAnnotations": annotations})


def test_every_problem_is_reported_at_once():
    message = failure("dev", {"platform": "gcp", "webPort": 0, "griddbStorageSize": "lots"})
    assert "3 problem(s)" in message
    assert "platform" in message and "webPort" in message and "griddbStorageSize" in message


def test_passwords_in_plain_config_are_refused():
    # As if `pulumi config set registryPassword x` was run without --secret.
    message = failure("dev", {"registryUsername": "robot", "registryPassword": "hunter2-plain"})
    assert "griddb-todo:registryPassword is stored in plain text" in message
    assert "hunter2-plain" not in message


def test_given_password_hashes_are_validated_without_echoing_them():
    message = failure("dev", secrets={"accountPasswordHashes": '{"ann": "not-a-hash-sekrit"}'})
    assert "the entry for 'ann' is not a bcrypt" in message
    assert "not-a-hash-sekrit" not in message
    assert "is not JSON" in failure("dev", secrets={"accountPasswordHashes": "{ann: x"})


def test_short_griddb_password_is_refused_without_echoing_it():
    message = failure("dev", secrets={"griddbPassword": "short,pw"})
    assert "griddbPassword (secret, value not shown) must be at least 12 characters" in message
    assert "short,pw" not in message


def test_given_hashes_and_generated_accounts_are_merged():
    import json

    bcrypt_hash = "$2b$12$" + "a" * 53
    run = run_program("dev", secrets={"accountPasswordHashes": json.dumps({"ann": bcrypt_hash})})
    secret = next(r for r in run.k8s_objects() if r.kind == "Secret" and "accounts.json" in r.inputs.get("stringData", {}))
    accounts = json.loads(secret.inputs["stringData"]["accounts.json"])
    assert accounts["ann"] == bcrypt_hash and set(accounts) == {"ann", "demo"}
    # Only generated accounts have a password to hand back.
    assert set(run.outputs["accountPasswords"]) == {"demo"}


def test_pulumi_yaml_declares_exactly_the_keys_the_program_reads():
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    assert set(declared) == set(settings.KEYS)
    for key, spec in declared.items():
        assert {"type", "description", "default"} <= set(spec), key


def test_stack_files_only_set_declared_keys():
    declared = set(yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"])
    for stack_file in ROOT.glob("Pulumi.*.yaml"):
        keys = (yaml.safe_load(stack_file.read_text()) or {}).get("config") or {}
        for key in keys:
            project, name = key.split(":", 1)
            assert project == "griddb-todo" and name in declared, f"{stack_file.name}: {key}"


def test_parked_griddb_builds_no_image_and_runs_no_pod():
    run = run_program("dev", {"griddbReplicas": 0})
    assert sorted(r.name for r in run.of_type("docker:index/image:Image")) == ["auth-image", "web-image"]
    assert run.kube("StatefulSet", "griddb").inputs["spec"]["replicas"] == 0
    annotations = run.kube("Service", "griddb").inputs["metadata"]["annotations"]
    assert annotations == {"pulumi.com/skipAwait": "true"}
    # The claim and its data stay.
    assert run.kube("PersistentVolumeClaim", "griddb-data")

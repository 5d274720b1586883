"""Bad stack config stops the program before any resource exists. Run as the CLI runs it, the
user sees exactly this text (the CLI prefixes it with `error: `), no Python traceback: one line
per problem naming the key, the bad value and what is allowed."""

import json

import pytest
import yaml

from components import settings
from harness import CLOUD_FILLED_IN, CLOUD_SECRETS, ROOT, ProgramFailed, run, run_program

BCRYPT_HASH = "$2b$12$" + "a" * 53
REGISTRY_SERVER = ("must name a registry server, host[:port] with an optional /path and no scheme, "
                   "e.g. 127.0.0.1:5000 or ghcr.io/acme")
DNS_LABEL = "must be a DNS label: lower-case letters, digits and '-', at most 63 characters"
QUANTITY = "must be a Kubernetes quantity such as 1Gi, 500Mi or 10G (not 2Gb or 2 GiB)"


def failure(stack, overrides=None, secrets=None) -> str:
    """The one error the CLI would show."""
    with pytest.raises(ProgramFailed) as raised:
        run_program(stack, overrides, secrets)
    assert raised.value.registered == [], "resources were registered before the config was rejected"
    (message,) = raised.value.errors
    return message


def problems(*lines: str) -> str:
    listed = "\n".join(f"  - {line}" for line in lines)
    return f"invalid stack configuration ({len(lines)} problem(s)):\n{listed}"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"platform": "aws"}, "griddb-todo:platform = 'aws': must be one of k3s, cloud"),
        ({"griddbStorageSize": "2Gb"}, f"griddb-todo:griddbStorageSize = '2Gb': {QUANTITY}"),
        ({"griddbStorageSize": "2 GiB"}, f"griddb-todo:griddbStorageSize = '2 GiB': {QUANTITY}"),
        ({"griddbStorageSize": "0"},
         "griddb-todo:griddbStorageSize = '0': must be more than 0: GridDB's volume holds its data and logs"),
        ({"griddbStorageSize": "0.0Gi"},
         "griddb-todo:griddbStorageSize = '0.0Gi': must be more than 0: GridDB's volume holds its data and logs"),
        ({"webPort": 70000}, "griddb-todo:webPort = 70000: must be from 1 to 65535"),
        ({"webPort": "eighty"}, "griddb-todo:webPort = 'eighty': must be a whole number from 1 to 65535"),
        ({"webNodePort": 8080}, "griddb-todo:webNodePort = 8080: must be in the default NodePort range "
                                "30000-32767, or 0 to let Kubernetes pick"),
        ({"griddbReplicas": 3}, "griddb-todo:griddbReplicas = 3: must be from 0 to 1"),
        ({"griddbWaitSeconds": 0}, "griddb-todo:griddbWaitSeconds = 0: must be from 10 to 7200"),
        ({"griddbWaitSeconds": "10m"}, "griddb-todo:griddbWaitSeconds = '10m': must be a whole number from 10 to 7200"),
        ({"registry": "acme"}, f"griddb-todo:registry = 'acme': {REGISTRY_SERVER}"),
        ({"registry": "https://ghcr.io/acme"}, f"griddb-todo:registry = 'https://ghcr.io/acme': {REGISTRY_SERVER}"),
        ({"registry": ""}, f"griddb-todo:registry = '': {REGISTRY_SERVER}"),
        ({"registryUsername": "robot"}, "griddb-todo:registryPassword is missing: registryUsername is set, so "
                                        "give the password with `pulumi config set --secret registryPassword ...`"),
        ({"griddbHostPath": "data/griddb"}, "griddb-todo:griddbHostPath = 'data/griddb': must be an absolute directory, not /"),
        ({"griddbHostPath": ""}, "griddb-todo:griddbHostPath = '': k3s stacks keep GridDB's data in a hostPath "
                                 "volume: give an absolute directory such as /var/lib/griddb-todo/griddb"),
        ({"griddbStorageClass": ""}, "griddb-todo:griddbStorageClass = '': k3s stacks need an explicit class shared "
                                     "by the hostPath PersistentVolume and its claim (e.g. griddb-hostpath); an empty "
                                     "class would let k3s' local-path provisioner take the claim"),
        ({"namespace": "Todo_App"}, f"griddb-todo:namespace = 'Todo_App': {DNS_LABEL}"),
        ({"namespace": "a" * 64}, f"griddb-todo:namespace = '{'a' * 64}': {DNS_LABEL}"),
        *[({"namespace": ns}, f"griddb-todo:namespace = '{ns}': is a namespace of Kubernetes itself: give the "
                              "stack its own, e.g. griddb-todo")
          for ns in ("kube-system", "kube-public", "kube-node-lease", "default")],
        ({"accounts": ["Bob!"]}, "griddb-todo:accounts = 'Bob!': each account name must start with a lower-case "
                                 "letter and hold only a-z, 0-9, '.', '_' and '-' (at most 32)"),
        ({"accounts": ["ann", "ann"]}, "griddb-todo:accounts = ['ann', 'ann']: account names must be unique"),
        ({"protectData": "yes"}, "griddb-todo:protectData = 'yes': must be true or false"),
        ({"webServiceType": "Ingress"},
         "griddb-todo:webServiceType = 'Ingress': must be one of LoadBalancer, NodePort, ClusterIP"),
        ({"griddbLogWriteMode": 2}, "griddb-todo:griddbLogWriteMode = 2: must be from 0 to 1"),
        ({"tokenTtlSeconds": 5}, "griddb-todo:tokenTtlSeconds = 5: must be from 60 to 86400"),
        ({"griddbClusterName": "my cluster"}, "griddb-todo:griddbClusterName = 'my cluster': must start with a "
                                              "letter and hold only letters, digits and '_' (at most 64)"),
        # A misspelled key is not silently ignored (its default used instead).
        ({"griddbStorgeSize": "5Gi"},
         "griddb-todo:griddbStorgeSize is not a setting of this project: did you mean griddb-todo:griddbStorageSize?"),
        ({"webreplicas": 3}, "griddb-todo:webreplicas is not a setting of this project: did you mean griddb-todo:webReplicas?"),
        ({"colour": "blue"}, "griddb-todo:colour is not a setting of this project: Pulumi.yaml declares every setting"),
    ],
)
def test_bad_dev_config_is_rejected_with_a_clear_message(overrides, expected):
    assert failure("dev", overrides) == problems(expected)


@pytest.mark.parametrize("registry", ["127.0.0.1:5000", "127.1.2.3/team", "localhost:5000", "[::1]:5000"])
def test_a_loopback_registry_is_rejected_on_the_cloud_platform(registry):
    message = failure("cloud", {**CLOUD_FILLED_IN, "registry": registry}, CLOUD_SECRETS)
    assert message == problems(f"griddb-todo:registry = '{registry}': is a loopback address, which a cloud "
                               "cluster's nodes cannot pull from: use a registry they reach, e.g. ghcr.io/acme")


def test_an_account_both_generated_and_given_is_rejected():
    message = failure("dev", secrets={"accountPasswordHashes": json.dumps({"demo": BCRYPT_HASH})})
    assert message == problems("griddb-todo:accounts and accountPasswordHashes (secret, value not shown) both "
                               "name 'demo': give each account in one of them only")


def test_hostpath_on_the_cloud_stack_is_rejected():
    message = failure("cloud", {**CLOUD_FILLED_IN, "griddbHostPath": "/srv/griddb"}, CLOUD_SECRETS)
    assert message == problems("griddb-todo:griddbHostPath = '/srv/griddb': hostPath volumes are for k3s only; "
                               "on the cloud platform remove it and use griddbStorageClass")


def test_cloud_placeholders_must_be_replaced():
    message = failure("cloud", secrets=CLOUD_SECRETS)
    assert message == problems(*(
        f"griddb-todo:{key} = {value!r}: replace the CHANGE-ME placeholder with your own value"
        for key, value in (("kubeContext", "CHANGE-ME"), ("registry", "registry.example.com/change-me"),
                           ("registryUsername", "CHANGE-ME"), ("griddbStorageClass", "CHANGE-ME"))
    ))


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
    assert message == problems(
        "griddb-todo:platform = 'gcp': must be one of k3s, cloud",
        f"griddb-todo:griddbStorageSize = 'lots': {QUANTITY}",
        "griddb-todo:webPort = 0: must be from 1 to 65535",
    )


def test_passwords_in_plain_config_are_refused():
    # As if `pulumi config set registryPassword x` was run without --secret.
    message = failure("dev", {"registryUsername": "robot", "registryPassword": "hunter2-plain"})
    assert message == problems(
        "griddb-todo:registryPassword is stored in plain text: set it with "
        "`pulumi config set --secret registryPassword ...` (and remove the plain value)",
        "griddb-todo:registryPassword is missing: registryUsername is set, so give the password with "
        "`pulumi config set --secret registryPassword ...`",
    )


def test_given_password_hashes_are_validated_without_echoing_them():
    message = failure("dev", secrets={"accountPasswordHashes": '{"ann": "not-a-hash-sekrit"}'})
    assert message == problems(
        "griddb-todo:accountPasswordHashes (secret, value not shown): the entry for 'ann' is not a bcrypt "
        "($2a$/$2b$/$2y$) or argon2id hash; make one with `python -m auth.hashpw` (see services/README.md)"
    )
    assert failure("dev", secrets={"accountPasswordHashes": "{ann: x"}) == problems(
        "griddb-todo:accountPasswordHashes (secret, value not shown) is not JSON (Expecting property name "
        'enclosed in double quotes); expected {"name": "$2b$12$..."}'
    )


def test_short_griddb_password_is_refused_without_echoing_it():
    message = failure("dev", secrets={"griddbPassword": "short,pw"})
    assert message == problems(
        "griddb-todo:griddbPassword (secret, value not shown) must be at least 12 characters and contain no ','"
    )


def test_given_hashes_and_generated_accounts_are_merged():
    program = run_program("dev", secrets={"accountPasswordHashes": json.dumps({"ann": BCRYPT_HASH})})
    secret = next(r for r in program.k8s_objects() if r.kind == "Secret" and "accounts.json" in r.inputs.get("stringData", {}))
    accounts = json.loads(secret.inputs["stringData"]["accounts.json"])
    assert accounts["ann"] == BCRYPT_HASH and set(accounts) == {"ann", "demo"}
    # Only generated accounts have a password to hand back.
    assert set(program.outputs["accountPasswords"]) == {"demo"}


def test_pulumi_yaml_declares_exactly_the_keys_the_program_reads():
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    assert set(declared) == set(settings.KEYS)
    for key, spec in declared.items():
        assert {"type", "description", "default"} <= set(spec), key


def _outcome(config: dict) -> object:
    """The settings a config gives, or the errors it stops with."""
    loaded = []
    try:
        run(lambda: loaded.append(settings.load()), config={f"griddb-todo:{k}": v for k, v in config.items()})
    except ProgramFailed as failed:
        return failed.errors
    return loaded[0]


def test_pulumi_yaml_defaults_are_the_defaults_settings_use():
    """Key by key: a stack that leaves the key out gets what Pulumi.yaml declares as its default."""
    from harness import _as_config_string

    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    defaults = {key: _as_config_string(spec["default"]) for key, spec in declared.items()}
    # k3s needs these two; with them the defaults make a valid stack, so any difference shows.
    base = {**defaults, "griddbHostPath": "/srv/griddb", "griddbStorageClass": "griddb-hostpath"}
    assert isinstance(_outcome(base), settings.Settings)
    for key in declared:
        without = {k: v for k, v in base.items() if k != key}
        assert _outcome(without) == _outcome({**base, key: defaults[key]}), key


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
    assert annotations == {"pulumi.com/waitFor": "jsonpath={.spec.clusterIP}"}  # no endpoints looked for
    # The claim and its data stay.
    assert run.kube("PersistentVolumeClaim", "griddb-data")

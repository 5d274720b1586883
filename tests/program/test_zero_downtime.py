"""web and auth keep answering while they are changed (issue 9): replicas, disruption budgets,
rollouts, probes, spreading, graceful shutdown, and signing-key rotation, for every stack."""

import pytest

from components import workload
import harness
from harness import CLOUD_FILLED_IN, CLOUD_SECRETS, ProgramFailed, run_program

HTTP_SERVICES = ("web", "auth")
TLS_KEY = "tls:index/privateKey:PrivateKey"


def pod_spec(run, name: str) -> dict:
    return run.workload(name).inputs["spec"]["template"]["spec"]


def container(run, name: str) -> dict:
    (found,) = [c for c in pod_spec(run, name)["containers"] if c["name"] == name]
    return found


def env(run, name: str) -> dict:
    return {e["name"]: e.get("value") for e in container(run, name).get("env", [])}


def budgets(run) -> dict[str, dict]:
    return {r.outputs["metadata"]["name"]: r.inputs["spec"] for r in run.k8s_objects() if r.kind == "PodDisruptionBudget"}


def pod_labels(run, name: str) -> dict:
    return run.workload(name).inputs["spec"]["template"]["metadata"]["labels"]


def selects(selector: dict, labels: dict) -> bool:
    return bool(selector["matchLabels"]) and all(labels.get(k) == v for k, v in selector["matchLabels"].items())


# --- replicas and disruption budgets -------------------------------------------------------

def test_one_pod_each_and_no_budget_on_k3s_by_default(dev_run):
    for name in HTTP_SERVICES:
        assert dev_run.workload(name).inputs["spec"]["replicas"] == 1, name
    # A budget over one pod would block every node drain.
    assert budgets(dev_run) == {}


def test_two_pods_each_and_a_budget_on_cloud_by_default(cloud_run):
    found = budgets(cloud_run)
    assert set(found) == set(HTTP_SERVICES)
    for name in HTTP_SERVICES:
        assert cloud_run.workload(name).inputs["spec"]["replicas"] == 2, name
        assert found[name]["maxUnavailable"] == 1
        assert "minAvailable" not in found[name]
        assert found[name]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
        assert selects(found[name]["selector"], pod_labels(cloud_run, name)), name
        # ... and only this workload's pods
        for other in {"web", "auth", "griddb"} - {name}:
            assert not selects(found[name]["selector"], pod_labels(cloud_run, other))


def test_replica_counts_are_stack_settings():
    run = run_program("dev", {"webReplicas": 3, "authReplicas": 2})
    assert run.workload("web").inputs["spec"]["replicas"] == 3
    assert run.workload("auth").inputs["spec"]["replicas"] == 2
    assert set(budgets(run)) == {"web", "auth"}
    run = run_program("cloud", {**CLOUD_FILLED_IN, "webReplicas": 1}, CLOUD_SECRETS)
    assert run.workload("web").inputs["spec"]["replicas"] == 1
    assert run.workload("auth").inputs["spec"]["replicas"] == 2
    assert set(budgets(run)) == {"auth"}


def test_web_cpu_request_is_a_stack_setting_and_the_limit_stays_one_core():
    # The request is what a busy node promises web (README, Performance: its CPU per request).
    assert container(run_program("dev"), "web")["resources"]["requests"]["cpu"] == "100m"
    web = container(run_program("dev", {"webCpuMillicores": 350}), "web")
    assert web["resources"]["requests"]["cpu"] == "350m"
    assert web["resources"]["limits"]["cpu"] == "1"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"webCpuMillicores": 1001}, "griddb-todo:webCpuMillicores = 1001: must be from 10 to 1000"),
        ({"webCpuMillicores": "half"}, "griddb-todo:webCpuMillicores = 'half': must be a whole number from 10 to 1000"),
        ({"webReplicas": 21}, "griddb-todo:webReplicas = 21: must be from 0 to 20"),
        ({"authReplicas": -1}, "griddb-todo:authReplicas = -1: must be from 0 to 20"),
        ({"authReplicas": "two"}, "griddb-todo:authReplicas = 'two': must be a whole number from 0 to 20"),
        ({"signingKeyGeneration": 0}, "griddb-todo:signingKeyGeneration = 0: must be from 1 to 1000000"),
    ],
)
def test_bad_replicas_cpu_requests_and_key_generations_are_rejected(overrides, expected):
    with pytest.raises(ProgramFailed) as raised:
        run_program("dev", overrides)
    assert raised.value.registered == []
    assert raised.value.errors == [f"invalid stack configuration (1 problem(s)):\n  - {expected}"]


# --- rollouts, probes, spreading -------------------------------------------------------------

def test_rollouts_never_go_below_the_wanted_count(any_run):
    for name in HTTP_SERVICES:
        strategy = any_run.workload(name).inputs["spec"]["strategy"]
        assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}, name


def test_a_slow_start_is_not_taken_for_a_hung_process(any_run):
    for name in HTTP_SERVICES:
        c = container(any_run, name)
        startup = c["startupProbe"]
        # web, GridDB running (every stack here): once its store is connected, so a new pod
        # does not take traffic it would answer 503 only because it has not connected yet
        # (parked: /startupz, test_resource_graph.test_web_starts_at_once_while_griddb_is_parked)
        path = {"web": "/readyz", "auth": "/healthz"}[name]
        assert startup["httpGet"] == {"path": path, "port": "http"}
        # asked often (a ready pod joins the Service soon), yet given 30 s or more to start
        assert startup["periodSeconds"] <= 2, name
        assert startup["periodSeconds"] * startup["failureThreshold"] >= 30, name


def test_pods_prefer_different_nodes_but_one_node_still_runs_them(any_run):
    for name in HTTP_SERVICES:
        (spread,) = pod_spec(any_run, name)["topologySpreadConstraints"]
        assert spread["topologyKey"] == "kubernetes.io/hostname"
        assert spread["whenUnsatisfiable"] == "ScheduleAnyway"
        assert spread["maxSkew"] == 1
        assert selects(spread["labelSelector"], pod_labels(any_run, name))
        assert spread["matchLabelKeys"] == ["pod-template-hash"]


# --- graceful shutdown -----------------------------------------------------------------------

def test_shutdown_pauses_then_drains_well_inside_the_grace_period(any_run):
    for name in HTTP_SERVICES:
        pause = container(any_run, name)["lifecycle"]["preStop"]["sleep"]["seconds"]
        drain = int(env(any_run, name)["SHUTDOWN_DRAIN_SECONDS"])
        grace = pod_spec(any_run, name)["terminationGracePeriodSeconds"]
        assert pause >= 3, "endpoint removal takes a few seconds to reach kube-proxy and load balancers"
        assert drain >= 5, "a request in flight gets a few seconds to finish"
        # pause, then drain, then close (web: GridDB), with at least 5 s to spare
        assert pause + drain + workload.SHUTDOWN_CLOSE_SECONDS + 5 <= grace, name


# --- signing-key rotation ----------------------------------------------------------------------

def signing_secret(run) -> dict:
    volumes = {v["name"]: v for v in pod_spec(run, "auth")["volumes"]}
    return run.kube("Secret", volumes["signing-key"]["secret"]["secretName"])


def key_pems(run) -> dict[str, tuple[str, str]]:
    """Resource name -> (private PEM, public PEM), as the provider (here: the mocks) made them."""
    return {k.name: (k.outputs["privateKeyPem"], k.outputs["publicKeyPem"]) for k in run.of_type(TLS_KEY)}


@pytest.mark.parametrize(
    ("generation", "signs_with", "also_published"),
    [
        (1, "auth-signing-key", {"next": "auth-signing-key-2"}),
        (2, "auth-signing-key-2", {"previous": "auth-signing-key", "next": "auth-signing-key-3"}),
        (7, "auth-signing-key-7", {"previous": "auth-signing-key-6", "next": "auth-signing-key-8"}),
    ],
)
def test_auth_signs_with_the_current_key_and_publishes_its_neighbours(generation, signs_with, also_published):
    run = run_program("dev", {"signingKeyGeneration": generation})
    pems = key_pems(run)
    assert set(pems) == {signs_with, *also_published.values()}
    files = signing_secret(run).inputs["stringData"]
    assert files["private.pem"] == pems[signs_with][0]
    # the other keys' public halves only: auth never signs with them
    assert {f: v for f, v in files.items() if f != "private.pem"} == {
        f"{role}.pub.pem": pems[name][1] for role, name in also_published.items()}
    mount = next(m for m in container(run, "auth")["volumeMounts"] if m["name"] == "signing-key")["mountPath"]
    auth_env = env(run, "auth")
    assert auth_env["AUTH_PUBLISHED_KEY_FILES"] == f"{mount}/next.pub.pem"
    if "previous" in also_published:
        assert auth_env["AUTH_PREVIOUS_KEY_FILE"] == f"{mount}/previous.pub.pem"
    else:
        assert "AUTH_PREVIOUS_KEY_FILE" not in auth_env and "AUTH_PREVIOUS_KEY_UNTIL" not in auth_env


def test_the_previous_key_leaves_once_its_last_token_has_expired():
    """Published from the rotation's Secret (creationTimestamp) through the rollout's bound and
    one token lifetime: no token it signed outlives it, and it does not linger for ever."""
    run = run_program("dev", {"signingKeyGeneration": 2, "tokenTtlSeconds": 900})
    assert signing_secret(run).outputs["metadata"]["creationTimestamp"] == harness.MOCK_CREATION_TIMESTAMP
    # 10:00:00 + 600 s (old pods may sign until the rollout ends) + 900 s (their last token's life)
    assert env(run, "auth")["AUTH_PREVIOUS_KEY_UNTIL"] == "2026-12-01T10:25:00Z"


def test_a_rotation_keeps_the_old_key_and_rolls_auth(dev_run):
    rotated = run_program("dev", {"signingKeyGeneration": 2})
    before, after = key_pems(dev_run), key_pems(rotated)
    # The same resources (so the same keys in a real state): the key that signed before is still
    # published, and the one that signs now was published before anything signed with it.
    assert before["auth-signing-key"] == after["auth-signing-key"]
    assert before["auth-signing-key-2"] == after["auth-signing-key-2"]
    old_files, new_files = signing_secret(dev_run).inputs["stringData"], signing_secret(rotated).inputs["stringData"]
    assert new_files["previous.pub.pem"] == before["auth-signing-key"][1]
    assert old_files["next.pub.pem"] == after["auth-signing-key-2"][1]
    # A new Secret name in the pod template: auth rolls (one pod at a time) onto the new key.
    assert signing_secret(dev_run).outputs["metadata"]["name"] != signing_secret(rotated).outputs["metadata"]["name"]


def test_the_key_before_the_previous_one_is_gone():
    run = run_program("dev", {"signingKeyGeneration": 3})
    assert "auth-signing-key" not in key_pems(run)

"""The resource graph each shipped stack produces: what a user relies on once it is deployed."""

import pytest

import harness
from harness import E2E_CLOUD_REGISTRY, E2E_CLOUD_SECRETS, ROOT, STACKS, WORKLOAD_KINDS, ProgramRun

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
PV_TYPE = "kubernetes:core/v1:PersistentVolume"
IMAGE_TYPE = "docker:index/image:Image"


def pod_spec(run: ProgramRun, name: str) -> dict:
    return run.workload(name).inputs["spec"]["template"]["spec"]


def container(run: ProgramRun, deployment: str, name: str = None) -> dict:
    containers = pod_spec(run, deployment)["containers"]
    return next(c for c in containers if c["name"] == (name or deployment))


def env(c: dict) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}


def resolve_target_port(run: ProgramRun, service: str) -> int:
    """The container port a Service really sends traffic to."""
    spec = run.kube("Service", service).inputs["spec"]
    target = spec["ports"][0]["targetPort"]
    if isinstance(target, int):
        return target
    pods = [d for d in run.k8s_objects() if d.kind in WORKLOAD_KINDS
            and d.inputs["spec"]["selector"]["matchLabels"] == spec["selector"]]
    assert len(pods) == 1, f"service {service} selects {len(pods)} workloads"
    ports = [p for c in pods[0].inputs["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])]
    matching = [p["containerPort"] for p in ports if p.get("name") == target]
    assert len(matching) == 1, f"targetPort {target!r} of {service} names no container port"
    return matching[0]


def test_the_program_tests_run_every_stack_file():
    """A new stack file is not shipped untested: any_run covers each."""
    assert sorted(p.name for p in ROOT.glob("Pulumi.*.yaml")) == sorted(f"Pulumi.{s}.yaml" for s in STACKS)


# --- storage -----------------------------------------------------------------------------

def test_k3s_stack_has_a_hostpath_volume_reserved_for_the_claim(dev_run):
    (pv,) = dev_run.of_type(PV_TYPE)
    spec = pv.inputs["spec"]
    assert spec["hostPath"] == {"path": "/var/lib/griddb-todo/dev/griddb", "type": "DirectoryOrCreate"}
    assert spec["persistentVolumeReclaimPolicy"] == "Retain"
    assert spec["storageClassName"] == "griddb-hostpath"
    assert spec["capacity"] == {"storage": "2Gi"}
    assert spec["claimRef"] == {"namespace": "griddb-todo-dev", "name": "griddb-data"}


def test_cloud_stack_has_no_hostpath_volume(cloud_run):
    assert cloud_run.of_type(PV_TYPE) == []


def test_k3s_claim_binds_the_hostpath_volume_with_the_same_class(dev_run):
    claim = dev_run.kube("PersistentVolumeClaim", "griddb-data").inputs["spec"]
    (pv,) = dev_run.of_type(PV_TYPE)
    assert claim["storageClassName"] == pv.inputs["spec"]["storageClassName"] == "griddb-hostpath"
    assert claim["volumeName"] == pv.outputs["metadata"]["name"] == "griddb-todo-dev-griddb-data"
    assert claim["resources"]["requests"] == {"storage": "2Gi"}
    assert claim["accessModes"] == ["ReadWriteOnce"]


def test_cloud_claim_uses_the_dynamic_class(cloud_run):
    claim = cloud_run.kube("PersistentVolumeClaim", "griddb-data").inputs["spec"]
    assert claim["storageClassName"] == "standard-rwo"
    assert "volumeName" not in claim
    assert claim["resources"]["requests"] == {"storage": "10Gi"}


def test_griddb_keeps_data_and_transaction_logs_on_the_claim(any_run):
    spec = pod_spec(any_run, "griddb")
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container(any_run, "griddb")["volumeMounts"]}
    storage = mounts["/var/lib/gridstore/storage"]
    assert volumes[storage]["persistentVolumeClaim"]["claimName"] == "griddb-data"
    # No root step prepares it: the server makes data/ and txnlog/ itself (services/griddb), on
    # a volume the pod's fsGroup, local-path or the platform (README "Prepare k3s") gave it.
    assert "initContainers" not in spec
    assert spec["securityContext"]["fsGroup"] == 10001


def test_griddb_can_never_run_twice_on_its_volume(any_run):
    # A Deployment (even with Recreate) starts a replacement while a deleted pod still shuts
    # down; a StatefulSet's one pod has a fixed name, so the next starts only once it is gone.
    assert [r.kind for r in any_run.k8s_objects() if r.outputs["metadata"]["name"] == "griddb"
            and r.kind in WORKLOAD_KINDS] == ["StatefulSet"]
    spec = any_run.kube("StatefulSet", "griddb").inputs["spec"]
    assert spec["replicas"] == 1
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert spec["updateStrategy"] == {"type": "RollingUpdate"}
    # Its governing Service is the one the clients use (no per-pod DNS name is needed).
    assert spec["serviceName"] == "griddb"
    any_run.kube("Service", spec["serviceName"])
    # Enough time for the shutdown checkpoint before the kubelet kills the process.
    assert spec["template"]["spec"]["terminationGracePeriodSeconds"] == 60


def test_griddb_mounts_the_separately_managed_claim_by_name(any_run):
    statefulset = any_run.kube("StatefulSet", "griddb")
    claim = any_run.kube("PersistentVolumeClaim", "griddb-data")
    # No claim templates: the StatefulSet never creates, owns or deletes a claim of its own.
    assert "volumeClaimTemplates" not in statefulset.inputs["spec"]
    claims = [v["persistentVolumeClaim"]["claimName"] for v in statefulset.inputs["spec"]["template"]["spec"]["volumes"]
              if "persistentVolumeClaim" in v]
    assert claims == [claim.outputs["metadata"]["name"]]
    # By name, not by the claim's output: the StatefulSet must not wait for a Bound claim that
    # binds only once its pod is scheduled (WaitForFirstConsumer).
    claim_urn = next(u for u in any_run.urns if u.endswith("::griddb-data"))
    assert claim_urn not in statefulset.dependencies
    # A replacement stops the old pod first.
    assert statefulset.delete_before_replace is True


def test_claim_fails_up_when_it_cannot_bind(any_run):
    annotations = any_run.kube("PersistentVolumeClaim", "griddb-data").inputs["metadata"]["annotations"]
    assert "pulumi.com/skipAwait" not in annotations
    assert annotations["pulumi.com/waitFor"] == "jsonpath={.status.phase}=Bound"
    assert int(annotations["pulumi.com/timeoutSeconds"]) == 600
    # The StatefulSet's pod waits for the claim: its own wait ends with the claim's, not later.
    statefulset = any_run.kube("StatefulSet", "griddb")
    assert statefulset.custom_timeouts == {"create": "600s", "update": "600s"}


def test_griddb_wait_seconds_sets_both_waits():
    run = harness.run_program("e2e-cloud", {**E2E_CLOUD_REGISTRY, "griddbReplicas": 1, "griddbWaitSeconds": 45},
                              E2E_CLOUD_SECRETS)
    annotations = run.kube("PersistentVolumeClaim", "griddb-data").inputs["metadata"]["annotations"]
    assert annotations["pulumi.com/timeoutSeconds"] == "45"
    assert run.kube("StatefulSet", "griddb").custom_timeouts == {"create": "45s", "update": "45s"}
    # web's startup waits for GridDB: its rollout's wait is GridDB's plus its own start, and the
    # kubelet's budget for that start the same (one probe a second).
    assert run.kube("Deployment", "web").custom_timeouts == {"create": "165s", "update": "165s"}
    startup = container(run, "web")["startupProbe"]
    assert startup["periodSeconds"] == 1 and startup["failureThreshold"] == 165
    # Its Service waits only for its address, not for web's pods: the default bound.
    assert run.kube("Service", "web").custom_timeouts == {}


def test_web_keeps_the_default_wait_while_griddb_is_parked():
    parked = harness.run_program("dev", {"griddbReplicas": 0})
    assert parked.kube("Deployment", "web").custom_timeouts == {}
    assert parked.kube("Service", "web").custom_timeouts == {}


def test_claim_is_created_once_the_griddb_image_is_pushed(any_run):
    # Its wait for Bound starts when it is created: not while the image is still being built.
    claim = any_run.kube("PersistentVolumeClaim", "griddb-data")
    image, _ = any_run.pushed_image("griddb")
    assert image.urn in claim.dependencies


def test_parked_griddb_on_a_dynamic_class_does_not_wait_for_its_claim():
    from harness import CLOUD_FILLED_IN, CLOUD_SECRETS, run_program

    run = run_program("cloud", {**CLOUD_FILLED_IN, "griddbReplicas": 0}, CLOUD_SECRETS)
    # Nothing consumes it, so on a WaitForFirstConsumer class it rightly stays Pending.
    annotations = run.kube("PersistentVolumeClaim", "griddb-data").inputs["metadata"]["annotations"]
    assert annotations == {"pulumi.com/skipAwait": "true"}
    assert run.kube("StatefulSet", "griddb").inputs["spec"]["replicas"] == 0


def test_data_is_protected_on_cloud_only(dev_run, cloud_run):
    def protected(run):
        return sorted(r.kind for r in run.k8s_objects() if r.protect)

    assert protected(dev_run) == []
    assert protected(cloud_run) == ["Namespace", "PersistentVolumeClaim"]


# --- configuration of the workloads ----------------------------------------------------------

def test_griddb_environment(any_run):
    values = env(container(any_run, "griddb"))
    secret = any_run.kube("Secret", values["GRIDDB_PASSWORD"]["secretKeyRef"]["name"])
    assert values["NOTIFICATION_MEMBER"] == "1"
    assert values["GRIDDB_CLUSTER_NAME"] == "myCluster"
    assert values["GRIDDB_LOG_WRITE_MODE"] == "0"
    assert values["POD_IP"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    assert values["GRIDDB_USERNAME"] == {"secretKeyRef": {"name": secret.outputs["metadata"]["name"], "key": "username"}}
    assert values["GRIDDB_PASSWORD"]["secretKeyRef"]["key"] == "password"
    assert secret.inputs["stringData"]["username"] == "admin"


def test_web_finds_auth_and_griddb_by_service_name(any_run):
    values = env(container(any_run, "web"))
    griddb_secret = env(container(any_run, "griddb"))["GRIDDB_PASSWORD"]["secretKeyRef"]["name"]
    assert values["AUTH_URL"] == "http://auth:2828"
    assert values["GRIDDB_NOTIFICATION_MEMBER"] == "griddb:10001"
    assert values["GRIDDB_CLUSTER_NAME"] == "myCluster"
    assert values["TODO_STORE"] == "griddb"
    assert values["GRIDDB_PASSWORD"]["secretKeyRef"] == {"name": griddb_secret, "key": "password"}
    assert values["TOKEN_ISSUER"] == env(container(any_run, "auth"))["TOKEN_ISSUER"]
    assert values["TOKEN_AUDIENCE"] == env(container(any_run, "auth"))["TOKEN_AUDIENCE"]


def test_auth_reads_its_key_and_accounts_from_mounted_secrets(any_run):
    values = env(container(any_run, "auth"))
    spec = pod_spec(any_run, "auth")
    mounts = {m["name"]: m for m in container(any_run, "auth")["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    key_mount = mounts["signing-key"]
    assert values["AUTH_SIGNING_KEY_FILE"] == key_mount["mountPath"] + "/private.pem"
    assert key_mount["readOnly"] is True
    key_secret = any_run.kube("Secret", volumes["signing-key"]["secret"]["secretName"])
    assert "private.pem" in key_secret.inputs["stringData"]
    accounts_secret = any_run.kube("Secret", volumes["accounts"]["secret"]["secretName"])
    assert values["AUTH_ACCOUNTS_FILE"] == mounts["accounts"]["mountPath"] + "/accounts.json"
    assert "accounts.json" in accounts_secret.inputs["stringData"]
    # The signing key is mounted into auth only.
    for other in ("web", "griddb"):
        names = [v.get("secret", {}).get("secretName") for v in pod_spec(any_run, other)["volumes"]]
        assert key_secret.outputs["metadata"]["name"] not in names


def test_accounts_secret_holds_hashes_never_passwords(dev_run):
    import json

    accounts = json.loads(dev_run.kube("Secret", _secret_name(dev_run, "auth", "accounts")).inputs["stringData"]["accounts.json"])
    assert list(accounts) == ["demo"]
    assert accounts["demo"].startswith("$2a$10$")
    assert dev_run.outputs["accountPasswords"]["demo"] not in json.dumps(accounts)


def _secret_name(run, deployment, volume):
    return next(v["secret"]["secretName"] for v in pod_spec(run, deployment)["volumes"] if v["name"] == volume)


# --- ports and services -------------------------------------------------------------------

def test_web_service_sends_traffic_to_the_port_the_server_listens_on(any_run):
    web = container(any_run, "web")
    listening = int(env(web)["WEB_PORT"])
    assert resolve_target_port(any_run, "web") == listening == 8080


def test_service_types_and_ports(any_run):
    ports = {}
    for name in ("griddb", "auth", "web"):
        spec = any_run.kube("Service", name).inputs["spec"]
        ports[name] = (spec["type"], spec["ports"][0]["port"], resolve_target_port(any_run, name))
    # The stack's webPort outside (8080 unless the stack says otherwise), always 8080 inside.
    assert ports == {
        "griddb": ("ClusterIP", 10001, 10001),
        "auth": ("ClusterIP", 2828, 2828),
        "web": ("LoadBalancer", int(any_run.config["webPort"]), 8080),
    }
    assert int(env(container(any_run, "auth"))["AUTH_PORT"]) == 2828


def test_web_sees_client_addresses_and_auth_trusts_only_webs_header(any_run):
    # auth throttles failed logins per client address: web must see the real one (Local
    # policy, no SNAT to the node's address) and forward it in the header auth trusts.
    assert any_run.kube("Service", "web").inputs["spec"]["externalTrafficPolicy"] == "Local"
    for name in ("griddb", "auth"):
        assert "externalTrafficPolicy" not in any_run.kube("Service", name).inputs["spec"]
    # the header web's login sends (services/web/web/app.py CLIENT_ADDRESS_HEADER)
    assert env(container(any_run, "auth"))["AUTH_TRUSTED_CLIENT_HEADER"] == "X-Todo-Client-Address"
    assert "AUTH_TRUSTED_CLIENT_HEADER" not in env(container(any_run, "web"))


def test_url_output_is_the_load_balancer_address(any_run):
    from harness import MOCK_LOAD_BALANCER_IP

    assert any_run.outputs["url"] == f"http://{MOCK_LOAD_BALANCER_IP}:{any_run.config['webPort']}"


# --- probes, resources, hardening ---------------------------------------------------------

def all_containers(run):
    for deployment in run.k8s_objects():
        if deployment.kind in WORKLOAD_KINDS:
            spec = deployment.inputs["spec"]["template"]["spec"]
            for c in spec.get("initContainers", []):
                yield deployment, c, True
            for c in spec["containers"]:
                yield deployment, c, False


def test_every_container_has_probes_and_resource_bounds(any_run):
    checked = 0
    for _, c, is_init in all_containers(any_run):
        assert set(c["resources"]) == {"requests", "limits"}, c["name"]
        assert {"cpu", "memory"} <= set(c["resources"]["limits"]), c["name"]
        if not is_init:
            assert "readinessProbe" in c and "livenessProbe" in c, c["name"]
            checked += 1
    assert checked == 3


def test_griddb_readiness_asks_gs_stat_not_tcp(any_run):
    griddb = container(any_run, "griddb")
    assert griddb["readinessProbe"]["exec"]["command"] == ["griddb-ready"]
    assert griddb["startupProbe"]["exec"]["command"] == ["griddb-ready"]
    assert pod_spec(any_run, "griddb")["terminationGracePeriodSeconds"] >= 60


def test_containers_are_hardened(any_run):
    for deployment, c, is_init in all_containers(any_run):
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
        # No exception: Pod Security "restricted" is enforced on the namespace.
        assert sc["runAsNonRoot"] is True and "add" not in sc["capabilities"]
        assert sc.get("runAsUser", 10001) != 0


def test_the_namespace_enforces_pod_security_restricted(any_run):
    """The API server itself refuses a pod that breaks the "restricted" profile (tests/e2e shows
    one refused); every pod of ours meets it, including the volume types it may mount."""
    (namespace,) = [r for r in any_run.k8s_objects() if r.kind == "Namespace"]
    labels = namespace.inputs["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    restricted_volume_types = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                               "persistentVolumeClaim", "projected", "secret"}
    for workload in any_run.k8s_objects():
        if workload.kind in WORKLOAD_KINDS:
            spec = workload.inputs["spec"]["template"]["spec"]
            for volume in spec.get("volumes", []):
                assert set(volume) - {"name"} <= restricted_volume_types, volume


def test_pods_are_non_root_without_service_account_tokens(any_run):
    for name in ("griddb", "auth", "web"):
        spec = pod_spec(any_run, name)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] == 10001
        assert spec["automountServiceAccountToken"] is False
        # Service links would inject AUTH_PORT=tcp://... and clash with our own variables.
        assert spec["enableServiceLinks"] is False


# --- network policies ----------------------------------------------------------------------

def policies(run):
    return {p.outputs["metadata"]["name"]: p.inputs["spec"] for p in run.k8s_objects() if p.kind == "NetworkPolicy"}


def test_default_deny_ingress(any_run):
    deny = policies(any_run)["default-deny-ingress"]
    assert deny["podSelector"] == {} and deny["policyTypes"] == ["Ingress"] and "ingress" not in deny


def test_only_web_reaches_auth_and_griddb(any_run):
    web_labels = any_run.workload("web").inputs["spec"]["template"]["metadata"]["labels"]
    for target, port in (("griddb", 10001), ("auth", 2828)):
        (rule,) = policies(any_run)[f"allow-{target}"]["ingress"]
        (peer,) = rule["from"]
        selected = peer["podSelector"]["matchLabels"]
        assert selected.items() <= web_labels.items()
        assert rule["ports"] == [{"protocol": "TCP", "port": port}]


def test_web_is_reachable_from_anywhere_on_its_port_only(any_run):
    (rule,) = policies(any_run)["allow-web"]["ingress"]
    assert "from" not in rule
    assert rule["ports"] == [{"protocol": "TCP", "port": 8080}]


def test_every_pod_is_admitted_by_exactly_one_allow_policy(any_run):
    """One for its service port; web and auth one more for their metrics port where the stack
    names a scrapers' namespace (tests/program/test_metrics.py checks what that one admits)."""
    allow = {n: p for n, p in policies(any_run).items() if n != "default-deny-ingress" and "Ingress" in p["policyTypes"]}
    scraped = bool(any_run.config.get("metricsScrapeNamespace"))
    for name in ("griddb", "auth", "web"):
        labels = any_run.workload(name).inputs["spec"]["template"]["metadata"]["labels"]
        admitting = [n for n, p in allow.items() if p["podSelector"]["matchLabels"].items() <= labels.items()]
        metrics = [f"allow-{name}-metrics"] if scraped and name != "griddb" else []
        assert sorted(admitting) == sorted([f"allow-{name}", *metrics])


def test_default_deny_egress_but_dns(any_run):
    deny = policies(any_run)["default-deny-egress"]
    assert deny["podSelector"] == {} and deny["policyTypes"] == ["Egress"] and "egress" not in deny
    dns = policies(any_run)["allow-dns-egress"]
    assert dns["podSelector"] == {}
    (rule,) = dns["egress"]
    assert "to" not in rule
    assert rule["ports"] == [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]


def egress_of(run, name):
    labels = run.workload(name).inputs["spec"]["template"]["metadata"]["labels"]
    allowed = set()
    for policy in policies(run).values():
        if "Egress" in policy["policyTypes"] and policy["podSelector"].get("matchLabels", {}).items() <= labels.items() \
                and policy["podSelector"] != {}:
            for rule in policy["egress"]:
                for peer in rule["to"]:
                    target = peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
                    allowed |= {(target, p["port"]) for p in rule["ports"]}
    return allowed


def test_only_web_opens_connections_to_auth_and_griddb(any_run):
    assert egress_of(any_run, "web") == {("auth", 2828), ("griddb", 10001)}
    assert egress_of(any_run, "auth") == set()
    # The single GridDB member reaches only itself.
    assert egress_of(any_run, "griddb") == {("griddb", 10001), ("griddb", 10010), ("griddb", 10020), ("griddb", 10040)}


# --- images ------------------------------------------------------------------------------

@pytest.mark.parametrize("service", ["griddb", "auth", "web"])
def test_deployment_runs_the_digest_its_image_resource_pushed(any_run, service):
    _, digest = any_run.pushed_image(service)
    assert "@sha256:" in digest
    spec = pod_spec(any_run, service)
    # Init containers included: griddb's volume step runs the same image.
    images = {c["image"] for c in spec["containers"] + spec.get("initContainers", [])}
    assert images == {digest}
    assert any_run.outputs["images"][service] == digest


def test_images_are_built_from_each_service_and_pushed_to_the_registry(dev_run, cloud_run):
    for run, registry in ((dev_run, "127.0.0.1:5000"), (cloud_run, "registry.example.com/acme")):
        for service in ("griddb", "auth", "web"):
            image = run.one(IMAGE_TYPE, f"{service}-image").inputs
            assert image["imageName"].startswith(f"{registry}/{service}:")
            assert image["build"]["context"] == f"services/{service}"
            assert image["build"]["platform"] == "linux/amd64"
            assert image.get("skipPush") is False


def test_base_images_are_build_args(dev_run):
    assert dev_run.one(IMAGE_TYPE, "web-image").inputs["build"]["args"] == {"PYTHON_BASE_IMAGE": "python:3.12.8-slim-bookworm"}
    assert dev_run.one(IMAGE_TYPE, "griddb-image").inputs["build"]["args"] == {"GRIDDB_BASE_IMAGE": "griddb/griddb:5.9.0-jammy"}


def test_registry_credentials_only_where_the_stack_has_them(dev_run, cloud_run):
    assert "registry" not in dev_run.one(IMAGE_TYPE, "web-image").inputs
    registry = cloud_run.one(IMAGE_TYPE, "web-image")
    assert registry.inputs["registry"]["server"] == "registry.example.com"
    assert registry.inputs["registry"]["username"] == "robot"
    assert "registry.password" in registry.secret_paths


# --- secrets -----------------------------------------------------------------------------

def test_secrets_stay_secret(any_run):
    assert any_run.secret_outputs == {"accountPasswords"}
    clear = list(any_run.outputs["accountPasswords"].values())
    for resource in any_run.resources:
        if not resource.secret_paths:
            text = repr(resource.inputs)
            assert not any(p in text for p in clear), resource.name


def test_generated_credentials_are_random_resources(any_run):
    names = {r.name for r in any_run.of_type("random:index/randomPassword:RandomPassword")}
    assert names == {"griddb-admin-password", "auth-password-demo"}
    keys = any_run.of_type("tls:index/privateKey:PrivateKey")
    # generation 1 (the default): the current key and the next one, published ahead of its use
    assert sorted(k.name for k in keys) == ["auth-signing-key", "auth-signing-key-2"]
    for key in keys:
        assert key.inputs["algorithm"] == "ECDSA" and key.inputs["ecdsaCurve"] == "P256"


# --- structure ---------------------------------------------------------------------------

def test_components_parent_their_children(any_run):
    component_types = {r.type.split(":")[-1] for r in any_run.resources if r.type.startswith("griddb-todo:index:")}
    expected = {"AppImage", "AppNamespace", "AdmissionPolicy", "GridDbNode", "AuthService", "WebFrontend"}
    # The pull secret's component exists only where the registry wants credentials.
    assert component_types - {"RegistryPullSecret"} == expected
    for resource in any_run.resources:
        if resource.custom and resource.type != "pulumi:providers:kubernetes":
            # The parent's URN ends in "griddb-todo:index:<Component>::<name>".
            parent_type, parent_name = resource.parent.rsplit("::", 2)[-2:]
            assert parent_type.rsplit("$", 1)[-1].startswith("griddb-todo:index:"), resource.name
            assert resource.name.startswith(parent_name + "-"), resource.name


def test_every_kubernetes_object_uses_the_stack_provider(any_run):
    (provider,) = any_run.of_type("pulumi:providers:kubernetes")
    assert provider.name == "cluster"
    objects = any_run.k8s_objects()
    assert len(objects) >= 14
    for resource in objects:
        assert "$pulumi:providers:kubernetes::cluster::" in resource.provider, resource.name


def test_kubernetes_objects_carry_the_recommended_labels(any_run):
    for resource in any_run.k8s_objects():
        labels = resource.inputs["metadata"].get("labels", {})
        assert labels.get("app.kubernetes.io/part-of") == "griddb-todo", resource.name
        if resource.kind in ("Deployment", "StatefulSet", "Service"):
            assert {"app.kubernetes.io/name", "app.kubernetes.io/component"} <= set(labels), resource.name


# --- deploy order: rollouts run side by side, `up` still returns only when the app answers ---

# What pulumi-kubernetes waits on until pods are ready: a workload's rollout, a Service's
# endpoints. A resource that depends on one of these is created only after those pods are ready.
WAITS_FOR_PODS = ("Deployment", "StatefulSet", "Service")


def waited_for_before(run: ProgramRun, resource) -> set[str]:
    """URNs of everything the engine finishes before it creates `resource` (its dependencies,
    transitively)."""
    by_urn = {r.urn: r for r in run.resources}
    seen, todo = set(), list(resource.dependencies)
    while todo:
        urn = todo.pop()
        if urn not in seen:
            seen.add(urn)
            todo.extend(by_urn[urn].dependencies if urn in by_urn else [])
    return seen


def pod_waits(run: ProgramRun, resource) -> list[str]:
    by_urn = {r.urn: r for r in run.k8s_objects()}
    return sorted(f"{by_urn[u].kind}/{by_urn[u].outputs['metadata']['name']}"
                  for u in waited_for_before(run, resource) if u in by_urn and by_urn[u].kind in WAITS_FOR_PODS)


def test_no_rollout_waits_for_another_services_pods(any_run):
    """kubectl starts all rollouts at once; so does `up`: web's Deployment is not held back until
    auth (or GridDB) is ready, as it was when its addresses came from the Services' outputs."""
    for name in ("web", "auth", "griddb"):
        assert pod_waits(any_run, any_run.workload(name)) == [], name


def test_services_are_created_beside_their_pods_not_after_them(any_run):
    for name in ("web", "auth", "griddb"):
        assert pod_waits(any_run, any_run.kube("Service", name)) == [], name


def test_every_rollout_and_service_is_still_waited_for(any_run):
    """No skipAwait on what a user relies on: `up` returns once auth's and web's pods are ready
    (and GridDB's, while it runs): pulumi-kubernetes' own rollout wait, nothing in its place.
    Each Service is waited for until it has its address: a LoadBalancer's ingress (the url)."""
    for kind in ("Deployment", "StatefulSet", "Service"):
        for resource in (r for r in any_run.k8s_objects() if r.kind == kind):
            annotations = resource.inputs["metadata"].get("annotations") or {}
            assert "pulumi.com/skipAwait" not in annotations, resource.name
            if kind != "Service":
                assert "pulumi.com/waitFor" not in annotations, resource.name
    waits = {name: any_run.kube("Service", name).inputs["metadata"]["annotations"]["pulumi.com/waitFor"]
             for name in ("web", "auth", "griddb")}
    web_type = any_run.kube("Service", "web").inputs["spec"]["type"]
    assert waits["web"] == {"LoadBalancer": "jsonpath={.status.loadBalancer.ingress}",
                            "NodePort": "jsonpath={.spec.ports[0].nodePort}"}[web_type]
    assert waits["auth"] == waits["griddb"] == "jsonpath={.spec.clusterIP}"


def test_web_starts_only_once_it_reached_griddb_while_griddb_runs(any_run):
    """Started beside GridDB, web's new pod counts as started (so its rollout, so `up`) only once
    its store answers: the todo API works when `up` returns. Readiness and liveness stay on
    /healthz, so a started pod keeps serving the UI and login through a GridDB outage."""
    web = container(any_run, "web")
    startup = web["startupProbe"]
    assert startup["httpGet"] == {"path": "/readyz", "port": "http"}
    # The kubelet gives up on the start exactly when Pulumi gives up on the rollout: GridDB's
    # wait (griddbWaitSeconds, default 600) plus web's own start.
    assert startup["periodSeconds"] * startup["failureThreshold"] == 600 + 120
    assert any_run.kube("Deployment", "web").custom_timeouts == {"create": "720s", "update": "720s"}
    assert startup["periodSeconds"] <= 2  # noticed within a couple of seconds
    assert web["readinessProbe"]["httpGet"]["path"] == web["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_web_starts_at_once_while_griddb_is_parked():
    from harness import run_program

    run = run_program("e2e")  # griddbReplicas 0: no node to reach, the todo API answers 503
    assert run.kube("StatefulSet", "griddb").inputs["spec"]["replicas"] == 0
    # Started once its first connection attempt is made (it fails: no node), not once connected.
    startup = container(run, "web")["startupProbe"]
    assert startup["httpGet"] == {"path": "/startupz", "port": "http"}
    assert startup["periodSeconds"] * startup["failureThreshold"] < 600
    # The parked node's Service has no endpoints, and its wait (its address) looks for none.
    assert run.kube("Service", "griddb").inputs["metadata"]["annotations"] == {
        "pulumi.com/waitFor": "jsonpath={.spec.clusterIP}"}

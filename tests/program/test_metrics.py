"""Metrics in the program: web and auth declare their metrics port, pods carry the scrape
annotations, and one NetworkPolicy per service admits that port from the namespace the stack
names (metricsScrapeNamespace) and nowhere else; no Service publishes it."""

import pytest

from harness import ProgramFailed, run_program

SCRAPERS = "monitoring"
METRICS_PORT = 9090
SCRAPED = ("web", "auth")  # griddb serves no Prometheus metrics of ours


@pytest.fixture(scope="module")
def scraped_run():
    return run_program("dev", {"metricsScrapeNamespace": SCRAPERS})


def pod_template(run, name: str) -> dict:
    return run.workload(name).inputs["spec"]["template"]


def container(run, name: str) -> dict:
    (found,) = [c for c in pod_template(run, name)["spec"]["containers"] if c["name"] == name]
    return found


def ingress_policies(run) -> dict[str, dict]:
    return {p.outputs["metadata"]["name"]: p.inputs["spec"] for p in run.k8s_objects()
            if p.kind == "NetworkPolicy" and "Ingress" in p.inputs["spec"]["policyTypes"]}


def admitting(run, name: str, port: int) -> dict[str, list]:
    """The ingress policies selecting `name`'s pods that admit TCP `port`, and from whom."""
    labels = pod_template(run, name)["metadata"]["labels"]
    found = {}
    for policy_name, spec in ingress_policies(run).items():
        if not spec["podSelector"].get("matchLabels", {}).items() <= labels.items():
            continue
        for rule in spec.get("ingress", []):
            if any(p["port"] == port for p in rule["ports"]):
                found[policy_name] = rule.get("from")
    return found


@pytest.mark.parametrize("name", SCRAPED)
def test_the_metrics_port_is_declared_and_is_the_one_the_service_serves_on(any_run, name):
    c = container(any_run, name)
    assert {"name": "metrics", "containerPort": METRICS_PORT} in c["ports"]
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env[f"{name.upper()}_METRICS_PORT"] == str(METRICS_PORT)


@pytest.mark.parametrize("name", SCRAPED)
def test_scraped_pods_carry_the_prometheus_annotations(scraped_run, name):
    assert pod_template(scraped_run, name)["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true", "prometheus.io/port": str(METRICS_PORT), "prometheus.io/path": "/metrics"}


@pytest.mark.parametrize("name", SCRAPED)
def test_only_the_scrapers_namespace_reaches_the_metrics_port(scraped_run, name):
    # Exactly one policy admits the port, from every pod of that namespace and of no other.
    assert admitting(scraped_run, name, METRICS_PORT) == {f"allow-{name}-metrics": [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": SCRAPERS}}}]}
    (rule,) = ingress_policies(scraped_run)[f"allow-{name}-metrics"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": METRICS_PORT}], "the metrics port only"


def test_without_a_scrapers_namespace_nothing_reaches_the_metrics_port_or_is_told_to_scrape(dev_run, cloud_run):
    for run in (dev_run, cloud_run):
        for name in SCRAPED:
            assert admitting(run, name, METRICS_PORT) == {}
            assert "annotations" not in pod_template(run, name)["metadata"]
        assert not [n for n in ingress_policies(run) if n.endswith("-metrics")]


def test_griddb_has_no_metrics_port_annotations_or_policy(scraped_run):
    assert admitting(scraped_run, "griddb", METRICS_PORT) == {}
    assert "annotations" not in pod_template(scraped_run, "griddb")["metadata"]


@pytest.mark.parametrize("name", ["web", "auth", "griddb"])
def test_no_service_publishes_the_metrics_port(scraped_run, any_run, name):
    """Not even web's public LoadBalancer: its Service lists the http port alone."""
    for run in (scraped_run, any_run):
        ports = run.kube("Service", name).inputs["spec"]["ports"]
        assert len(ports) == 1
        assert ports[0]["port"] != METRICS_PORT and ports[0]["targetPort"] not in ("metrics", METRICS_PORT)


@pytest.mark.parametrize(("value", "expected"), [
    ("Monitoring", "griddb-todo:metricsScrapeNamespace = 'Monitoring': must be a namespace name (a DNS "
                   "label: lower-case letters, digits and '-', at most 63 characters), or empty for no scraping"),
    ("m" * 64, f"griddb-todo:metricsScrapeNamespace = '{'m' * 64}': must be a namespace name (a DNS label: "
               "lower-case letters, digits and '-', at most 63 characters), or empty for no scraping"),
    ("griddb-todo-dev", "griddb-todo:metricsScrapeNamespace = 'griddb-todo-dev': is the stack's own namespace, "
                        "whose pods may open no connections (default-deny egress): name the namespace your "
                        "Prometheus runs in"),
])
def test_a_bad_scrapers_namespace_is_rejected_before_any_resource(value, expected):
    with pytest.raises(ProgramFailed) as raised:
        run_program("dev", {"metricsScrapeNamespace": value})
    assert raised.value.registered == []
    assert raised.value.errors == [f"invalid stack configuration (1 problem(s)):\n  - {expected}"]

"""tools/e2e/eventlog.py, the bench's per-resource breakdown, offline.

data/eventlog-handwritten-chain.jsonl is a HAND-WRITTEN, minimal event log in the shape of
`pulumi up --event-log` (apitype.EngineEvent: prelude, resourcePreEvent / resOutputsEvent per
step, summary), modelled on the old chain: web's Deployment started only once auth's Service
was done. data/eventlog-recorded-*.jsonl, where present, are recorded from real bench runs.
"""

import json
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools" / "e2e"))
import eventlog  # noqa: E402

DATA = Path(__file__).parent / "data"
CHAIN = DATA / "eventlog-handwritten-chain.jsonl"
P = "urn:pulumi:bench::griddb-todo::"
PROVIDER = P + "pulumi:providers:kubernetes::cluster"
NAMESPACE = P + "griddb-todo:index:AppNamespace$kubernetes:core/v1:Namespace::app-namespace"
AUTH_DEPLOYMENT = P + "griddb-todo:index:AuthService$kubernetes:apps/v1:Deployment::auth-deployment"
AUTH_SERVICE = P + "griddb-todo:index:AuthService$kubernetes:core/v1:Service::auth-service"
WEB_DEPLOYMENT = P + "griddb-todo:index:WebFrontend$kubernetes:apps/v1:Deployment::web-deployment"


def state(**dependencies):
    """A `pulumi stack export` with the given dependencies (names -> URNs above)."""
    urns = {"provider": PROVIDER, "namespace": NAMESPACE, "auth_deployment": AUTH_DEPLOYMENT,
            "auth_service": AUTH_SERVICE, "web_deployment": WEB_DEPLOYMENT}
    resources = [{"urn": PROVIDER}]
    for name, deps in dependencies.items():
        resources.append({"urn": urns[name], "dependencies": [urns[d] for d in deps],
                          "provider": f"{PROVIDER}::04da6b54-80e4-46f7-96ec-b56ff0331ba9"})
    return {"version": 3, "deployment": {"resources": resources}}


def test_spans_per_resource_from_the_whole_second_timestamps():
    spans = {s.name: s for s in eventlog.spans(eventlog.from_file(CHAIN))}
    assert list(spans) == ["cluster", "app-namespace", "auth-deployment", "auth-service", "web-deployment"]
    assert (spans["auth-deployment"].start, spans["auth-deployment"].end) == (4.0, 20.0)
    assert spans["web-deployment"].seconds == 9.0
    assert spans["web-deployment"].type == "kubernetes:apps/v1:Deployment"
    assert {s.op for s in spans.values()} == {"create"}


def test_a_step_that_never_finished_has_no_end_and_a_failed_one_ends():
    events = [eventlog.Stamped(1.0, {"resourcePreEvent": {"metadata": {"op": "update", "urn": AUTH_DEPLOYMENT}}}),
              eventlog.Stamped(1.5, {"resourcePreEvent": {"metadata": {"op": "create", "urn": WEB_DEPLOYMENT}}}),
              eventlog.Stamped(4.0, {"resOpFailedEvent": {"metadata": {"op": "create", "urn": WEB_DEPLOYMENT}}})]
    auth, web = eventlog.spans(events)
    assert (auth.op, auth.end) == ("update", None)
    assert (web.op, web.end, web.seconds) == ("create", 4.0, 2.5)


def test_critical_path_follows_the_chain_through_what_held_each_step_back():
    spans = eventlog.spans(eventlog.from_file(CHAIN))
    graph = eventlog.dependencies_from_state(state(
        namespace=[], auth_deployment=["namespace"], auth_service=["namespace", "auth_deployment"],
        web_deployment=["namespace", "auth_service"]))
    path = [s.name for s in eventlog.critical_path(spans, graph)]
    assert path == ["cluster", "app-namespace", "auth-deployment", "auth-service", "web-deployment"]


def test_critical_path_of_side_by_side_rollouts_is_the_longest_branch_only():
    at = {PROVIDER: (0.0, 1.0), NAMESPACE: (1.0, 1.4), AUTH_DEPLOYMENT: (1.5, 9.0),
          AUTH_SERVICE: (1.5, 9.2), WEB_DEPLOYMENT: (1.5, 12.0)}
    spans = [eventlog.Span(urn, "create", start, end) for urn, (start, end) in at.items()]
    graph = eventlog.dependencies_from_state(state(
        namespace=[], auth_deployment=["namespace"], auth_service=["namespace"], web_deployment=["namespace"]))
    assert [s.name for s in eventlog.critical_path(spans, graph)] == ["cluster", "app-namespace", "web-deployment"]


def test_components_and_the_stack_are_not_on_the_critical_path():
    stack = "urn:pulumi:bench::griddb-todo::pulumi:pulumi:Stack::griddb-todo-bench"
    events = [eventlog.Stamped(0.5, {"resourcePreEvent": {"metadata": {"op": "create", "urn": stack,
                                                                       "new": {"urn": stack}}}}),
              eventlog.Stamped(1.0, {"resourcePreEvent": {"metadata": {"op": "create", "urn": NAMESPACE,
                                                                       "new": {"custom": True}}}}),
              eventlog.Stamped(2.0, {"resOutputsEvent": {"metadata": {"op": "create", "urn": NAMESPACE}}}),
              eventlog.Stamped(2.5, {"resOutputsEvent": {"metadata": {"op": "create", "urn": stack}}})]
    spans = eventlog.spans(events)
    assert [(s.name, s.custom) for s in spans] == [("griddb-todo-bench", False), ("app-namespace", True)]
    assert [s.name for s in eventlog.critical_path(spans, {})] == ["app-namespace"]


def test_the_provider_reference_counts_as_a_dependency():
    graph = eventlog.dependencies_from_state(state(namespace=[]))
    assert graph[NAMESPACE] == [PROVIDER]


def test_phases_and_report_of_the_sample():
    events = eventlog.from_file(CHAIN)
    cut = eventlog.phases(events, exit_at=31.5)
    assert (cut.first_event, cut.first_resource, cut.last_resource, cut.summary) == (0.0, 2.0, 30.0, 31.0)
    text = eventlog.report("cold deploy", events, 31.5, {})
    assert "steps 28.0 s" in text and "auth-deployment" in text.splitlines()[3]  # the slowest first
    assert "critical path: web-deployment" in text  # no dependencies given: the last step alone


def test_tail_stamps_lines_as_they_appear_even_when_written_in_pieces(tmp_path):
    """The real reader, on a file written while it runs, as Pulumi writes the event log."""
    log = tmp_path / "events.jsonl"
    lines = CHAIN.read_text().splitlines()[:3]
    started = time.monotonic()

    def write():
        with log.open("w") as f:
            for line in lines:
                half = len(line) // 2
                f.write(line[:half]); f.flush()
                time.sleep(0.1)
                f.write(line[half:] + "\n"); f.flush()
                time.sleep(0.3)

    writer = threading.Thread(target=write)
    with eventlog.EventLogTail(log, started) as tail:
        writer.start()
        writer.join()
    stamps = [s.at for s in tail.events]
    assert [s.event["sequence"] for s in tail.events] == [0, 1, 2]
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    # 0.4 s between complete lines: sub-second resolution the events' own timestamps lack.
    assert all(0.3 <= g <= 0.6 for g in gaps), stamps


@pytest.mark.parametrize("path", sorted(DATA.glob("eventlog-recorded-*.jsonl")), ids=lambda p: p.name)
def test_recorded_logs_give_a_span_for_every_step(path):
    events = eventlog.from_file(path)
    spans = eventlog.spans(events)
    assert spans and all(s.end is not None for s in spans)
    assert any("summaryEvent" in s.event for s in events)
    json.dumps([s.__dict__ for s in spans])


def test_the_recorded_no_change_preview_changes_nothing_and_the_web_change_updates_two():
    def ops(name):
        return {s.name: s.op for s in eventlog.spans(eventlog.from_file(DATA / name)) if s.custom}

    no_change = ops("eventlog-recorded-no-change-check.jsonl")
    assert set(no_change.values()) == {"same"} and {"web-deployment", "web-image", "cluster"} <= set(no_change)
    changed = {n for n, op in ops("eventlog-recorded-web-change-rolled-out.jsonl").items() if op != "same"}
    assert changed == {"web-image", "web-deployment"}

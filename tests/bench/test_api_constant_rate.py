"""tools/bench/api's constant-rate mode: the latency it reports counts from each request's due
time, so a stall that delayed sending counts for every request it held back (coordinated
omission), on vegeta's own result format (`vegeta encode --to json`)."""

from datetime import datetime, timedelta, timezone

import pytest


START = datetime(2026, 12, 2, 6, 0, 0, tzinfo=timezone.utc)


def result(seq: int, sent_after: float, latency: float, code: int = 200) -> dict:
    """One line of `vegeta encode --to json`: RFC 3339 with nanoseconds, latency in ns."""
    sent = START + timedelta(seconds=sent_after)
    return {"seq": seq, "code": code, "latency": int(latency * 1e9), "error": "" if code else "connection refused",
            "timestamp": sent.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"}


def test_nanosecond_timestamps_parse(bench_api):
    assert bench_api._seconds("2026-12-02T06:00:00.250000123Z") == pytest.approx(START.timestamp() + 0.250000123)
    assert bench_api._seconds("2026-12-02T07:00:00.5+01:00") == pytest.approx(START.timestamp() + 0.5)


def test_on_schedule_the_corrected_and_plain_latencies_agree(bench_api):
    rate = 100
    results = [result(n, n / rate, 0.004 + (0.010 if n % 100 == 0 else 0)) for n in range(1000)]
    summary = bench_api.corrected_latencies(results, rate, 200)
    assert summary["p50_ms"] == pytest.approx(4.0, abs=0.01)
    assert summary["p99_ms"] == pytest.approx(4.0, abs=0.01)  # 10 slow ones of 1000: the 99th is not one
    assert summary["p999_ms"] == pytest.approx(14.0, abs=0.01)
    assert summary["achieved_rps"] == pytest.approx(100.0, abs=0.1)
    assert summary["max_send_lag_ms"] < 0.01


def test_a_stall_counts_for_every_request_it_held_back(bench_api):
    """Request 500 takes 0.5 s; a generator that waited for it sent 501-549 late (on its return).
    Each of those users waited from when they were due: up to half a second."""
    rate = 100
    results = []
    for n in range(1000):
        if n == 500:
            results.append(result(n, 5.0, 0.5))
        elif 500 < n < 550:
            results.append(result(n, 5.5 + (n - 501) * 0.001, 0.005))
        else:
            results.append(result(n, n / rate, 0.005))
    summary = bench_api.corrected_latencies(results, rate, 200)
    assert summary["uncorrected_p99_ms"] == pytest.approx(5.0, abs=0.01)  # what a naive tool shows
    assert summary["p99_ms"] > 50  # 5 % of the requests waited behind the stall
    assert summary["max_ms"] == pytest.approx(500.0, abs=1)
    assert summary["max_send_lag_ms"] == pytest.approx(490.0, abs=0.5)  # 501 was due at 5.01 s, sent at 5.5 s


def test_a_late_first_request_does_not_shift_the_schedule(bench_api):
    """The generator sent request 0 late (30 ms) but the rest on time: the schedule is the one
    the later requests show, and no latency comes out below the server's 4 ms."""
    rate = 200
    results = [result(n, n / rate + (0.030 if n == 0 else 0), 0.004) for n in range(400)]
    summary = bench_api.corrected_latencies(results, rate, 200)
    assert summary["p50_ms"] == pytest.approx(4.0, abs=0.01)
    assert summary["max_ms"] == pytest.approx(34.0, abs=0.01)  # request 0 waited 30 ms to be sent
    assert summary["max_send_lag_ms"] == pytest.approx(30.0, abs=0.01)


def test_failed_requests_are_counted_not_timed(bench_api):
    results = [result(n, n / 50, 0.002, 200 if n % 10 else 503) for n in range(100)]
    results.append(result(100, 2.0, 0.0, 0))  # no response at all
    summary = bench_api.corrected_latencies(results, 50, 200)
    assert summary["ok"] == 90 and summary["errors"] == {"503": 10, "connection refused": 1}

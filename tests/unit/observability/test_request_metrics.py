"""observability/request_metrics.py: one invocation's requests to a destination as CloudWatch metrics (EMF)."""

from __future__ import annotations

import json
import sys

import pytest

from audience_sync.observability.request_metrics import RequestStats, metric_names

# A destination's request metrics are named after it: LinkedIn's are the ones its alarms and dashboard watch.
REQUESTS, THROTTLED, FAILED, LATENCY = metric_names("LinkedIn")


def blobs(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_counts_throttles_failures_and_every_latency(capsys: pytest.CaptureFixture[str]) -> None:
    stats = RequestStats("LinkedIn")
    for status, latency in [(200, 120.0), (201, 80.04), (429, 15.0), (503, 30_000.0), (0, 3050.0), (400, 9.0)]:
        stats.record(status, latency)
    stats.flush()
    (blob,) = blobs(capsys.readouterr().out)
    directive = blob["_aws"]["CloudWatchMetrics"][0]  # type: ignore[index]
    assert directive["Namespace"] == "AudienceSync"
    assert directive["Dimensions"] == [["service"]]
    assert blob[REQUESTS] == [6.0]
    assert blob[THROTTLED] == [1.0]
    assert blob[FAILED] == [3.0]  # 503, a timeout (status 0) and a 400; 2xx and 429 are not failures
    assert blob[LATENCY] == [120.0, 80.0, 15.0, 30_000.0, 3050.0, 9.0]
    units = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
    assert units[LATENCY] == "Milliseconds" and units[REQUESTS] == "Count"


def test_flush_empties_and_publishes_nothing_without_requests(capsys: pytest.CaptureFixture[str]) -> None:
    stats = RequestStats("LinkedIn")
    stats.record(200, 1.0)
    stats.flush()
    capsys.readouterr()
    stats.flush()
    assert capsys.readouterr().out == ""
    assert stats.requests == 0 and stats.latencies_ms == []


def test_zero_throttles_are_published_so_the_alarm_sees_data(capsys: pytest.CaptureFixture[str]) -> None:
    stats = RequestStats("LinkedIn")
    stats.record(201, 5.0)
    stats.flush()
    (blob,) = blobs(capsys.readouterr().out)
    assert blob[THROTTLED] == [0.0] and blob[FAILED] == [0.0]


def test_more_than_100_latencies_are_all_published(capsys: pytest.CaptureFixture[str]) -> None:
    """EMF allows 100 values per metric in one blob; the rest must not be dropped."""
    stats = RequestStats("LinkedIn")
    for i in range(250):
        stats.record(200, float(i))
    stats.flush()
    published = [v for blob in blobs(capsys.readouterr().out) for v in blob.get(LATENCY, [])]  # type: ignore[attr-defined]
    assert sorted(published) == [float(i) for i in range(250)]


def test_each_blob_is_one_write_so_other_threads_cannot_split_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Powertools' print writes a blob and its newline separately, and a log line from another thread can land
    between them (CloudWatch then parses neither). Every write here must be a whole line."""
    writes: list[str] = []

    class Recorder:
        def write(self, text: str) -> int:
            writes.append(text)
            return len(text)

    monkeypatch.setattr(sys, "stdout", Recorder())
    stats = RequestStats("LinkedIn")
    for i in range(150):
        stats.record(200, float(i))
    stats.flush()
    assert len(writes) == 2  # 150 latencies: two blobs
    for text in writes:
        assert text.endswith("\n") and text.count("\n") == 1
        json.loads(text)


def test_metric_names_carry_the_destination() -> None:
    assert (REQUESTS, THROTTLED, FAILED, LATENCY) == (
        "LinkedInRequests",
        "LinkedInThrottled",
        "LinkedInFailed",
        "LinkedInLatency",
    )
    assert metric_names("Webhook")[0] == "WebhookRequests"

"""MetricsSnapshotFunction on the template's tables (moto): the Pending and LinkedInConnectionInvalid gauges."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from audience_sync.adapters.aws import clients as aws
from audience_sync.adapters.aws.connections_table import connection_key
from audience_sync.adapters.aws.metrics_table import counters_update
from audience_sync.core.metrics import StepDelta
from tests.stack_support import StackFixture

EVENT = json.loads((Path(__file__).parents[3] / "events" / "metrics_snapshot_schedule.json").read_text())


def _count(step_id: str, **counts: int) -> None:
    delta = StepDelta()
    for counter, n in counts.items():
        delta.add(counter, n)
    aws.table(os.environ["METRICS_TABLE"]).update_item(**counters_update(step_id, delta, 1))


def _gauges(out: str) -> dict[tuple[str, str | None], float]:
    blobs = [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]
    return {
        (name, b.get("step")): b[name][0]
        for b in blobs
        for name in ("Pending", "LinkedInConnectionInvalid")
        if name in b
    }


@pytest.fixture
def emf_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")


def test_pending_per_step_and_no_connection_gauge_before_a_connection(
    stack: StackFixture, emf_on: None, capsys: pytest.CaptureFixture[str]
) -> None:
    _count("welcome", entered=10, synced=6, not_synced=1)
    _count("winback", entered=3, synced=3)
    capsys.readouterr()
    answer = stack.invoke("MetricsSnapshotFunction", EVENT)
    assert answer == {"steps": 2, "pending": 3, "connection_invalid": None}
    assert _gauges(capsys.readouterr().out) == {("Pending", "welcome"): 3.0, ("Pending", "winback"): 0.0}


@pytest.mark.parametrize(("status", "gauge"), [("connected", 0.0), ("invalid_token", 1.0)])
def test_connection_gauge_follows_the_stored_status(
    stack: StackFixture, emf_on: None, capsys: pytest.CaptureFixture[str], status: str, gauge: float
) -> None:
    table: Any = aws.table(os.environ["CONNECTIONS_TABLE"])
    table.put_item(Item={"pk": connection_key("linkedin"), "status": status, "access_token": "encrypted-blob"})
    capsys.readouterr()
    stack.invoke("MetricsSnapshotFunction", EVENT)
    out = capsys.readouterr().out
    assert _gauges(out) == {("LinkedInConnectionInvalid", None): gauge}
    assert "encrypted-blob" not in out

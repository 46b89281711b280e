"""metrics_store.emit_emf: one CloudWatch EMF blob per step, counts plus pending as a gauge."""

from __future__ import annotations

import json

import pytest

from audience_sync.metrics import StepDelta
from audience_sync.metrics_store import emit_emf


def test_one_blob_per_step_with_the_increments_and_pending(capsys: pytest.CaptureFixture[str]) -> None:
    delta = StepDelta()
    delta.add("synced", 7)
    delta.add("errored", 2, reason="linkedin_400_invalid_element")
    emit_emf("welcome", delta, {"entered": 20, "synced": 12, "not_synced": 1, "errored": 2})

    blob = json.loads(capsys.readouterr().out.strip())
    directive = blob["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "AudienceSync"
    assert directive["Dimensions"] == [["step", "service"]]
    assert blob["step"] == "welcome"
    assert {m["Name"] for m in directive["Metrics"]} == {"Synced", "Errored", "Pending"}
    assert blob["Synced"] == [7.0] and blob["Errored"] == [2.0]
    assert blob["Pending"] == [20 - 12 - 1 - 2]
    assert "linkedin_400" not in json.dumps(directive)  # reasons are not dimensions (cardinality, cost)

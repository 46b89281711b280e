"""observability/step_metrics.py: one CloudWatch EMF blob per step with its counts."""

from __future__ import annotations

import json

import pytest

from audience_sync.core.metrics import StepDelta
from audience_sync.observability.step_metrics import publish_counts


def test_one_blob_per_step_with_the_increments(capsys: pytest.CaptureFixture[str]) -> None:
    delta = StepDelta()
    delta.add("synced", 7)
    delta.add("errored", 2, reason="linkedin_400_invalid_element")
    delta.add("entered", 9)
    publish_counts("welcome", delta)

    per_step, service_wide = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    blob = per_step
    directive = blob["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "AudienceSync"
    assert directive["Dimensions"] == [["step", "service"]]
    assert blob["step"] == "welcome"
    assert {m["Name"] for m in directive["Metrics"]} == {"Synced", "Errored", "Entered"}
    assert blob["Synced"] == [7.0] and blob["Errored"] == [2.0] and blob["Entered"] == [9.0]
    assert "linkedin_400" not in json.dumps(directive)  # reasons are not dimensions (cardinality, cost)

    # errored users once more without the step: what the ErroredUsers alarm watches, whatever the steps
    assert service_wide["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]
    assert service_wide["Errored"] == [2.0] and "step" not in service_wide


def test_no_service_wide_blob_without_errored_users(capsys: pytest.CaptureFixture[str]) -> None:
    delta = StepDelta()
    delta.add("synced", 3)
    publish_counts("welcome", delta)
    assert len(capsys.readouterr().out.splitlines()) == 1

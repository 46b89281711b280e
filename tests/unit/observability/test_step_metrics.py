"""observability/step_metrics.py: one CloudWatch EMF blob per step with its counts."""

from __future__ import annotations

import json

import pytest

from audience_sync.core.metrics import COUNTERS, StepDelta, campaign_counters_id
from audience_sync.observability.step_metrics import CAMPAIGN_METRIC_NAMES, METRIC_NAMES, publish_counts


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


def test_a_campaigns_counts_are_its_own_metrics_with_a_campaign_dimension(capsys: pytest.CaptureFixture[str]) -> None:
    delta = StepDelta()
    for counter, n in (("triggered", 5), ("control", 1), ("aborted", 1), ("sent", 3), ("synced", 2)):
        delta.add(counter, n)
    delta.add("errored", 1, reason="webhook_404")
    publish_counts(campaign_counters_id("lytics"), delta)

    per_campaign, service_wide = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    directive = per_campaign["_aws"]["CloudWatchMetrics"][0]
    assert directive["Dimensions"] == [["campaign", "service"]] and per_campaign["campaign"] == "lytics"
    published = {m["Name"]: per_campaign[m["Name"]] for m in directive["Metrics"]}
    assert published == {
        "CampaignTriggered": [5.0],
        "CampaignControl": [1.0],
        "CampaignAborted": [1.0],
        "CampaignSent": [3.0],
        "CampaignDelivered": [2.0],
        "CampaignFailed": [1.0],
    }
    # failed sends once more without the campaign (an alarm's metric); the steps' Errored is not touched
    assert service_wide["CampaignFailed"] == [1.0] and "Errored" not in service_wide


def test_every_counter_has_a_metric_name() -> None:
    """A counter the batcher records but no metric names would fail the settlement after the ledger's write."""
    assert set(COUNTERS) <= set(METRIC_NAMES) | set(CAMPAIGN_METRIC_NAMES)

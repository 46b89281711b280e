"""A step's counter increments as CloudWatch metrics (EMF), one blob per step and settlement; a campaign's under
names of their own (CampaignDelivered, ...) with a `campaign` dimension.

The pending gauge comes from a schedule (gauges.py): the counters are written in transactions, which cannot return
them. Errored users are also published without the step dimension: an alarm needs one metric whatever the steps;
a campaign's failed sends likewise (CampaignFailed).
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from audience_sync.core.metrics import CAMPAIGN_PREFIX, StepDelta, is_step
from audience_sync.observability import emf

METRIC_NAMES = {
    "entered": "Entered",
    "filtered": "Filtered",
    "proceeded": "Proceeded",
    "exited": "Exited",
    "synced": "Synced",
    "not_synced": "NotSynced",
    "errored": "Errored",
    "left": "Left",
    "removed": "Removed",
}
# A campaign's counters (campaigns/delivery.py): what the pipeline calls synced is a delivered webhook.
CAMPAIGN_METRIC_NAMES = {
    "triggered": "CampaignTriggered",
    "control": "CampaignControl",
    "aborted": "CampaignAborted",
    "sent": "CampaignSent",
    "synced": "CampaignDelivered",
    "errored": "CampaignFailed",
    "scheduled": "CampaignScheduled",
    "released": "CampaignReleased",
    "exception_cancelled": "CampaignExceptionCancelled",
}


def publish_counts(step_id: str, delta: StepDelta) -> None:
    """`step_id`: the counters' id, a step's or a campaign's (core/metrics.py campaign_counters_id)."""
    if not is_step(step_id):
        _publish_campaign_counts(step_id.removeprefix(CAMPAIGN_PREFIX), delta)
        return
    increments = {METRIC_NAMES[counter]: (MetricUnit.Count, [n]) for counter, n in delta.counts.items() if n}
    emf.publish(increments, {"step": step_id})
    if delta.counts["errored"]:
        emf.count(METRIC_NAMES["errored"], delta.counts["errored"])


def _publish_campaign_counts(campaign_id: str, delta: StepDelta) -> None:
    names = CAMPAIGN_METRIC_NAMES
    increments = {
        names[counter]: (MetricUnit.Count, [n]) for counter, n in delta.counts.items() if n and counter in names
    }
    if increments:
        emf.publish(increments, {"campaign": campaign_id})
    if delta.counts["errored"]:
        emf.count(names["errored"], delta.counts["errored"])

"""A step's counter increments as CloudWatch metrics (EMF), one blob per step and settlement.

The pending gauge comes from a schedule (gauges.py): the counters are written in transactions, which cannot return
them. Errored users are also published without the step dimension: an alarm needs one metric whatever the steps.
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from audience_sync.core.metrics import StepDelta
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


def publish_counts(step_id: str, delta: StepDelta) -> None:
    increments = {METRIC_NAMES[counter]: (MetricUnit.Count, [n]) for counter, n in delta.counts.items() if n}
    emf.publish(increments, {"step": step_id})
    if delta.counts["errored"]:
        emf.count(METRIC_NAMES["errored"], delta.counts["errored"])

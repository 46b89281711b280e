"""Step counters in DynamoDB (one atomic UpdateItem per step per request/batch) and as EMF metrics."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from audience_sync.adapters.aws import clients as aws
from audience_sync.adapters.aws import emf
from audience_sync.core.metrics import StepDelta
from audience_sync.settings import Settings

_EMF_NAMES = {
    "entered": "Entered",
    "filtered": "Filtered",
    "proceeded": "Proceeded",
    "exited": "Exited",
    "synced": "Synced",
    "not_synced": "NotSynced",
    "errored": "Errored",
}


class MetricsStore:
    def __init__(self, settings: Settings):
        self.table = aws.table(settings.metrics_table)

    def get(self, step_id: str) -> dict[str, Any]:
        item: dict[str, Any] = self.table.get_item(Key={"step_id": step_id}).get("Item") or {"step_id": step_id}
        return item


def counters_update(step_id: str, delta: StepDelta, now: int) -> dict[str, Any]:
    """UpdateItem arguments adding `delta` to a step's counters (also used inside the ledger's transaction)."""
    increments = delta.attributes()
    names = {f"#c{i}": name for i, name in enumerate(increments)}
    values: dict[str, Any] = {f":c{i}": n for i, n in enumerate(increments.values())}
    values[":now"] = now
    return {
        "Key": {"step_id": step_id},
        "UpdateExpression": "ADD "
        + ", ".join(f"#c{i} :c{i}" for i in range(len(increments)))
        + " SET updated_at = :now",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


def emit_emf(step_id: str, delta: StepDelta) -> None:
    """One EMF blob per step with the increments. The pending gauge comes from a schedule (snapshot.py): the
    counters are written in transactions, which cannot return them.

    Errored users are also published without the step dimension: an alarm needs one metric whatever the steps."""
    increments = {_EMF_NAMES[counter]: (MetricUnit.Count, [n]) for counter, n in delta.counts.items() if n}
    emf.publish(increments, {"step": step_id})
    if delta.counts["errored"]:
        emf.count(_EMF_NAMES["errored"], delta.counts["errored"])

"""Step counters in DynamoDB (one atomic UpdateItem per step per request/batch) and as EMF metrics."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from audience_sync import aws
from audience_sync.clock import now_ms
from audience_sync.metrics import StepDelta, public_metrics
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

    def apply(self, step_id: str, delta: StepDelta) -> dict[str, Any]:
        """Add `delta` atomically and return the counters after it. No-op for an empty delta."""
        if not delta.attributes():
            return self.get(step_id)
        result = self.table.update_item(**counters_update(step_id, delta, now_ms()), ReturnValues="ALL_NEW")
        item: dict[str, Any] = result["Attributes"]
        emit_emf(step_id, delta, item)
        return item

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


def emit_emf(step_id: str, delta: StepDelta, counters_after: dict[str, Any] | None = None) -> None:
    """One EMF blob per step: the increments as counts, and pending as a gauge of the stored counters when
    known (a transaction cannot return them; the dashboard derives pending from the counts too)."""
    metrics = EphemeralMetrics()
    metrics.add_dimension(name="step", value=step_id)
    for counter, n in delta.counts.items():
        if n:
            metrics.add_metric(name=_EMF_NAMES[counter], unit=MetricUnit.Count, value=n)
    if counters_after is not None:
        metrics.add_metric(name="Pending", unit=MetricUnit.Count, value=public_metrics(counters_after)["pending"])
    metrics.flush_metrics()

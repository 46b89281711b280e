"""Gauges CloudWatch cannot derive from the counters' increments: each step's pending users and whether the
LinkedIn connection is usable. Published every few minutes by a schedule (functions/metrics_snapshot).

`pending` is entered - synced - not_synced - errored over the step's whole life, so it cannot be summed from
per-period increments; the metrics table holds the totals. Each gauge is one EMF blob per step: a dashboard
graphs them per step with a SEARCH expression, and an alarm watches the service-wide ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from audience_sync.adapters.aws import clients as aws
from audience_sync.adapters.aws import emf
from audience_sync.connections.service import CONNECTION_PK
from audience_sync.core.metrics import public_metrics
from audience_sync.settings import Settings

PENDING = "Pending"
CONNECTION_INVALID = "LinkedInConnectionInvalid"


@dataclass(frozen=True, slots=True)
class StepGauges:
    step_id: str
    metrics: dict[str, int]

    @property
    def pending(self) -> int:
        return self.metrics["pending"]


def step_gauges(items: Iterable[dict[str, Any]]) -> list[StepGauges]:
    """One entry per step that has counters (the metrics table's items), in step order."""
    gauges = [StepGauges(str(item["step_id"]), public_metrics(item)) for item in items if item.get("step_id")]
    return sorted(gauges, key=lambda g: g.step_id)


def connection_invalid(item: dict[str, Any] | None) -> int | None:
    """1 while the stored connection cannot be used (invalid_token), 0 when it can; None without a connection
    (nothing to alarm on before the first connect or after a deliberate disconnect)."""
    if not item:
        return None
    return 1 if item.get("status") == "invalid_token" else 0


def publish(steps: list[StepGauges], invalid: int | None) -> None:
    for step in steps:
        emf.count(PENDING, step.pending, {"step": step.step_id})
    if invalid is not None:
        emf.count(CONNECTION_INVALID, invalid)


class SnapshotSource:
    """Reads what the gauges are computed from: every metrics item and the connection's status (not its tokens)."""

    def __init__(self, settings: Settings):
        self.metrics_table = aws.table(settings.metrics_table)
        self.connections_table = aws.table(settings.connections_table)

    def metric_items(self) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {}
        while True:
            page = self.metrics_table.scan(**kwargs)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def connection(self) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.connections_table.get_item(
            Key={"pk": CONNECTION_PK}, ProjectionExpression="#s", ExpressionAttributeNames={"#s": "status"}
        ).get("Item")
        return item

"""Gauges CloudWatch cannot derive from the counters' increments: each step's pending users and whether the
LinkedIn connection is usable. Published every few minutes by a schedule (functions/metrics_snapshot).

`pending` is entered - synced - not_synced - errored over the step's whole life, so it cannot be summed from
per-period increments; the metrics table holds the totals. Each gauge is one EMF blob per step: a dashboard
graphs them per step with a SEARCH expression, and an alarm watches the service-wide ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from audience_sync.core.metrics import is_step, public_metrics
from audience_sync.observability import emf

PENDING = "Pending"
CONNECTION_INVALID = "LinkedInConnectionInvalid"


class GaugeSource(Protocol):
    """What the gauges are computed from: every step's counters and the connection's status (never its tokens)."""

    def metric_items(self) -> Iterable[dict[str, Any]]: ...

    def connection_status(self) -> str | None:
        """None without a connection."""
        ...


@dataclass(frozen=True, slots=True)
class StepGauges:
    step_id: str
    metrics: dict[str, int]

    @property
    def pending(self) -> int:
        return self.metrics["pending"]


def step_gauges(items: Iterable[dict[str, Any]]) -> list[StepGauges]:
    """One entry per step that has counters (the metrics table's items), in step order."""
    gauges = [
        StepGauges(str(item["step_id"]), public_metrics(item))
        for item in items
        if item.get("step_id") and is_step(str(item["step_id"]))
    ]
    return sorted(gauges, key=lambda g: g.step_id)


def connection_invalid(status: str | None) -> int | None:
    """1 while the stored connection cannot be used (invalid_token), 0 when it can; None without a connection
    (nothing to alarm on before the first connect or after a deliberate disconnect)."""
    if status is None:
        return None
    return 1 if status == "invalid_token" else 0


def publish(steps: list[StepGauges], invalid: int | None) -> None:
    for step in steps:
        emf.count(PENDING, step.pending, {"step": step.step_id})
    if invalid is not None:
        emf.count(CONNECTION_INVALID, invalid)


def snapshot(source: GaugeSource) -> dict[str, Any]:
    """Read, compute and publish every gauge; what was published."""
    steps = step_gauges(source.metric_items())
    invalid = connection_invalid(source.connection_status())
    publish(steps, invalid)
    return {"steps": len(steps), "pending": sum(s.pending for s in steps), "connection_invalid": invalid}

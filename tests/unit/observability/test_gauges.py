"""snapshot.py: the gauges CloudWatch cannot derive from the counters' increments. Pure."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from audience_sync.observability.gauges import connection_invalid, step_gauges


def test_pending_is_what_entered_users_have_not_reached_yet_per_step_in_order() -> None:
    items: list[dict[str, Any]] = [
        {"step_id": "winback", "entered": Decimal(5), "synced": Decimal(5)},
        {"step_id": "welcome", "entered": Decimal(10), "synced": Decimal(6), "not_synced": 1, "errored": 1},
        {"step_id": "fresh"},  # created, nothing counted yet
    ]
    gauges = step_gauges(items)
    assert [(g.step_id, g.pending) for g in gauges] == [("fresh", 0), ("welcome", 2), ("winback", 0)]
    assert gauges[1].metrics["synced"] == 6


def test_the_connection_gauge_is_one_only_while_the_token_is_invalid() -> None:
    assert connection_invalid("invalid_token") == 1
    assert connection_invalid("connected") == 0
    assert connection_invalid("disconnected") == 0
    assert connection_invalid(None) is None  # never connected: nothing to alarm on

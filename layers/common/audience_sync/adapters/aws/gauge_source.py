"""What the gauges read (observability/gauges.py): the metrics table and the connection's status."""

from __future__ import annotations

from typing import Any

from audience_sync.adapters.aws.connections_table import DynamoConnectionStore
from audience_sync.adapters.aws.metrics_table import MetricsStore


class DynamoGaugeSource:
    def __init__(self, metrics: MetricsStore, connection: DynamoConnectionStore):
        self.metrics = metrics
        self.connection = connection

    def metric_items(self) -> list[dict[str, Any]]:
        return self.metrics.all()

    def connection_status(self) -> str | None:
        return self.connection.status()

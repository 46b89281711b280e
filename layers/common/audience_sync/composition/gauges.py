"""What the metrics snapshot's gauges read: the metrics table and the connection's status (no destination)."""

from __future__ import annotations

from functools import cached_property

from audience_sync.adapters.aws.connections_table import DynamoConnectionStore
from audience_sync.adapters.aws.gauge_source import DynamoGaugeSource
from audience_sync.composition.core import Core
from audience_sync.destinations.registry import DEFAULT_DESTINATION


class Gauges(Core):
    @cached_property
    def gauges(self) -> DynamoGaugeSource:
        # The connection's status only: no destination (nor its HTTP client) is loaded for it.
        connection = DynamoConnectionStore(self.resources.require("connections_table"), DEFAULT_DESTINATION)
        return DynamoGaugeSource(self.metrics, connection)

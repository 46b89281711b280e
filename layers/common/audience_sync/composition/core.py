"""What every capability builds on: settings, the clock, the steps, the metrics and the integration notifications."""

from __future__ import annotations

from functools import cached_property
from typing import Self

from audience_sync.adapters.aws.metrics_table import CounterTables, MetricsStore
from audience_sync.adapters.aws.sns import SnsNotifier
from audience_sync.adapters.aws.steps_table import DynamoStepStore
from audience_sync.core.clock import Clock, SystemClock
from audience_sync.observability.notifications import NoNotifier, Notifier
from audience_sync.settings import Settings


class Core:
    def __init__(self, settings: Settings, clock: Clock | None = None):
        self.settings = settings
        self.resources = settings.resources
        self.clock = clock or SystemClock()

    def warm(self, services: tuple[str, ...]) -> Self:
        """Build the named services now, at a function's init (decision 0026; with SnapStart, before the snapshot):
        their clients are created, nothing is sent."""
        for name in services:
            getattr(self, name)
        return self

    @cached_property
    def steps(self) -> DynamoStepStore:
        return DynamoStepStore(self.resources.require("steps_table"))

    @cached_property
    def metrics(self) -> MetricsStore:
        return MetricsStore(self.resources.require("metrics_table"), self.resources.metrics_history_table)

    @cached_property
    def counter_tables(self) -> CounterTables:
        return CounterTables(self.resources.require("metrics_table"), self.resources.require("metrics_history_table"))

    @cached_property
    def notifier(self) -> Notifier:
        """Integration errors to the topic; nowhere when the function has none (the CLI)."""
        if not self.resources.notifications_topic_arn:
            return NoNotifier()
        return SnsNotifier(self.resources.notifications_topic_arn)

"""Delivery to the destinations: the sender under the shared rate limit, the batcher, the ledger, and the retry."""

from __future__ import annotations

from functools import cached_property

from audience_sync.adapters.aws.ledger_table import DynamoLedger
from audience_sync.adapters.aws.queues import SqsQueueReader
from audience_sync.adapters.aws.rate_bucket import DynamoRateBuckets
from audience_sync.adapters.aws.retry_store import S3RetryStore
from audience_sync.adapters.aws.segment_members import DynamoMoveOrders
from audience_sync.composition.campaign_signals import CampaignSignals
from audience_sync.composition.destinations import Destinations
from audience_sync.pipeline.batcher import Batcher
from audience_sync.pipeline.ledger import Ledger
from audience_sync.pipeline.retry_attempt import RetryAttempt
from audience_sync.pipeline.retry_batch import RetryStore
from audience_sync.pipeline.sender import Sender


class Delivery(Destinations, CampaignSignals):
    @cached_property
    def sender(self) -> Sender:
        return Sender(
            destinations=self.destinations,
            sessions={self.linkedin.name: self.session()},
            buckets=DynamoRateBuckets(
                self.resources.require("rate_limit_table"), self.clock, self.settings.tuning.rate_headroom_percent
            ),
            steps=self.steps,
            clock=self.clock,
            notifier=self.notifier,
        )

    @cached_property
    def ledger(self) -> Ledger:
        return DynamoLedger(self.resources.require("ledger_table"), self.counter_tables, self.clock)

    @cached_property
    def retry_store(self) -> RetryStore:
        return S3RetryStore(
            self.resources.require("retry_bucket"), lambda: self.resources.require("retry_state_machine_arn")
        )

    @cached_property
    def batcher(self) -> Batcher:
        return Batcher(
            tuning=self.settings.tuning,
            sender=self.sender,
            ledger=self.ledger,
            retries=self.retry_store,
            clock=self.clock,
            queue=SqsQueueReader(self.resources.require("sync_queue_url")),
            gate=self.campaign_gate,
            observer=self.webhook_interactions,
        )

    @cached_property
    def retry_attempt(self) -> RetryAttempt:
        return RetryAttempt(
            sender=self.sender,
            ledger=self.ledger,
            retries=self.retry_store,
            notifier=self.notifier,
            clock=self.clock,
            moves=DynamoMoveOrders(self.resources.require("segment_members_table"), self.clock),
            gate=self.campaign_gate,
            observer=self.webhook_interactions,
        )

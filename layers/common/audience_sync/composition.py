"""The collaborators the batcher and the retry function share, built from Settings (one place, not two)."""

from __future__ import annotations

from audience_sync.adapters.aws import secrets as secrets_store
from audience_sync.adapters.aws.rate_bucket import DynamoTokenBucket, default_policy
from audience_sync.connections.service import CONNECTION_ID, ConnectionService
from audience_sync.core.clock import Clock
from audience_sync.observability.notifications import Notifier
from audience_sync.pipeline.ledger import Ledger
from audience_sync.pipeline.retry_batch import RetryStore
from audience_sync.pipeline.sender import Sender
from audience_sync.settings import Settings
from audience_sync.steps.repository import StepRepository


def sender(config: Settings, clock: Clock) -> Sender:
    notifier = Notifier(config.notifications_topic_arn)
    return Sender(
        connections=ConnectionService(config, secrets_store.linkedin_client_secret(config), notifier=notifier),
        steps=StepRepository(config),
        bucket=DynamoTokenBucket(
            config.rate_limit_table,
            f"linkedin#{CONNECTION_ID}",
            default_policy(config.requests_per_second, config.rate_headroom_percent),
            clock,
        ),
        clock=clock,
        notifier=notifier,
    )


def ledger(config: Settings, clock: Clock) -> Ledger:
    return Ledger(config.ledger_table, config.metrics_table, clock)


def retry_store(config: Settings) -> RetryStore:
    return RetryStore(config.retry_bucket, config.retry_state_machine_arn)

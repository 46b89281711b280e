"""Scheduled: read every launched step's LinkedIn audience into the audience cache (AudienceViewsTable). An
EXPIRED, FAILED or ERROR audience becomes the step's error; a targetable one clears it."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from audience_sync.adapters.aws import secrets as secrets_store
from audience_sync.adapters.aws.audience_cache import AudienceCache
from audience_sync.connections.service import ConnectionService
from audience_sync.core.clock import SystemClock
from audience_sync.insights.refresh import AudienceRefresher
from audience_sync.observability.notifications import Notifier
from audience_sync.settings import settings
from audience_sync.steps.repository import StepRepository

logger = Logger()
clock = SystemClock()
# Stop reading this long before the invocation's deadline; the steps left are the oldest at the next run.
DEADLINE_MARGIN_MS = 10_000


@cache
def refresher() -> AudienceRefresher:
    config = settings()
    notifier = Notifier(config.notifications_topic_arn)
    return AudienceRefresher(
        steps=StepRepository(config),
        connections=ConnectionService(config, secrets_store.linkedin_client_secret(config), notifier=notifier),
        cache=AudienceCache(config.audience_views_table),
        notifier=notifier,
        clock=clock,
        max_age_seconds=config.audience_max_age_seconds,
    )


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deadline_ms = clock.now_ms() + context.get_remaining_time_in_millis() - DEADLINE_MARGIN_MS
    report = refresher().refresh_all(deadline_ms)
    logger.info("audience refresh done", extra=report)
    return report

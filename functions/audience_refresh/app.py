"""Scheduled: read every launched step's audience into the audience cache (AudienceViewsTable). An EXPIRED, FAILED
or ERROR audience becomes the step's error; a targetable one clears it (insights/refresh.py)."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from audience_sync.composition.insights import Insights
from audience_sync.settings import Settings

logger = Logger()
# Stop reading this long before the invocation's deadline; the steps left are the oldest at the next run.
DEADLINE_MARGIN_MS = 10_000


@cache
def services() -> Insights:
    return Insights(Settings.from_env())


# Built at init, not at the first event: a cold start pays for its clients once, in Lambda's init (decision 0026).
services().warm(("audience",))


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    container = services()
    deadline_ms = container.clock.now_ms() + context.get_remaining_time_in_millis() - DEADLINE_MARGIN_MS
    report = container.audience.refresh_all(deadline_ms)
    logger.info("audience refresh done", extra=report)
    return report

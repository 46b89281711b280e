"""Scheduled: publish the gauges CloudWatch cannot derive (pending users per step, connection usable or not)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from audience_sync.observability.gauges import SnapshotSource, connection_invalid, publish, step_gauges
from audience_sync.settings import settings

logger = Logger()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    source = SnapshotSource(settings())
    steps = step_gauges(source.metric_items())
    invalid = connection_invalid(source.connection())
    publish(steps, invalid)
    return {"steps": len(steps), "pending": sum(s.pending for s in steps), "connection_invalid": invalid}

"""Scheduled: publish the gauges CloudWatch cannot derive (pending users per step, connection usable or not)."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from audience_sync.composition.gauges import Gauges
from audience_sync.observability import gauges
from audience_sync.settings import Settings

logger = Logger()


@cache
def services() -> Gauges:
    return Gauges(Settings.from_env())


# Built at init, not at the first event: a cold start pays for its clients once, in Lambda's init (decision 0026).
services().warm(("gauges",))


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return gauges.snapshot(services().gauges)

"""Scheduled, every minute: the segments' pending counts folded into their totals (segments/counts.py). Idempotent:
an invocation that fails or overlaps another folds nothing twice."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from audience_sync.composition.segments import SegmentStores
from audience_sync.segments.counts import fold_all
from audience_sync.settings import Settings

logger = Logger()


@cache
def services() -> SegmentStores:
    return SegmentStores(Settings.from_env())


# Built at init, not at the first event: a cold start pays for its clients once, in Lambda's init (decision 0026).
services().warm(("segment_store", "member_index"))


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    folded = fold_all(services().segment_store, services().member_index)
    logger.info("segment counts folded", extra={"folded": folded})
    return {"folded": folded}

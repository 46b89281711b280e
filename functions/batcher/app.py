"""SQS-triggered batcher: packs queued users into LinkedIn requests inside the shared rate limit.

Powertools' BatchProcessor calls a handler per record; here one LinkedIn request carries users from
many records, so the handler builds `batchItemFailures` itself (the documented partial-response shape).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from audience_sync import composition as wiring
from audience_sync.adapters.aws.queues import SqsQueueReader
from audience_sync.core.clock import SystemClock
from audience_sync.pipeline.batcher import Batcher
from audience_sync.settings import settings

logger = Logger()
tracer = Tracer()
clock = SystemClock()


@cache
def batcher() -> Batcher:
    config = settings()
    return Batcher(
        settings=config,
        sender=wiring.sender(config, clock),
        ledger=wiring.ledger(config, clock),
        retries=wiring.retry_store(config),
        clock=clock,
        queue=SqsQueueReader(config.sync_queue_url),
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = event.get("Records", [])
    deadline_ms = clock.now_ms() + context.get_remaining_time_in_millis()
    failed = batcher().handle(records, deadline_ms)
    logger.info("batch done", extra={"records": len(records), "failed": len(failed)})
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}

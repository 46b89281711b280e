"""SQS-triggered batcher: packs queued users into requests to their destination inside the shared rate limit.

Powertools' BatchProcessor calls a handler per record; here one LinkedIn request carries users from
many records, so the handler builds `batchItemFailures` itself (the documented partial-response shape).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from audience_sync.composition.delivery import Delivery
from audience_sync.settings import Settings

logger = Logger()
tracer = Tracer(patch_modules=["botocore", "requests"])  # AWS, and the destinations' HTTP


@cache
def services() -> Delivery:
    return Delivery(Settings.from_env())


# Built at init, not at the first event: a cold start pays for its clients once, in Lambda's init (decision 0026).
services().warm(("batcher",))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = event.get("Records", [])
    container = services()
    deadline_ms = container.clock.now_ms() + context.get_remaining_time_in_millis()
    failed = container.batcher.handle(records, deadline_ms)
    logger.info("batch done", extra={"records": len(records), "failed": len(failed)})
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}

"""One attempt of the Step Functions retry: {"key", "attempt"} in, {"outcome", ...} out (pipeline/retry_attempt.py).

An exception fails the task; the state machine retries it, and the ledger makes the retry count nothing twice.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from audience_sync.composition.delivery import Delivery
from audience_sync.pipeline.batcher import REQUEST_BUDGET_MS
from audience_sync.pipeline.retry_attempt import AttemptInput
from audience_sync.settings import Settings

logger = Logger()
tracer = Tracer(patch_modules=["botocore", "requests"])  # AWS, and the destinations' HTTP


@cache
def services() -> Delivery:
    return Delivery(Settings.from_env())


# Built at init, not at the first event: a cold start pays for its clients once, in Lambda's init (decision 0026).
services().warm(("retry_attempt",))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = AttemptInput.model_validate(event)
    container = services()
    deadline_ms = container.clock.now_ms() + context.get_remaining_time_in_millis()
    return container.retry_attempt.run(request.key, request.attempt, deadline_ms - REQUEST_BUDGET_MS)

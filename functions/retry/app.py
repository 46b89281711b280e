"""One attempt of the Step Functions retry: {"key", "attempt"} in, {"outcome", ...} out (pipeline/retry_attempt.py).

An exception fails the task; the state machine retries it, and the ledger makes the retry count nothing twice.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

from audience_sync.composition.delivery import Delivery
from audience_sync.pipeline.batcher import REQUEST_BUDGET_MS
from audience_sync.settings import Settings

logger = Logger()
tracer = Tracer(patch_modules=["botocore", "requests"])  # AWS, and the destinations' HTTP


class AttemptInput(BaseModel):
    key: str = Field(pattern=r"^retry/[^/]+/[0-9a-f]{32}/\d+\.json$")
    attempt: int = Field(ge=1)


@cache
def services() -> Delivery:
    return Delivery(Settings.from_env())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = AttemptInput.model_validate(event)
    container = services()
    deadline_ms = container.clock.now_ms() + context.get_remaining_time_in_millis()
    return container.retry_attempt.run(request.key, request.attempt, deadline_ms - REQUEST_BUDGET_MS)

"""Step entry webhook: `POST /v1/steps/{step_id}/users` → validated, filtered, hashed, queued.

A repeated `idempotency_key` needs no store of its own here: the webhook's chunks get ids derived from the key
and the users, and the batcher's ledger records each id once (ledger.py). Powertools' idempotency utility would
add two DynamoDB writes per webhook for a guarantee the ledger already gives.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from audience_sync.errors import ApiError
from audience_sync.http import handle, new_resolver
from audience_sync.ingest import IngestService
from audience_sync.models import WebhookBody, valid_step_id
from audience_sync.publisher import PublishError, QueuePublisher
from audience_sync.settings import settings
from audience_sync.steps import StepRepository

logger = Logger()
# Only AWS calls to trace here: patching every library X-Ray knows would import requests for nothing (40 ms of
# cold start, measured by make bench).
tracer = Tracer(patch_modules=["botocore"])
app = new_resolver(logger)


@cache
def ingest() -> IngestService:
    config = settings()
    return IngestService(StepRepository(config), QueuePublisher(config.sync_queue_url))


@app.post("/v1/steps/<step_id>/users")
def post_users(step_id: str, body: WebhookBody) -> tuple[dict[str, Any], int]:
    try:
        result = ingest().accept(valid_step_id(step_id), body, app.current_event.request_context.request_id)
    except PublishError as exc:
        raise ApiError(
            503, "queue_unavailable", "users could not be queued; retry with the same idempotency_key"
        ) from exc
    return result, 202


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, logger, event, context)

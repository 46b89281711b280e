"""Step entry webhook: `POST /v1/steps/{step_id}/users` → validated, filtered, hashed, queued.

A repeated `idempotency_key` needs no store of its own here: the webhook's chunks get ids derived from the key
and the users, and the batcher's ledger records each id once (ledger.py). Powertools' idempotency utility would
add two DynamoDB writes per webhook for a guarantee the ledger already gives.

With WebhookSigning enabled, the X-Signature header is checked on the raw event before anything is parsed or
written (webhook_signature.py).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from audience_sync.core.errors import ApiError
from audience_sync.http.resolver import error_response, handle, new_resolver, normalise_request, proxy_response
from audience_sync.pipeline.chunking import PublishError, QueuePublisher
from audience_sync.pipeline.ingest import IngestService
from audience_sync.settings import settings
from audience_sync.sources.webhook.route import users_router
from audience_sync.steps.models import WebhookBody, valid_step_id
from audience_sync.steps.repository import StepRepository

if TYPE_CHECKING:
    from audience_sync.sources.webhook.signature import Admission, WebhookSignatures

logger = Logger()
# Only AWS calls to trace here: patching every library X-Ray knows would import requests for nothing (40 ms of
# cold start, measured by make bench).
tracer = Tracer(patch_modules=["botocore"])
app = new_resolver(logger)


@cache
def ingest() -> IngestService:
    config = settings()
    return IngestService(StepRepository(config), QueuePublisher(config.sync_queue_url))


@cache
def signatures() -> WebhookSignatures | None:
    """None when the stack does not sign webhooks; imported only when it does."""
    config = settings()
    if not config.webhook_signing_secret_arn:
        return None
    from audience_sync.adapters.aws import secrets as secrets_store
    from audience_sync.adapters.aws.signature_table import DynamoSignatureRegistry
    from audience_sync.core.clock import SystemClock
    from audience_sync.sources.webhook.signature import WebhookSignatures

    return WebhookSignatures(
        lambda: secrets_store.webhook_signing_secrets(config),
        DynamoSignatureRegistry(config.webhook_signatures_table),
        SystemClock(),
    )


def accept(step_id: str, body: WebhookBody, request_id: str) -> dict[str, Any]:
    try:
        return ingest().accept(valid_step_id(step_id), body, request_id)
    except PublishError as exc:
        raise ApiError(
            503, "queue_unavailable", "users could not be queued; retry with the same idempotency_key"
        ) from exc


app.include_router(users_router(accept))


def _resolve(event: dict[str, Any], context: LambdaContext, admission: Admission | None) -> dict[str, Any]:
    try:
        result: dict[str, Any] = app.resolve(normalise_request(event), context)
    except Exception:
        if admission is not None:
            admission.release()
        raise
    # The users were not queued: the client may send the same signed request again.
    if admission is not None and int(result.get("statusCode", 500)) >= 500:
        admission.release()
    return result


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(logger, event, lambda request: _admit(request, context))


def _admit(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    checker = signatures()
    admission = None
    if checker is not None:
        try:
            admission = checker.admit(event)
        except ApiError as error:
            # The code only: never the header (a signature) nor the body.
            logger.warning("webhook refused: signature check failed", extra={"code": error.code})
            return proxy_response(error_response(error))
    return _resolve(event, context, admission)

"""Step entry webhook: `POST /v1/steps/{step_id}/users` → validated, filtered, hashed, queued, counted."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from audience_sync.errors import ApiError
from audience_sync.http import new_resolver, normalise_request, proxy_response, reject_oversized
from audience_sync.ingest import IngestService, users_digest
from audience_sync.metrics_store import MetricsStore
from audience_sync.models import WebhookBody, valid_step_id
from audience_sync.publisher import PublishError, QueuePublisher
from audience_sync.settings import settings
from audience_sync.steps import StepRepository

logger = Logger()
tracer = Tracer()
app = new_resolver(logger)
# A webhook retried within a day with the same idempotency_key is answered from the first result.
IDEMPOTENCY_TTL_SECONDS = 86_400


class Ingest:
    def __init__(self) -> None:
        config = settings()
        self.service = IngestService(
            StepRepository(config), MetricsStore(config), QueuePublisher(config.sync_queue_url)
        )
        persistence = DynamoDBPersistenceLayer(table_name=config.idempotency_table)
        # lambda_handler registers each invocation's context, so a request cut off by a timeout only
        # blocks retries with its idempotency_key until that invocation's deadline, not for the whole TTL.
        self.idempotency_config = IdempotencyConfig(
            event_key_jmespath="[step_id, idempotency_key]",
            payload_validation_jmespath="users_digest",
            expires_after_seconds=IDEMPOTENCY_TTL_SECONDS,
        )
        self.accept_once = idempotent_function(
            data_keyword_argument="request",
            persistence_store=persistence,
            config=self.idempotency_config,
        )(self._accept)

    def _accept(self, request: dict[str, Any]) -> dict[str, Any]:
        return self.service.accept(request["step_id"], request["body"], request["correlation_id"])

    def accept(self, step_id: str, body: WebhookBody, correlation_id: str | None) -> dict[str, Any]:
        request = {"step_id": step_id, "body": body, "correlation_id": correlation_id}
        if body.idempotency_key is None:
            return self._accept(request)
        request.update(idempotency_key=body.idempotency_key, users_digest=users_digest(body))
        try:
            result: dict[str, Any] = self.accept_once(request=request)
        except IdempotencyValidationError as exc:
            raise ApiError(422, "idempotency_key_reused", "this idempotency_key was used with different users") from exc
        except IdempotencyAlreadyInProgressError as exc:
            raise ApiError(409, "request_in_progress", "a request with this idempotency_key is in progress") from exc
        return result


@cache
def ingest() -> Ingest:
    return Ingest()


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
    oversized = reject_oversized(event)
    if oversized is not None:
        return proxy_response(oversized)
    ingest().idempotency_config.register_lambda_context(context)
    return app.resolve(normalise_request(event), context)

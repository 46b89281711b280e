"""The step entry webhook's route, declared once: the ingest function serves it, the API function documents it
(http/openapi_document.py) although another function answers it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools.event_handler.api_gateway import Router

from audience_sync.http.openapi import error_responses, success
from audience_sync.sources.webhook.models import WebhookBody
from audience_sync.sources.webhook.signature import MAX_HEADER_CHARS, SIGNATURE_HEADER, TOLERANCE_SECONDS

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

USERS_PATH = "/v1/steps/<step_id>/users"
# (step_id, body, request id) -> the answer: accepted, filtered and not_synced user counts.
Accept = Callable[[str, WebhookBody, str], dict[str, Any]]

SIGNATURE_DESCRIPTION = (
    f"Required when the stack's WebhookSigning parameter is enabled (ignored otherwise): "
    f'"t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<step_id>.<raw body>")>", several v1 values allowed. '
    f"A timestamp more than {TOLERANCE_SECONDS} s from the server's clock is refused, and so is a signature "
    f"already used."
)


def users_router(accept: Accept) -> Router:
    """A new router with the webhook route; each resolver gets its own (a router remembers who included it)."""
    router = Router()

    @router.post(
        USERS_PATH,
        summary="Users enter the step",
        description=(
            "Validates, filters, hashes and queues the users for LinkedIn. At most 10,000 users or 5 MB. A repeat "
            "with the same idempotency_key and users is counted once."
        ),
        tags=["webhook"],
        status_code=202,
        responses={
            **success(202, "accepted (queued) + filtered + not_synced = the users posted"),
            **error_responses(400, 401, 404, 409, 413, 503),
        },
    )
    def post_users(step_id: str, body: WebhookBody) -> tuple[dict[str, Any], int]:
        event = cast("APIGatewayProxyEvent", router.current_event)
        return accept(step_id, body, event.request_context.request_id), 202

    return router


def document_signature(spec: dict[str, Any]) -> None:
    """Add the X-Signature header to the webhook's operation in an OpenAPI document. Not a handler parameter:
    the ingest checks it before routing, and Powertools' debug log prints every handler argument."""
    operation = spec["paths"][USERS_PATH.replace("<step_id>", "{step_id}")]["post"]
    operation.setdefault("parameters", []).append(
        {
            "name": SIGNATURE_HEADER,
            "in": "header",
            "required": False,
            "description": SIGNATURE_DESCRIPTION,
            "schema": {"type": "string", "maxLength": MAX_HEADER_CHARS},
        }
    )

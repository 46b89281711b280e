"""Step entry webhook: `POST /v1/steps/{step_id}/users` → validated, filtered, hashed, queued.

A repeated `idempotency_key` needs no store of its own here: the webhook's chunks get ids derived from the key
and the users, and the batcher's ledger records each id once (pipeline/ledger.py). Powertools' idempotency utility
would add two DynamoDB writes per webhook for a guarantee the ledger already gives
(docs/decisions/0002-ledger-not-powertools-idempotency.md).

With WebhookSigning enabled, the X-Signature header is checked on the raw event before anything is parsed or
written (sources/webhook/signature.py).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from audience_sync.adapters.aws import snapstart
from audience_sync.composition.ingest import Ingest
from audience_sync.core.errors import DomainError, StoreUnavailable
from audience_sync.http.resolver import error_response, handle, new_resolver, normalise_request, proxy_response
from audience_sync.settings import Settings
from audience_sync.sources.webhook import ingest
from audience_sync.sources.webhook.models import WebhookBody
from audience_sync.sources.webhook.route import users_router
from audience_sync.steps.models import valid_step_id

if TYPE_CHECKING:
    from audience_sync.sources.webhook.signature import Admission

logger = Logger()
# Only AWS calls to trace here: patching every library X-Ray knows would import requests for nothing (40 ms of
# cold start, measured by make bench).
tracer = Tracer(patch_modules=["botocore"])
app = new_resolver(logger)


@cache
def services() -> Ingest:
    return Ingest(Settings.from_env())


# Built at init, not at the first request: with SnapStart that is before the snapshot, so no restored container
# builds them (adapters/aws/snapstart.py; decision 0026).
services().warm(("ingest", "profile_users", "signatures"))
snapstart.register()


def accept(step_id: str, body: WebhookBody, request_id: str) -> dict[str, Any]:
    svc = services()
    return ingest.accept(svc.ingest, valid_step_id(step_id), body, request_id, svc.profile_users)


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
    checker = services().signatures
    admission = None
    if checker is not None:
        try:
            admission = checker.admit(event)
        except StoreUnavailable as error:  # the secret or the signatures table: the client may send it again
            logger.error(
                "webhook not admitted: the signature could not be checked",
                extra={"code": error.code, "operation": error.operation, "reason": error.reason},
            )
            return proxy_response(error_response(error))
        except DomainError as error:
            # The code only: never the header (a signature) nor the body.
            logger.warning("webhook refused: signature check failed", extra={"code": error.code})
            return proxy_response(error_response(error))
    return _resolve(event, context, admission)

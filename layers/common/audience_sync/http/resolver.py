"""HTTP glue shared by the API and ingest functions: one error envelope, size limits, no 5xx for bad input."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from audience_sync.core.errors import DomainError, Invalid, NotFound, TooLarge, TooManyRequests
from audience_sync.http.errors import envelope, status_of

# The largest body any route takes (contract v1: a webhook of 5 MB); API Gateway itself allows 10 MB.
MAX_BODY_BYTES = 5 * 1024 * 1024


def normalise_request(event: dict[str, Any]) -> dict[str, Any]:
    """Every body this API accepts is JSON, whatever Content-Type the client sent (curl -d sends a form type);
    without this, a form Content-Type makes the resolver parse the JSON as form fields. A base64 body (a gateway
    with binary media types) becomes its text; reject_unreadable has checked it is UTF-8."""
    if not event.get("body"):
        return event
    headers = {k: v for k, v in (event.get("headers") or {}).items() if k.lower() != "content-type"}
    headers["Content-Type"] = "application/json"
    multi = {k: v for k, v in (event.get("multiValueHeaders") or {}).items() if k.lower() != "content-type"}
    multi["Content-Type"] = ["application/json"]
    normalised = {**event, "headers": headers, "multiValueHeaders": multi}
    if event.get("isBase64Encoded"):
        normalised.update(body=base64.b64decode(event["body"]).decode("utf-8"), isBase64Encoded=False)
    return normalised


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body),
        headers=headers,
    )


def error_response(error: DomainError) -> Response:
    headers = {"Retry-After": str(error.retry_after_seconds)} if isinstance(error, TooManyRequests) else None
    return json_response(status_of(error), envelope(error), headers)


def new_resolver(logger: Logger) -> APIGatewayRestResolver:
    """A resolver with pydantic validation whose every error uses the public envelope."""
    app = APIGatewayRestResolver(enable_validation=True)

    @app.exception_handler(DomainError)
    def _domain_error(error: DomainError) -> Response:
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    def _invalid(error: RequestValidationError) -> Response:
        # Field locations and messages only: pydantic's "input" would echo user data (emails) back and into logs.
        details = [
            {"loc": [str(p) for p in e.get("loc", ())], "type": e.get("type"), "message": e.get("msg", "")}
            for e in error.errors()
        ]
        if any(d["type"] == "too_long" and d["loc"] == ["body", "users"] for d in details):
            # The contract answers 413 above MAX_USERS_PER_WEBHOOK users, like a body over 5 MB.
            return error_response(TooLarge("payload_too_large", "too many users in one request", details[:50]))
        # Not JSON, or a body that is not an object; a nested field of the wrong type is just invalid.
        malformed = any(
            d["type"] == "json_invalid" or (d["type"] == "model_attributes_type" and d["loc"] == ["body"])
            for d in details
        )
        code = "malformed_json" if malformed else "invalid_request"
        return error_response(Invalid(code, "the request body is not valid", details[:50]))

    @app.not_found
    def _not_found(_: Exception) -> Response:
        return error_response(NotFound("route", message="no such route"))

    return app


Render = Callable[[DomainError], Response]


def reject_oversized(event: dict[str, Any], render: Render = error_response) -> Response | None:
    """413 before any parsing when the body is larger than the contract allows."""
    body = event.get("body") or ""
    size = len(body) if event.get("isBase64Encoded") else len(body.encode("utf-8"))
    if size > MAX_BODY_BYTES:
        error = TooLarge("payload_too_large", f"the body is {size} bytes; the limit is {MAX_BODY_BYTES}")
        return render(error)
    return None


def reject_unreadable(event: dict[str, Any], render: Render = error_response) -> Response | None:
    """Before any parsing: 413 for a body over the size limit, 400 for one that is not UTF-8 text (every body
    this API takes is JSON; Powertools would fail decoding it and answer 5xx)."""
    oversized = reject_oversized(event, render)
    if oversized is not None:
        return oversized
    if event.get("isBase64Encoded") and event.get("body"):
        try:
            base64.b64decode(event["body"], validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return render(Invalid("malformed_json", "the body is not UTF-8 encoded JSON"))
    return None


def proxy_response(response: Response) -> dict[str, Any]:
    return {
        "statusCode": response.status_code,
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": response.body if isinstance(response.body, str) else json.dumps(response.body),
        "isBase64Encoded": False,
    }


CORRELATION_HEADER = "X-Correlation-Id"


def handle(
    logger: Logger,
    event: dict[str, Any],
    respond: Callable[[dict[str, Any]], dict[str, Any]],
    render: Render = error_response,
) -> dict[str, Any]:
    """A body that is too large or not text is refused before `respond` sees it (in the envelope `render` draws);
    the answer names the request's correlation id (API Gateway's request id), which every log line of the request
    carries, down to the LinkedIn request that sends its users."""
    refused = reject_unreadable(event, render)
    response = (
        proxy_response(refused) if refused is not None else _respond_or_refuse_unparseable(event, respond, render)
    )
    correlation_id = logger.get_correlation_id()
    if correlation_id:
        response.setdefault("headers", {})[CORRELATION_HEADER] = correlation_id
    return response


def _respond_or_refuse_unparseable(
    event: dict[str, Any], respond: Callable[[dict[str, Any]], dict[str, Any]], render: Render
) -> dict[str, Any]:
    """Powertools turns only json.JSONDecodeError into a validation error. JSON with an integer over Python's 4,300
    digits raises a plain ValueError, and JSON nested thousands deep a RecursionError: both would be 5xx. They are
    400 when the body is what fails to parse (parsed again only on this error path); any other such error is ours."""
    try:
        return respond(event)
    except (ValueError, RecursionError):
        if _parses(event):
            raise
        error = Invalid("malformed_json", "the body is not JSON this API can read (numbers or nesting too large)")
        return proxy_response(render(error))


def _parses(event: dict[str, Any]) -> bool:
    body = event.get("body") or ""
    try:
        json.loads(base64.b64decode(body) if event.get("isBase64Encoded") else body)
    except (ValueError, RecursionError):
        return False
    return True

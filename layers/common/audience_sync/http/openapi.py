"""What routes declare for the public OpenAPI document (openapi_document.py builds it): their error answers in the
error envelope, their success entries, and the routes the gateway serves without an API key. Light on purpose: the
ingest imports it for its route, and never builds the document."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel, Field

# openapi_extensions of a route the gateway serves without an API key (an empty security requirement).
NO_API_KEY: dict[str, Any] = {"security": []}


class ErrorDetail(BaseModel):
    code: str = Field(description="machine-readable, stable: see docs/api.md")
    message: str = Field(description="for people")
    details: list[dict[str, Any]] = Field(description="per-field problems (field location, type, message)")


class ErrorEnvelope(BaseModel):
    """Every error answer of the service and of its API gateway."""

    error: ErrorDetail


ERROR_DESCRIPTIONS = {
    400: "Bad request: malformed JSON, a wrong type, an invalid step id or parameter",
    401: "Signature missing, wrong or stale (webhook signing enabled)",
    403: "x-api-key missing or wrong (answered by the API gateway)",
    404: "No such step, audience or route",
    409: "Conflicts with the current state (for example a step not launched, or a replayed signature)",
    413: "Body over 5 MB or more than 10,000 users",
    422: "The step cannot be launched: every problem is listed in details",
    429: "Throttled by the API gateway's usage plan, or (exports) the segment's last export still runs (Retry-After)",
    502: "LinkedIn failed or answered something unexpected",
    503: "A dependency is unavailable; retry",
}


def error_responses(*statuses: int) -> dict[int, OpenAPIResponse]:
    """`responses=` entries in the error envelope, for a route's own error answers."""
    return {
        status: {
            "description": ERROR_DESCRIPTIONS[status],
            "content": {"application/json": {"model": ErrorEnvelope}},
        }
        for status in statuses
    }


def success(status: int, description: str) -> dict[int, OpenAPIResponse]:
    """The success entry of `responses=`; its schema comes from the handler's return annotation."""
    return {status: {"description": description}}

"""The public OpenAPI document, generated from the routes' code: the API function's resolver and the webhook's
router (webhook_route.py), which the ingest function serves, merged with Powertools' OpenAPIMerge.

Routes declare their own docs (summary, `responses=error_responses(...)`); this module adds what the gateway
answers on its own (403 without the key, 429 when throttled) and replaces Powertools' automatic 422
"HTTPValidationError", which this service never sends: a bad request is a 400 in the error envelope.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel, Field

TITLE = "audience-sync"
VERSION = "v1"
DESCRIPTION = (
    "Keeps LinkedIn Matched Audiences in step with customer journeys. Every route needs the x-api-key header except "
    "the OAuth callback (LinkedIn's redirect cannot carry it). Errors are "
    '{"error": {"code", "message", "details"}} with a 4xx status; a 5xx only when AWS or LinkedIn fail.'
)
API_KEY_SCHEME = "apiKey"
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


# What Powertools adds for validation errors of its own format, which this service never answers with.
_POWERTOOLS_ERROR_SCHEMAS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")


def _envelope_ref(spec: dict[str, Any]) -> dict[str, Any]:
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    if "ErrorEnvelope" not in schemas:
        generated = ErrorEnvelope.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(generated.pop("$defs", {}))
        schemas["ErrorEnvelope"] = generated
    return {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}


def _finish(spec: dict[str, Any]) -> dict[str, Any]:
    envelope = _envelope_ref(spec)
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            automatic = responses.get("422", {}).get("content", {}).get("application/json", {}).get("schema", {})
            if automatic.get("$ref", "").endswith("/HTTPValidationError"):
                del responses["422"]
            if operation.get("security") != []:
                responses.setdefault("403", {"description": ERROR_DESCRIPTIONS[403], "content": envelope})
            responses.setdefault("429", {"description": ERROR_DESCRIPTIONS[429], "content": envelope})
    schemas = spec["components"]["schemas"]
    for name in _POWERTOOLS_ERROR_SCHEMAS:
        schemas.pop(name, None)
    text = json.dumps(spec)
    missing = [name for name in _POWERTOOLS_ERROR_SCHEMAS if f"#/components/schemas/{name}" in text]
    if missing:
        raise RuntimeError(f"the document still refers to Powertools' {missing}")
    return spec


def public_spec(*resolvers: APIGatewayRestResolver) -> dict[str, Any]:
    """One OpenAPI document of every route of `resolvers`; a route declared twice is an error."""
    from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge
    from aws_lambda_powertools.event_handler.openapi.models import APIKey

    merge = OpenAPIMerge(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        security_schemes={
            API_KEY_SCHEME: APIKey.model_validate({"type": "apiKey", "name": "x-api-key", "in": "header"})
        },
        security=[{API_KEY_SCHEME: []}],
        on_conflict="error",
    )
    for resolver in resolvers:
        merge.add_schema(json.loads(resolver.get_openapi_json_schema(title=TITLE, version=VERSION)))
    # Through JSON: status codes become the strings the document has, and the result is a plain copy.
    return _finish(json.loads(merge.get_openapi_json_schema()))

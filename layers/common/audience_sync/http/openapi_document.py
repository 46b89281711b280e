"""The public OpenAPI document, generated from the routes' code: the API function's resolver and the webhook's
router (sources/webhook/route.py), which the ingest function serves, merged with Powertools' OpenAPIMerge. Only the
API function serves it (GET /v1/openapi.json): Powertools' OpenAPI models cost a cold start about 140 ms on the
machine of BENCHMARKS.md, which the ingest does not pay.

Routes declare their own docs (summary, `responses=error_responses(...)`, openapi.py); this module adds what the
gateway answers on its own (403 without the key, 429 when throttled) and replaces Powertools' automatic 422
"HTTPValidationError", which this service never sends: a bad request is a 400 in the error envelope.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge
from aws_lambda_powertools.event_handler.openapi.models import APIKey

from audience_sync.http.openapi import ERROR_DESCRIPTIONS, ErrorEnvelope

TITLE = "audience-sync"
VERSION = "v1"
DESCRIPTION = (
    "Keeps LinkedIn Matched Audiences in step with customer journeys. Every route needs the x-api-key header except "
    "the OAuth callback (LinkedIn's redirect cannot carry it). Errors are "
    '{"error": {"code", "message", "details"}} with a 4xx status; a 5xx only when AWS or LinkedIn fail.'
)
API_KEY_SCHEME = "apiKey"

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

"""The Braze-compatible API's edge: Braze's error envelope `{"message", "errors"}` for the same domain errors the
`/v1` API renders its own way (http/errors.py), its rate-limit headers on every answer once the key is known, and a
strict JSON reader (a duplicated key or a NaN is a 400, not a guess)."""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from audience_sync.core.errors import DomainError, Invalid, NotFound, TooManyRequests
from audience_sync.http.errors import status_of
from audience_sync.http.resolver import json_response

# Braze's words (its API error docs).
PARSE_ERROR = "Error while parsing request body. Please check your syntax."
INVALID_URL = "Invalid URL"


def envelope(error: DomainError) -> dict[str, Any]:
    return {"message": error.message, "errors": error.details}


def error_response(error: DomainError, headers: dict[str, str] | None = None) -> Response:
    headers = dict(headers or {})
    if isinstance(error, TooManyRequests):
        headers["Retry-After"] = str(error.retry_after_seconds)
    return json_response(status_of(error), envelope(error), headers=headers)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        duplicated = next(k for k, n in Counter(k for k, _ in pairs).items() if n > 1)
        raise Invalid("duplicate_key", f"the key '{duplicated[:64]}' appears twice in one object")
    return result


def _no_constant(name: str) -> Any:
    raise Invalid("malformed_json", f"{name} is not a JSON number")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e999 reads as infinity, which no attribute can hold
        raise Invalid("malformed_json", "a number is too large")
    return number


def json_object(body: str | None) -> dict[str, Any]:
    """The request body as a JSON object: Invalid for anything else (no body, not JSON, not an object, a key twice
    in one object, NaN or Infinity, numbers or nesting too large for Python, a lone surrogate escape such as
    "\\ud800", which no UTF-8 text can hold)."""
    try:
        value = json.loads(
            body or "", object_pairs_hook=_no_duplicates, parse_constant=_no_constant, parse_float=_finite
        )
        if body and ("\\ud" in body or "\\uD" in body):  # only an escape can make a surrogate: check those bodies
            json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
        raise Invalid("malformed_json", PARSE_ERROR) from None
    if not isinstance(value, dict):
        raise Invalid("malformed_json", "the body must be a JSON object")
    return value


def new_resolver(logger: Logger) -> APIGatewayRestResolver:
    """A resolver whose every error is in Braze's envelope (a route that knows the key adds its rate-limit headers
    itself: sources/braze/routes.py)."""
    app = APIGatewayRestResolver()

    def answer(error: DomainError) -> Response:
        return error_response(error)

    app.exception_handler(DomainError)(answer)

    @app.not_found
    def _not_found(_: Exception) -> Response:
        return answer(NotFound("route", message=INVALID_URL))

    return app

"""Contract v1's error envelope: domain errors (core/errors.py) as HTTP answers of the `/v1` API.

`{"error": {"code", "message", "details"}}` with the status of the error's kind. Another API (the Braze-compatible
one of contract v2) renders the same errors in its own envelope; the domain does not change.
"""

from __future__ import annotations

from typing import Any

from audience_sync.core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    LaunchInvalid,
    NotFound,
    TooLarge,
    TooManyRequests,
    Unauthorized,
    Unavailable,
    Unprocessable,
    UpstreamFailed,
)

# The most specific kind wins (StoreUnavailable is an Unavailable: 503).
STATUS: dict[type[DomainError], int] = {
    Invalid: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
    LaunchInvalid: 422,
    Unprocessable: 422,
    TooManyRequests: 429,
    UpstreamFailed: 502,
    Unavailable: 503,
}


def status_of(error: DomainError) -> int:
    """The HTTP status of `error`'s kind; a DomainError of no listed kind is the caller's problem (400)."""
    for kind in type(error).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 400


def envelope(error: DomainError) -> dict[str, Any]:
    return {"error": {"code": error.code, "message": error.message, "details": error.details}}

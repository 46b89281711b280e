"""Domain errors: what went wrong, in terms a caller can act on, with no HTTP in them.

Each kind says who must act: the caller (`Invalid`, `Unauthorized`, `Forbidden`, `NotFound`, `Conflict`,
`TooLarge`, `TooManyRequests`, `LaunchInvalid`) or nobody but time (`UpstreamFailed`, `Unavailable`). Every API maps
the kinds to its own status codes and error envelope at the edge (`http/errors.py` for contract v1's `{"error":
{"code", "message", "details"}}`, `http/braze.py` for Braze's `{"message", "errors"}`); the domain never chooses a
status. A `code` is stable and machine-readable (the contract lists
them); a `message` is for people and never holds user data (PII, tokens, secrets).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class DomainError(Exception):
    """An error the caller caused or can act on."""

    def __init__(self, code: str, message: str, details: Sequence[Mapping[str, Any]] = ()):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details: list[dict[str, Any]] = [dict(detail) for detail in details]


class Invalid(DomainError):
    """The request is wrong: malformed, a wrong type, an out-of-range value. Sending it again will not help."""


class Unauthorized(DomainError):
    """Credentials or a signature are missing, wrong or stale."""


class Forbidden(DomainError):
    """The credentials are good but do not allow this (a key without the route's permission)."""


class TooManyRequests(DomainError):
    """Over a rate limit; `retry_after_seconds` says when the next request may go."""

    def __init__(self, code: str, message: str, retry_after_seconds: int):
        super().__init__(code, message)
        self.retry_after_seconds = retry_after_seconds


class NotFound(DomainError):
    """The thing asked for does not exist (or no longer does)."""

    def __init__(self, what: str, code: str = "not_found", message: str | None = None):
        super().__init__(code, message or f"{what} not found")


class Conflict(DomainError):
    """The request is valid but conflicts with the current state (a step not launched, a replayed signature)."""


class TooLarge(DomainError):
    """The request is over a size limit."""


class LaunchInvalid(DomainError):
    """A step cannot be launched; `details` lists every problem, each `{"field", "code", "message"}`."""

    def __init__(self, problems: Sequence[Mapping[str, str]]):
        super().__init__("launch_invalid", "the step cannot be launched", problems)


class Unprocessable(DomainError):
    """The request is well formed but cannot be applied as it stands (a segment filter the steps that follow it
    cannot take); `details` says why."""


class UpstreamFailed(DomainError):
    """A destination (LinkedIn) failed or answered something this service cannot use. Worth trying again later."""


class Unavailable(DomainError):
    """A dependency of ours is unavailable right now; the same request may succeed if sent again."""


class StoreUnavailable(Unavailable):
    """Storage (a table, a bucket, a key, a queue) failed. Adapters raise it for every AWS failure they do not
    handle themselves, so the domain never sees botocore's exceptions."""

    def __init__(self, operation: str, reason: str):
        super().__init__("store_unavailable", f"{operation} failed ({reason}); try again")
        self.operation = operation
        self.reason = reason

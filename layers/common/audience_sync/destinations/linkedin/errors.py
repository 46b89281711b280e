"""How a LinkedIn answer is handled (linkedin-api.md §4). Pure."""

from __future__ import annotations

from enum import StrEnum


class Disposition(StrEnum):
    OK = "ok"
    RETRY = "retry"  # throttled, server error, timeout, new segment still propagating, version sunset
    REFRESH_TOKEN = "refresh_token"  # noqa: S105 - a disposition name, not a secret. 401: refresh once, then the connection is invalid
    ACCESS_DENIED = "access_denied"  # 403: the member lacks a non-VIEWER role on the ad account
    NOT_FOUND = "not_found"  # 404: audience missing (retryable while it propagates)
    REJECTED = "rejected"  # other 4xx: the request itself is wrong


# A 2xx answer whose body cannot be read (LinkedInError status 0, so it is retried like a timeout).
MALFORMED_RESPONSE = "malformed_response"


class LinkedInError(Exception):
    """A non-2xx answer (or no usable answer) from LinkedIn. `status` 0 means timeout, connection error, or a 2xx
    answer whose body cannot be read (MALFORMED_RESPONSE)."""

    def __init__(self, status: int, code: str, message: str, request_id: str | None = None):
        super().__init__(f"LinkedIn {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id  # LinkedIn's x-li-uuid: what LinkedIn support asks for

    @property
    def disposition(self) -> Disposition:
        return classify(self.status)

    @property
    def reason(self) -> str:
        """A short machine-readable reason for metrics and step errors (never PII)."""
        return f"linkedin_{self.status}_{self.code}".lower() if self.status else f"linkedin_{self.code}".lower()


def classify(status: int) -> Disposition:
    if 200 <= status < 300:
        return Disposition.OK
    if status == 401:
        return Disposition.REFRESH_TOKEN
    if status == 403:
        return Disposition.ACCESS_DENIED
    if status == 404:
        return Disposition.NOT_FOUND
    if status in (0, 408, 409, 423, 426, 429) or status >= 500:
        return Disposition.RETRY
    return Disposition.REJECTED


def element_disposition(status: int) -> Disposition:
    """Per-element results of BATCH_CREATE: a 4xx ends only that user; throttles and 5xx are retried."""
    if 200 <= status < 300:
        return Disposition.OK
    if status in (0, 408, 409, 423, 429) or status >= 500:  # as classify: conflicts/locks are transient
        return Disposition.RETRY
    return Disposition.REJECTED

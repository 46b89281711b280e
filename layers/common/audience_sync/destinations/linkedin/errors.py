"""How a LinkedIn answer is handled (docs/integrations/linkedin.md, "Errors"). Pure.

A non-2xx answer to a whole request, and to one element of a BATCH_CREATE:
- 401: the request RECONNECT (refresh the token once, then the connection is `invalid_token`); an element errored.
- 403: DENIED (the member lacks a non-viewer role on the ad account); an element errored.
- 404: MISSING (the audience is gone, or a new one is still propagating); an element errored.
- 429: THROTTLED; an element retried.
- 0 (timeout, no answer, an unreadable 2xx), 408, 409, 423, 5xx: RETRY; an element retried.
- 426 (the LinkedIn-Version is sunset): RETRY, and the `LinkedInVersionSunset` metric (client.py); an element
  errored.
- any other 4xx: RETRY, since a request refused as a whole is our bug or LinkedIn's and its users wait for a fix
  until the horizon; an element errored with the reason.
"""

from __future__ import annotations

from audience_sync.destinations.base import DestinationError, Disposition

# A 2xx answer whose body cannot be read (LinkedInError status 0, so it is retried like a timeout).
MALFORMED_RESPONSE = "malformed_response"
_TRANSIENT = frozenset({0, 408, 409, 423})


class LinkedInError(DestinationError):
    """A non-2xx answer (or no usable answer) from LinkedIn. `status` 0 means timeout, connection error, or a 2xx
    answer whose body cannot be read (MALFORMED_RESPONSE)."""

    def __init__(self, status: int, code: str, message: str, request_id: str | None = None):
        super().__init__(status, code, message, request_id)  # request_id: LinkedIn's x-li-uuid

    def __str__(self) -> str:
        return f"LinkedIn {self.status} {self.code}: {self.message}"

    @property
    def disposition(self) -> Disposition:
        return classify(self.status)

    @property
    def reason(self) -> str:
        """A short machine-readable reason for metrics and step errors (never PII)."""
        return reason(self)


def reason(error: DestinationError) -> str:
    return f"linkedin_{error.status}_{error.code}".lower() if error.status else f"linkedin_{error.code}".lower()


def classify(status: int) -> Disposition:
    """What a non-2xx answer to a whole request means."""
    if status == 401:
        return Disposition.RECONNECT
    if status == 403:
        return Disposition.DENIED
    if status == 404:
        return Disposition.MISSING
    if status == 429:
        return Disposition.THROTTLED
    return Disposition.RETRY  # 5xx, 0, 408, 409, 423, 426, and any other 4xx (see the table above)


def element_retried(status: int) -> bool:
    """Per-element results of BATCH_CREATE: throttles, conflicts, locks and 5xx are retried; any other non-2xx
    ends only that user."""
    return status in _TRANSIENT or status == 429 or status >= 500

"""The outbound webhook of campaigns: the second implementation of `Destination` (destinations/base.py).

A request is one user's webhook, rendered when its send was planned (campaigns/delivery.py) and carried by the
queued user (`w`: method, url, headers, body; `d`: the send's dispatch_id), so a retry sends exactly what the first
attempt sent. No OAuth and no audiences. Its rate is the campaign's `rate_limit_per_minute`, carried by the target
(`SyncTarget.requests_per_minute`, the campaign is the connection: one rate bucket per campaign); a campaign
without one is not limited. Braze's delivery rules (contract v2 §6) are `classify` and `RETRY_POLICY`:

- 2xx delivered;
- 408, 429 and 5xx retried, `Retry-After` honoured (the retry waits at least that long); no answer (a timeout, a
  refused connection) retried too;
- 3xx failed (a redirect is not followed), other 4xx failed at once;
- a non-public address failed at once (guard.py), as is a url Liquid made unusable;
- five retries within 30 minutes: 60, 120, 240, 480 and 900 s.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from audience_sync.core.backoff import RetryPolicy
from audience_sync.core.users import QueuedUser
from audience_sync.destinations.base import (
    SYNCED,
    DestinationError,
    Disposition,
    Failure,
    Limits,
    Outcome,
    SyncTarget,
)
from audience_sync.destinations.webhook.client import WebhookClient, WebhookRequest, WebhookTransport

NAME = "webhook"
RETRY_POLICY = RetryPolicy(horizon_seconds=1800, first_delay_seconds=60, backoff_rate=2, max_delay_seconds=900)
# No answer: whether trying again may help (an endpoint down for a moment) or not (an address it may never reach).
_RETRIED_WITHOUT_ANSWER = frozenset({"timeout", "connection_error"})


def rendered(method: str, url: str, headers: dict[str, str], body: str) -> dict[str, Any]:
    """A rendered webhook as a queued user carries it (`w`): short keys, as every queued field."""
    return {"m": method, "u": url, "h": headers, "b": body}


class WebhookDestination:
    name = NAME
    label = "Webhook"
    metric_prefix = "Webhook"
    authorization = None
    audiences = None
    retry_policy = RETRY_POLICY
    # One user a request; the rate is each campaign's own (its target's), or none.
    limits = Limits(elements_per_request=1, requests_per_second=None)

    def __init__(self, allow_loopback: bool = False, transport: WebhookTransport | None = None):
        self.transport: WebhookTransport = transport or WebhookClient(allow_loopback)

    def encode(self, users: Sequence[QueuedUser], target: SyncTarget) -> bytes:
        (user,) = users  # the packer cuts requests of elements_per_request users
        return json.dumps(user["w"], separators=(",", ":")).encode()

    def send(self, credential: str, target: SyncTarget, body: bytes, count: int) -> list[Outcome]:
        w = json.loads(body)
        answer = self.transport.send(WebhookRequest(w["m"], w["u"], dict(w["h"]), w["b"]))
        if 200 <= answer.status < 300:
            return [SYNCED] * count
        code = answer.code if answer.status == 0 else str(answer.status)
        # The answer's body is the endpoint's, and may echo what was sent: never kept, never logged.
        raise DestinationError(
            answer.status, code, "the endpoint did not take the webhook", retry_after_seconds=answer.retry_after_seconds
        )

    def classify(self, error: DestinationError) -> Failure:
        status = error.status
        if status == 0:
            retried = error.code in _RETRIED_WITHOUT_ANSWER
            return Failure(Disposition.RETRY if retried else Disposition.GIVE_UP, f"webhook_{error.code}")
        if status in (408, 429) or status >= 500:
            return Failure(Disposition.RETRY, f"webhook_{status}", error.retry_after_seconds)
        if 300 <= status < 400:
            return Failure(Disposition.GIVE_UP, f"webhook_{status}_redirect_not_followed")
        return Failure(Disposition.GIVE_UP, f"webhook_{status}")

"""destinations/webhook/destination.py: the rendered webhook sent as it was planned, and Braze's delivery rules as
the pipeline's dispositions (2xx delivered; 408, 429, 5xx and no answer retried, Retry-After kept; 3xx, other 4xx,
a refused address and an unusable url failed at once), with five retries within 30 minutes."""

from __future__ import annotations

import pytest

from audience_sync.destinations.base import SYNCED, DestinationError, Disposition, Failure, SyncTarget
from audience_sync.destinations.webhook.client import WebhookAnswer, WebhookRequest
from audience_sync.destinations.webhook.destination import RETRY_POLICY, WebhookDestination, rendered

TARGET = SyncTarget(destination="webhook", connection_id="c1", ad_account_id="", audience_id="c1", action="send")


class FakeTransport:
    def __init__(self, *answers: WebhookAnswer) -> None:
        self.answers = list(answers)
        self.requests: list[WebhookRequest] = []

    def send(self, request: WebhookRequest) -> WebhookAnswer:
        self.requests.append(request)
        return self.answers.pop(0)


def test_the_planned_webhook_is_sent_as_it_was_rendered() -> None:
    transport = FakeTransport(WebhookAnswer(204, "http"))
    destination = WebhookDestination(transport=transport)
    w = rendered("PUT", "https://example.com/u/1?k=é", {"Authorization": "Bearer t"}, '{"a": "ü"}')
    body = destination.encode([{"x": "u1", "w": w, "d": "d1"}], TARGET)
    assert destination.send("", TARGET, body, 1) == [SYNCED]
    assert transport.requests == [
        WebhookRequest("PUT", "https://example.com/u/1?k=é", {"Authorization": "Bearer t"}, '{"a": "ü"}')
    ]


@pytest.mark.parametrize(
    ("answer", "failure"),
    [
        (WebhookAnswer(500, "http"), Failure(Disposition.RETRY, "webhook_500")),
        (WebhookAnswer(503, "http", 30.0), Failure(Disposition.RETRY, "webhook_503", 30.0)),
        (WebhookAnswer(429, "http", 12.0), Failure(Disposition.RETRY, "webhook_429", 12.0)),
        (WebhookAnswer(408, "http"), Failure(Disposition.RETRY, "webhook_408")),
        (WebhookAnswer(0, "timeout"), Failure(Disposition.RETRY, "webhook_timeout")),
        (WebhookAnswer(0, "connection_error"), Failure(Disposition.RETRY, "webhook_connection_error")),
        (WebhookAnswer(301, "http"), Failure(Disposition.GIVE_UP, "webhook_301_redirect_not_followed")),
        (WebhookAnswer(404, "http"), Failure(Disposition.GIVE_UP, "webhook_404")),
        (WebhookAnswer(401, "http"), Failure(Disposition.GIVE_UP, "webhook_401")),
        (WebhookAnswer(0, "blocked_address"), Failure(Disposition.GIVE_UP, "webhook_blocked_address")),
        (WebhookAnswer(0, "invalid_request"), Failure(Disposition.GIVE_UP, "webhook_invalid_request")),
    ],
)
def test_brazes_rules_as_dispositions(answer: WebhookAnswer, failure: Failure) -> None:
    destination = WebhookDestination(transport=FakeTransport(answer))
    body = destination.encode([{"x": "u1", "w": rendered("POST", "https://e.com", {}, ""), "d": "d"}], TARGET)
    with pytest.raises(DestinationError) as raised:
        destination.send("", TARGET, body, 1)
    assert destination.classify(raised.value) == failure


def test_five_retries_within_thirty_minutes_one_user_a_request_and_no_rate_of_its_own() -> None:
    destination = WebhookDestination(transport=FakeTransport())
    assert RETRY_POLICY.schedule() == (60, 120, 240, 480, 900) and sum(RETRY_POLICY.schedule()) == 1800
    assert destination.retry_policy is RETRY_POLICY
    assert (destination.limits.elements_per_request, destination.limits.requests_per_second) == (1, None)
    assert destination.authorization is None and destination.audiences is None

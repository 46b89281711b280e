"""The pipeline serves any Destination, not only LinkedIn: a destination shaped like the outbound webhook of campaigns
(destinations/base.py checks it on paper) goes through the same sender, batcher and retry policy, with no token, one
user per request, its own rate bucket, and a 4xx that ends its user at once."""

from __future__ import annotations

import json
from collections.abc import Sequence

from audience_sync.core.backoff import RetryPolicy
from audience_sync.core.users import QueuedUser
from audience_sync.destinations.base import (
    SYNCED,
    Audiences,
    Authorization,
    DestinationError,
    Disposition,
    Failure,
    Limits,
    Outcome,
    SyncTarget,
)
from audience_sync.pipeline.batcher import Batcher
from audience_sync.pipeline.messages import QueuedMessage
from audience_sync.pipeline.sender import Sender
from tests.fakes.sync_fakes import (
    T0,
    TUNING,
    FakeBucket,
    FakeBuckets,
    FakeClock,
    FakeLedger,
    FakeNotifier,
    FakeRetryStore,
    FakeSteps,
    users,
)

HOOK = SyncTarget(
    destination="hook", connection_id="campaign-7", ad_account_id="-", audience_id="campaign-7", action="add"
)
SEND_BY = T0 + 60_000


class WebhookLike:
    """One user per request, no OAuth, no audiences; 408/429/5xx retried, other answers refused at once."""

    name = "hook"
    label = "Hook"
    metric_prefix = "Hook"
    limits = Limits(elements_per_request=1, requests_per_second=5.0)
    retry_policy = RetryPolicy(horizon_seconds=1800, first_delay_seconds=60, backoff_rate=2, max_delay_seconds=900)
    authorization: Authorization | None = None
    audiences: Audiences | None = None

    def __init__(self, *answers: DestinationError | None) -> None:
        self.answers = list(answers)
        self.sent: list[tuple[str, dict[str, str]]] = []

    def encode(self, users: Sequence[QueuedUser], target: SyncTarget) -> bytes:
        (user,) = users
        return json.dumps({"user": user["x"], "campaign": target.audience_id}).encode()

    def send(self, credential: str, target: SyncTarget, body: bytes, count: int) -> list[Outcome]:
        self.sent.append((credential, json.loads(body)))
        answer = self.answers.pop(0) if self.answers else None
        if answer is not None:
            raise answer
        return [SYNCED] * count

    def classify(self, error: DestinationError) -> Failure:
        reason = f"hook_{error.status}"
        if error.status == 429:
            return Failure(Disposition.THROTTLED, reason, error.retry_after_seconds)
        if error.status in (0, 408) or error.status >= 500:
            return Failure(Disposition.RETRY, reason, error.retry_after_seconds)
        return Failure(Disposition.GIVE_UP, reason)


def sender(destination: WebhookLike, bucket: FakeBucket | None = None) -> tuple[Sender, FakeBuckets]:
    buckets = FakeBuckets(bucket or FakeBucket())
    sent = Sender({"hook": destination}, {}, buckets, FakeSteps(), FakeClock(), FakeNotifier())
    return sent, buckets


def test_a_destination_without_authorization_sends_without_a_token_through_its_own_bucket() -> None:
    hook = WebhookLike()
    s, buckets = sender(hook)
    assert s.send(HOOK, users(1, "u"), ["step-1"], SEND_BY) == [SYNCED]
    assert hook.sent == [("", {"user": "u0", "campaign": "campaign-7"})]
    assert buckets.asked == [("hook", "campaign-7", 5.0)]  # keyed by destination and connection (the campaign)


def test_a_refusal_ends_the_user_at_once_and_a_server_error_waits_in_the_retry() -> None:
    hook = WebhookLike(DestinationError(404, "not_found", "no such receiver"), DestinationError(503, "down", "later"))
    s, _ = sender(hook)
    assert s.send(HOOK, users(1, "a"), ["step-1"], SEND_BY) == [Outcome("errored", "hook_404")]
    assert s.send(HOOK, users(1, "b"), ["step-1"], SEND_BY) == [Outcome("retry", "hook_503")]


def test_the_batcher_cuts_requests_of_the_destinations_size_and_its_first_wait_is_its_own() -> None:
    hook = WebhookLike(DestinationError(500, "boom", "x"))
    s, _ = sender(hook)
    ledger, retries = FakeLedger(), FakeRetryStore()
    batcher = Batcher(TUNING, s, ledger, retries, FakeClock())
    message = QueuedMessage(chunk_id="c", step_id="step-1", target=HOOK, users=users(3, "u"), first_enqueued_at=T0)
    record = {"messageId": "m", "body": message.model_dump_json(), "attributes": {"ApproximateReceiveCount": "1"}}
    assert batcher.handle([record], SEND_BY + 60_000) == []
    assert [body["user"] for _, body in hook.sent] == ["u0", "u1", "u2"]  # one user per request
    assert ledger.counted("step-1") == {"synced": 2}
    ((_, first_wait),) = retries.started
    assert first_wait == 60  # the destination's policy: 60 s, then 120, 240, 480, 900 (30 minutes)
    assert hook.retry_policy.schedule() == (60, 120, 240, 480, 900)

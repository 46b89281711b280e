"""The pipeline serves any Destination, not only LinkedIn: a destination shaped like the outbound webhook of campaigns
(destinations/base.py checks it on paper) goes through the same sender, batcher and retry policy, with no token, one
user per request, its own rate bucket, and a 4xx that ends its user at once."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

import pytest

from audience_sync.core.backoff import RetryPolicy
from audience_sync.core.errors import StoreUnavailable
from audience_sync.core.ratelimit import per_minute_policy
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
from audience_sync.pipeline.retry_attempt import RetryAttempt
from audience_sync.pipeline.retry_batch import RetryBatch
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


def waiting_batch(
    retries: FakeRetryStore, clock: FakeClock, step_id: str, reasons: list[str], waited_seconds: int = 0
) -> RetryBatch:
    """A batch of HOOK users waiting for its first retry attempt, one user a reason, stored in `retries`."""
    batch = RetryBatch(
        batch_id=uuid.uuid4().hex,
        attempt=1,
        step_id=step_id,
        target=HOOK,
        users=users(len(reasons), "w"),
        reasons=reasons,
        first_failed_at=clock.now_ms(),
        waited_seconds=waited_seconds,
    )
    retries.objects[batch.key] = batch
    return batch


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


def test_a_targets_own_per_minute_rate_takes_the_campaigns_bucket_by_the_minute() -> None:
    hook = WebhookLike()
    s, buckets = sender(hook)
    limited = HOOK.model_copy(update={"requests_per_minute": 600})
    assert s.send(limited, users(1, "u"), ["campaign#campaign-7"], SEND_BY) == [SYNCED]
    ((_, _, rate),) = buckets.asked
    assert rate == 10.0 * 0.99 and buckets.policies == [per_minute_policy(600)]


def test_without_a_rate_of_its_own_or_its_targets_no_bucket_is_taken() -> None:
    class Unlimited(WebhookLike):
        limits = Limits(elements_per_request=1, requests_per_second=None)

    hook = Unlimited()
    empty = FakeBucket(grant=False)  # a token asked of it would never come
    s, buckets = sender(hook, empty)
    assert s.send(HOOK, users(1, "u"), ["campaign#campaign-7"], SEND_BY) == [SYNCED]
    assert buckets.asked == [] and empty.deadlines == []


def test_a_retry_after_longer_than_the_first_wait_delays_the_retry_up_to_the_horizon() -> None:
    asked = DestinationError(503, "busy", "later", retry_after_seconds=400)
    hook = WebhookLike(asked)
    s, _ = sender(hook)
    retries = FakeRetryStore()
    batcher = Batcher(TUNING, s, FakeLedger(), retries, FakeClock())
    message = QueuedMessage(chunk_id="c", step_id="step-1", target=HOOK, users=users(1, "u"), first_enqueued_at=T0)
    record = {"messageId": "m", "body": message.model_dump_json(), "attributes": {"ApproximateReceiveCount": "1"}}
    assert batcher.handle([record], SEND_BY + 60_000) == []
    ((_, first_wait),) = retries.started
    assert first_wait == 400  # not the policy's 60 s: the endpoint asked for longer
    policy = hook.retry_policy
    assert policy.wait_before(1, 30) == 60  # a shorter ask changes nothing
    assert policy.wait_before(2, 5000, elapsed_seconds=1000) == 800  # cut at the horizon (1,800 s)
    assert policy.wait_before(5, float("inf"), elapsed_seconds=1700) == 100  # an endless ask: what is left


def test_waits_a_retry_after_stretched_stay_within_the_thirty_minutes() -> None:
    """Braze's "up to five retries within 30 minutes" holds however long the endpoint asks to wait."""
    policy = WebhookLike.retry_policy
    for asked in (1700.0, 600.0, 5000.0):
        elapsed, attempt, waits = 0.0, 1, []
        while True:
            wait = policy.wait_before(attempt, asked, elapsed)
            waits.append(wait)
            elapsed += wait + 0.5  # the attempt itself takes a moment
            if policy.reached(attempt, elapsed):
                break
            attempt += 1
        assert sum(waits) <= 1800 and attempt <= 5, (asked, waits)
    assert policy.wait_before(3, None, elapsed_seconds=420) == 240  # nothing asked: the schedule's


@pytest.mark.parametrize(
    ("waited_seconds", "wait"),
    [(60, 700), (1500, 300)],  # the endpoint's Retry-After, or what is left of the 30 minutes
)
def test_a_retry_attempt_waits_what_the_endpoint_asked_for_within_the_horizon(waited_seconds: int, wait: int) -> None:
    """Measured in waits, not by the clock: local mode's TIME_SCALE divides the waits, not the horizon's count."""
    hook = WebhookLike(DestinationError(429, "slow", "down", retry_after_seconds=700))
    s, _ = sender(hook)
    retries, clock = FakeRetryStore(), FakeClock()
    # the clock says no time has passed: the waits count
    batch = waiting_batch(retries, clock, "campaign#campaign-7", ["hook_500"], waited_seconds=waited_seconds)
    answer = RetryAttempt(s, FakeLedger(), retries, FakeNotifier(), clock).run(batch.key, 1, clock.now_ms() + 60_000)
    assert (answer["outcome"], answer["wait_seconds"]) == ("retry", wait)
    (following,) = (retries.objects[k] for k in retries.puts)
    assert following.waited_seconds == waited_seconds + wait


@pytest.mark.parametrize(
    ("step_id", "reason", "sent"),
    [
        ("campaign#campaign-7", "not_sent_in_time", {"sent": 1}),  # its first attempt
        ("campaign#campaign-7", "hook_500", {}),  # sent before: counted then
        ("step-1", "not_sent_in_time", {}),  # a step's counters have no `sent`
    ],
)
def test_a_campaigns_first_attempts_are_counted_once(step_id: str, reason: str, sent: dict[str, int]) -> None:
    s, _ = sender(WebhookLike())
    retries, clock, ledger = FakeRetryStore(), FakeClock(), FakeLedger()
    batch = waiting_batch(retries, clock, step_id, [reason])
    RetryAttempt(s, ledger, retries, FakeNotifier(), clock).run(batch.key, 1, clock.now_ms() + 60_000)
    assert ledger.counted(step_id) == {"synced": 1, **sent}


def test_waiting_webhooks_share_retry_batches_and_an_attempt_sends_each_on_its_own() -> None:
    """One execution a webhook would be thousands for one endpoint that is down: a retry batch holds 8 requests of
    one user, and its attempt sends them as 8 requests, each user's outcome its own."""
    down = [DestinationError(503, "down", "later") for _ in range(20)]
    hook = WebhookLike(*down)
    s, _ = sender(hook)
    retries, clock = FakeRetryStore(), FakeClock()
    batcher = Batcher(TUNING, s, FakeLedger(), retries, clock)
    message = QueuedMessage(chunk_id="c", step_id="step-1", target=HOOK, users=users(20, "u"), first_enqueued_at=T0)
    record = {"messageId": "m", "body": message.model_dump_json(), "attributes": {"ApproximateReceiveCount": "1"}}
    assert batcher.handle([record], SEND_BY + 60_000) == []
    batches = [retries.objects[key] for key in retries.puts]
    assert [len(b.users) for b in batches] == [8, 8, 4] and len(retries.started) == 3

    hook.answers = [DestinationError(404, "gone", "no")]  # the first request refused, the other seven taken
    ledger = FakeLedger()
    first = batches[0]
    answer = RetryAttempt(s, ledger, retries, FakeNotifier(), clock).run(first.key, 1, clock.now_ms() + 60_000)
    assert answer["outcome"] == "settled"
    assert len(hook.sent) == 20 + 8  # eight requests of one user (encode takes one user only)
    assert ledger.counted("step-1") == {"synced": 7, "errored": 1, "errored_reason_hook_404": 1}


class StoppedCampaigns:
    def __init__(self, *stopped: str) -> None:
        self.stopped = set(stopped)

    def closed(self, counters_id: str) -> bool:
        return counters_id in self.stopped


def test_a_stopped_campaigns_webhooks_are_not_sent_queued_or_waiting_in_the_retry() -> None:
    hook = WebhookLike()
    s, _ = sender(hook)
    ledger, retries, clock = FakeLedger(), FakeRetryStore(), FakeClock()
    gate = StoppedCampaigns("campaign#stopped")
    batcher = Batcher(TUNING, s, ledger, retries, clock, gate=gate)
    messages = [
        QueuedMessage(chunk_id=c, step_id=f"campaign#{c}", target=HOOK, users=users(2, c), first_enqueued_at=T0)
        for c in ("stopped", "running")
    ]
    records = [{"messageId": m.chunk_id, "body": m.model_dump_json(), "attributes": {}} for m in messages]
    assert batcher.handle(records, SEND_BY + 60_000) == []
    assert [body["user"] for _, body in hook.sent] == ["running0", "running1"]
    assert ledger.counted("campaign#stopped") == {"not_synced": 2, "not_synced_reason_campaign_stopped": 2}
    assert ledger.counted("campaign#running") == {"synced": 2, "sent": 2}

    waiting = waiting_batch(retries, clock, "campaign#stopped", ["hook_500"] * 2)
    answer = RetryAttempt(s, ledger, retries, FakeNotifier(), clock, gate=gate).run(waiting.key, 1, SEND_BY)
    assert answer["outcome"] == "settled" and len(hook.sent) == 2  # nothing more sent
    assert ledger.counted("campaign#stopped")["not_synced_reason_campaign_stopped"] == 4


class StoppedAfter:
    """A campaign stopped once `sent` requests have reached the endpoint (the gate's view of it)."""

    def __init__(self, hook: WebhookLike, sent: int) -> None:
        self.hook, self.sent = hook, sent

    def closed(self, counters_id: str) -> bool:
        return len(self.hook.sent) >= self.sent


def test_a_stop_while_a_rounds_webhooks_wait_for_the_rate_limit_sends_no_more_of_them() -> None:
    """At a campaign's rate a round's requests wait minutes for their tokens: the stop is asked again once each
    token is in hand (the gate was asked once per round, and a stopped campaign's webhooks went on for a minute)."""
    hook = WebhookLike()
    s, _ = sender(hook)
    ledger, retries, clock = FakeLedger(), FakeRetryStore(), FakeClock()
    batcher = Batcher(TUNING, s, ledger, retries, clock, gate=StoppedAfter(hook, 3))
    message = QueuedMessage(chunk_id="c", step_id="campaign#c", target=HOOK, users=users(10, "u"), first_enqueued_at=T0)
    assert batcher.handle([{"messageId": "m", "body": message.model_dump_json(), "attributes": {}}], SEND_BY) == []
    assert len(hook.sent) == 3
    assert ledger.counted("campaign#c") == {
        "synced": 3,
        "sent": 3,
        "not_synced": 7,
        "not_synced_reason_campaign_stopped": 7,
    }
    assert retries.puts == []  # nothing waits in the retry for a stopped campaign


class OpenOnce:
    """A campaign running when a retry attempt starts and stopped by the time its requests have their tokens."""

    def __init__(self) -> None:
        self.asked = 0

    def closed(self, counters_id: str) -> bool:
        self.asked += 1
        return self.asked > 1


def test_a_stop_while_a_retry_attempts_webhooks_wait_for_the_rate_limit_sends_none_of_them() -> None:
    hook = WebhookLike()
    s, _ = sender(hook)
    ledger, retries, clock = FakeLedger(), FakeRetryStore(), FakeClock()
    waiting = waiting_batch(retries, clock, "campaign#c", ["hook_500"] * 4)
    attempt = RetryAttempt(s, ledger, retries, FakeNotifier(), clock, gate=OpenOnce())
    assert attempt.run(waiting.key, 1, SEND_BY)["outcome"] == "settled"
    assert hook.sent == []
    assert ledger.counted("campaign#c")["not_synced_reason_campaign_stopped"] == 4


class Deliveries:
    """pipeline/ports.py DeliveryObserver: records what it is told; `broken` fails every call."""

    def __init__(self, broken: bool = False) -> None:
        self.told: list[tuple[str, list[str]]] = []
        self.broken = broken

    def delivered(self, counters_id: str, delivered: Sequence[QueuedUser]) -> None:
        if self.broken:
            raise RuntimeError("the activity queue is down")
        self.told.append((counters_id, [u["x"] for u in delivered]))


def test_the_users_a_campaigns_webhooks_reached_are_told_before_settling_a_steps_are_not() -> None:
    hook = WebhookLike(None, DestinationError(404, "gone", "no"))  # the second request is refused
    s, _ = sender(hook)
    ledger, retries, clock = FakeLedger(), FakeRetryStore(), FakeClock()
    observer = Deliveries()
    batcher = Batcher(TUNING, s, ledger, retries, clock, observer=observer)
    messages = [
        QueuedMessage(chunk_id=c, step_id=step, target=HOOK, users=users(2, c), first_enqueued_at=T0)
        for c, step in (("c", "campaign#c"), ("s", "step-1"))
    ]
    records = [{"messageId": m.chunk_id, "body": m.model_dump_json(), "attributes": {}} for m in messages]
    assert batcher.handle(records, SEND_BY + 60_000) == []
    assert observer.told == [("campaign#c", ["c0"])]  # c1 was refused; the step's users are never told

    waiting = waiting_batch(retries, clock, "campaign#c", ["hook_500"] * 2)
    RetryAttempt(s, ledger, retries, FakeNotifier(), clock, observer=observer).run(waiting.key, 1, SEND_BY)
    assert observer.told[1:] == [("campaign#c", ["w0", "w1"])]


def test_a_failure_to_record_delivered_webhooks_does_not_hold_their_settling() -> None:
    s, _ = sender(WebhookLike())
    ledger = FakeLedger()
    batcher = Batcher(TUNING, s, ledger, FakeRetryStore(), FakeClock(), observer=Deliveries(broken=True))
    message = QueuedMessage(chunk_id="c", step_id="campaign#c", target=HOOK, users=users(2, "c"), first_enqueued_at=T0)
    assert batcher.handle([{"messageId": "m", "body": message.model_dump_json(), "attributes": {}}], SEND_BY) == []
    assert ledger.counted("campaign#c") == {"synced": 2, "sent": 2}


# ---- each user's own Retry-After ------------------------------------------------------------------
class AnswersByUser(WebhookLike):
    """Each user's requests answered in turn from that user's own script, then taken (a batch's requests of one user
    are sent in parallel, so one shared script would answer them in no set order)."""

    def __init__(self, **scripts: list[DestinationError | None]) -> None:
        super().__init__()
        self.scripts = scripts

    def send(self, credential: str, target: SyncTarget, body: bytes, count: int) -> list[Outcome]:
        user = json.loads(body)["user"]
        self.sent.append((credential, json.loads(body)))
        script = self.scripts.get(user, [])
        answer = script.pop(0) if script else None
        if answer is not None:
            raise answer
        return [SYNCED] * count


def slow_down(seconds: float) -> DestinationError:
    return DestinationError(429, "slow", "down", retry_after_seconds=seconds)


def boom(status: int = 500) -> DestinationError:
    return DestinationError(status, "boom", "later")


def started_waits(retries: FakeRetryStore) -> dict[tuple[str, ...], int]:
    """Each started execution's users and the wait it was started with."""
    return {tuple(u["x"] for u in retries.objects[key].users): wait for key, wait in retries.started}


def test_the_batcher_puts_users_whose_answers_ask_different_waits_in_batches_of_their_own() -> None:
    """One endpoint's Retry-After must not hold back the webhooks next to it in the round (they were one batch, and
    all of them waited the longest ask)."""
    hook = AnswersByUser(
        u0=[slow_down(7200)], u1=[boom()], u2=[DestinationError(408, "late", "x", retry_after_seconds=100)], u3=[boom()]
    )
    s, _ = sender(hook)
    retries = FakeRetryStore()
    batcher = Batcher(TUNING, s, FakeLedger(), retries, FakeClock())
    message = QueuedMessage(chunk_id="c", step_id="campaign#c", target=HOOK, users=users(4, "u"), first_enqueued_at=T0)
    assert batcher.handle([{"messageId": "m", "body": message.model_dump_json(), "attributes": {}}], SEND_BY) == []
    # the policy's 60 s; 100 s asked; 7,200 asked, which the 30 minutes cut
    assert started_waits(retries) == {("u1", "u3"): 60, ("u2",): 100, ("u0",): 1800}
    for key, wait in retries.started:
        assert retries.objects[key].waited_seconds == retries.objects[key].wait_seconds == wait


def run_every_execution(attempt: RetryAttempt, retries: FakeRetryStore, first: RetryBatch) -> dict[str, list[int]]:
    """Run the retry to its end as Step Functions would: the first execution, and every execution an attempt starts,
    each attempt by attempt. Returns the waits each user waited before each of its attempts."""
    pending = [(first.key, 1, first.waited_seconds)]
    waits: dict[str, list[int]] = {}
    while pending:
        key, number, wait = pending.pop(0)
        for user in retries.objects[key].users:
            waits.setdefault(user["x"], []).append(wait)
        already_started = len(retries.started)
        answer = attempt.run(key, number, SEND_BY)
        pending += [(k, number + 1, w) for k, w in retries.started[already_started:]]
        if answer["outcome"] == "retry":
            pending.append((answer["key"], answer["attempt"], answer["wait_seconds"]))
    return waits


def test_each_retried_webhook_waits_its_own_answers_retry_after_and_gets_its_five_retries() -> None:
    """docs/campaigns.md, "Delivery: one pipeline, Braze's rules": each retry waits at least what its own answer
    asked for, up to five in 30 minutes. A neighbour asking 2 hours used to set the wait for the whole batch: w1 then
    had 2 attempts, not the 4 it needed, and was counted failed."""
    hook = AnswersByUser(w0=[slow_down(7200)] * 5, w1=[boom(), boom(), boom(503)], w2=[slow_down(300)])
    s, _ = sender(hook)
    ledger, retries, clock = FakeLedger(), FakeRetryStore(), FakeClock()
    first = waiting_batch(retries, clock, "campaign#c", ["hook_500"] * 3, waited_seconds=60)
    waits = run_every_execution(RetryAttempt(s, ledger, retries, FakeNotifier(), clock), retries, first)
    assert waits == {
        "w0": [60, 1740],  # asked 2 hours: what is left of the 30 minutes, then counted failed at the horizon
        "w1": [60, 120, 240, 480],  # the schedule's, as if alone: taken at its fourth attempt
        "w2": [60, 300],  # the 300 s it asked for
    }
    assert [body["user"] for _, body in hook.sent].count("w1") == 4
    assert ledger.counted("campaign#c") == {"synced": 2, "errored": 1, "errored_reason_retry_horizon_hook_429": 1}
    assert retries.objects == {}  # every batch settled and deleted


@pytest.fixture
def ids_against_the_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Next batches get ids in falling order, so the ledger's sorted keys put the longest wait first: an answer read
    back from the ledger is right only if it is put in the order of the waits again."""
    from audience_sync.pipeline import retry_attempt

    counter = iter(range(2**32, 0, -1))
    monkeypatch.setattr(retry_attempt.uuid, "uuid4", lambda: uuid.UUID(int=next(counter)))


@pytest.mark.usefixtures("ids_against_the_waits")
def test_an_attempt_that_failed_before_starting_its_other_batches_starts_them_when_retried() -> None:
    """The ledger recorded the attempt with both next batches; its start of the second failed (Step Functions
    retries the task). The retried task sends and counts nothing again, answers the same and starts the second."""
    hook = AnswersByUser(w0=[slow_down(300)], w1=[boom()])
    s, _ = sender(hook)
    ledger, retries, clock = FakeLedger(), FakeRetryStore(), FakeClock()
    first = waiting_batch(retries, clock, "campaign#c", ["hook_500"] * 2, waited_seconds=60)
    attempt = RetryAttempt(s, ledger, retries, FakeNotifier(), clock)
    failures = [StoreUnavailable("retry.start", "throttled")]
    retries.fail_start = lambda batch: failures.pop() if failures else None
    with pytest.raises(StoreUnavailable):
        attempt.run(first.key, 1, SEND_BY)
    assert retries.started == []
    answer = attempt.run(first.key, 1, SEND_BY)
    assert (answer["outcome"], answer["attempt"], answer["wait_seconds"]) == ("retry", 2, 120)
    assert [u["x"] for u in retries.objects[answer["key"]].users] == ["w1"]
    assert started_waits(retries) == {("w0",): 300}
    assert len(hook.sent) == 2 and ledger.counted("campaign#c") == {}


@pytest.mark.usefixtures("ids_against_the_waits")
def test_a_retried_attempt_whose_other_execution_already_settled_answers_the_same() -> None:
    """The other execution ran its attempt and deleted its batch before Step Functions retried this task (a timeout
    after the ledger write): the retried task answers as the first try did and starts nothing. It used to read that
    batch, fail at every try, and leave its own next batch's users neither retried nor counted."""
    hook = AnswersByUser(w0=[slow_down(300)], w1=[boom()])
    s, _ = sender(hook)
    ledger, retries, clock = FakeLedger(), FakeRetryStore(), FakeClock()
    first = waiting_batch(retries, clock, "campaign#c", ["hook_500"] * 2, waited_seconds=60)
    attempt = RetryAttempt(s, ledger, retries, FakeNotifier(), clock)
    answer = attempt.run(first.key, 1, SEND_BY)
    ((other, _),) = retries.started
    assert attempt.run(other, 2, SEND_BY)["outcome"] == "settled" and other not in retries.objects
    assert attempt.run(first.key, 1, SEND_BY) == answer
    assert len(retries.started) == 1 and ledger.counted("campaign#c") == {"synced": 1}


def test_a_message_delivered_again_starts_its_batch_after_the_wait_the_batch_asked_for() -> None:
    """The start failed, so the settled message came back: its batch is started from what the batch says (1,800 s:
    2 hours asked, cut at the 30 minutes), not the policy's first 60 s (its one retry then found the horizon
    reached, and the user was counted failed)."""
    hook = AnswersByUser(u0=[slow_down(7200)])
    s, _ = sender(hook)
    retries, ledger = FakeRetryStore(), FakeLedger()
    failures = [StoreUnavailable("retry.start", "throttled")]
    retries.fail_start = lambda batch: failures.pop() if failures else None
    batcher = Batcher(TUNING, s, ledger, retries, FakeClock())
    message = QueuedMessage(chunk_id="c", step_id="campaign#c", target=HOOK, users=users(1, "u"), first_enqueued_at=T0)
    record = {"messageId": "m", "body": message.model_dump_json(), "attributes": {}}
    assert batcher.handle([record], SEND_BY) == ["m"]  # back to the queue
    again = {**record, "attributes": {"ApproximateReceiveCount": "2"}}
    assert batcher.handle([again], SEND_BY) == []
    ((key, wait),) = retries.started
    assert wait == retries.objects[key].wait_seconds == 1800
    assert len(hook.sent) == 1  # not sent again


def test_a_message_delivered_again_does_not_start_a_batch_that_is_gone() -> None:
    """Its execution started before, settled the batch and deleted it: starting it again would find it finished."""
    s, _ = sender(AnswersByUser(u0=[boom()]))
    retries, ledger = FakeRetryStore(), FakeLedger()
    batcher = Batcher(TUNING, s, ledger, retries, FakeClock())
    message = QueuedMessage(chunk_id="c", step_id="campaign#c", target=HOOK, users=users(1, "u"), first_enqueued_at=T0)
    record = {"messageId": "m", "body": message.model_dump_json(), "attributes": {}}
    assert batcher.handle([record], SEND_BY) == []
    ((key, _),) = retries.started
    retries.delete(key)
    assert batcher.handle([{**record, "attributes": {"ApproximateReceiveCount": "2"}}], SEND_BY) == []
    assert len(retries.started) == 1

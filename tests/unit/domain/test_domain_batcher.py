"""The Batcher with a hand-written fake for every collaborator: no AWS, no network, no sleeping."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from audience_sync.batcher import NOT_SENT_IN_TIME, Batcher, Outcome, element_outcome
from audience_sync.connections import AccessToken, NotConnected
from audience_sync.linkedin.client import ElementResult
from audience_sync.linkedin.errors import LinkedInError
from audience_sync.linkedin.oauth import OAuthError
from audience_sync.metrics import StepDelta
from audience_sync.normalise import QueuedUser, hash_email
from audience_sync.publisher import PublishError
from audience_sync.queue_message import QueuedMessage, SyncTarget
from audience_sync.retry import retry_delay_seconds
from audience_sync.settings import Settings

T0 = 1_790_000_000_000
DEADLINE = T0 + 900_000
AUD_A = SyncTarget(connection_id="linkedin", ad_account_id="507", audience_id="100", action="add")
AUD_B = SyncTarget(connection_id="linkedin", ad_account_id="507", audience_id="200", action="add")


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "steps_table": "steps",
        "metrics_table": "metrics",
        "connections_table": "connections",
        "rate_limit_table": "rate",
        "idempotency_table": "idem",
        "sync_queue_url": "https://sqs.test/queue",
        "token_key_id": "key",
        "linkedin_app_secret_arn": "arn:app",
        "oauth_state_secret_arn": "arn:state",
        "linkedin_api_url": "https://api.test/rest",
        "linkedin_oauth_url": "https://api.test/oauth/v2",
        "linkedin_client_id": "cid",
        "linkedin_version": "202609",
        "linkedin_source_platform": "",
        "oauth_redirect_uri": "",
        "max_elements": 5000,
        "requests_per_second": 10.0,
        "rate_headroom_percent": 8.0,
        "retry_horizon_seconds": 46_800,
        "flush_seconds": 5,
        "time_scale": 1.0,
    }
    values.update(overrides)
    return Settings(**values)


# ---- fakes ------------------------------------------------------------------------------------
class FakeClock:
    def __init__(self, now_ms: int = T0):
        self.now = now_ms
        self.sleeps: list[float] = []

    def now_ms(self) -> int:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += round(seconds * 1000)


@dataclass
class FakeConnections:
    refresh_raises: Exception | None = None
    access_raises: Exception | None = None
    refreshed: list[AccessToken] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    linkedin: Any = None

    def access_token(self) -> AccessToken:
        if self.access_raises:
            raise self.access_raises
        return AccessToken("token-1", 1)

    def refresh(self, stale: AccessToken | None = None) -> AccessToken:
        assert stale is not None
        self.refreshed.append(stale)
        if self.refresh_raises:
            raise self.refresh_raises
        return AccessToken("token-2", 2)

    def mark_invalid(self, reason: str) -> None:
        self.invalid.append(reason)


@dataclass
class FakeMetrics:
    applied: list[tuple[str, dict[str, int]]] = field(default_factory=list)

    def apply(self, step_id: str, delta: StepDelta) -> dict[str, Any]:
        assert delta, "an empty delta would cost a DynamoDB write for nothing"
        self.applied.append((step_id, delta.attributes()))
        return {}

    @property
    def counted(self) -> list[tuple[str, dict[str, int]]]:
        """Applied deltas that change a counter (an empty delta is a no-op for the real store)."""
        return [(step_id, attrs) for step_id, attrs in self.applied if attrs]


@dataclass
class FakeSteps:
    errors: list[tuple[str, str]] = field(default_factory=list)

    def set_error(self, step_id: str, code: str) -> None:
        self.errors.append((step_id, code))


@dataclass
class FakeBucket:
    grant: bool | list[bool] = True
    deadlines: list[int] = field(default_factory=list)

    def acquire(self, deadline_ms: int) -> bool:
        self.deadlines.append(deadline_ms)
        if isinstance(self.grant, list):
            return self.grant.pop(0)
        return self.grant


@dataclass
class Sent:
    bodies: list[str]
    delay_seconds: int
    correlation_id: str | None

    @property
    def messages(self) -> list[QueuedMessage]:
        return [QueuedMessage.model_validate_json(b) for b in self.bodies]


@dataclass
class FakePublisher:
    fail_for_steps: set[str] = field(default_factory=set)
    sent: list[Sent] = field(default_factory=list)

    def send(self, bodies: list[str], delay_seconds: int = 0, correlation_id: str | None = None) -> None:
        steps = {QueuedMessage.model_validate_json(b).step_id for b in bodies}
        if steps & self.fail_for_steps:
            raise PublishError("refused")
        self.sent.append(Sent(list(bodies), delay_seconds, correlation_id))


Answer = LinkedInError | Callable[[list[dict[str, Any]]], list[ElementResult]]


@dataclass
class Call:
    token: str
    segment_id: str
    elements: list[dict[str, Any]]
    expected: int
    at_ms: int


class FakeLinkedIn:
    """Answers from a script; with the script exhausted, every element is accepted."""

    def __init__(self, clock: FakeClock, *script: Answer):
        self.clock = clock
        self.script = list(script)
        self.calls: list[Call] = []

    def send_users(self, token: str, segment_id: str, body: bytes, expected: int) -> list[ElementResult]:
        elements = json.loads(body)["elements"]
        assert len(elements) == expected
        self.calls.append(Call(token, segment_id, elements, expected, self.clock.now_ms()))
        answer = self.script.pop(0) if self.script else None
        if isinstance(answer, LinkedInError):
            raise answer
        if answer is None:
            return [ElementResult(201)] * expected
        return answer(elements)


@dataclass
class World:
    clock: FakeClock
    connections: FakeConnections
    metrics: FakeMetrics
    steps: FakeSteps
    bucket: FakeBucket
    publisher: FakePublisher
    linkedin: FakeLinkedIn
    batcher: Batcher

    def run(self, *messages: QueuedMessage | dict[str, Any]) -> list[str]:
        return self.batcher.handle([m if isinstance(m, dict) else record(m) for m in messages], DEADLINE)


def world(
    *script: Answer,
    bucket: FakeBucket | None = None,
    publisher: FakePublisher | None = None,
    connections: FakeConnections | None = None,
    clock: FakeClock | None = None,
    **config: Any,
) -> World:
    clock = clock or FakeClock()
    linkedin = FakeLinkedIn(clock, *script)
    parts = {
        "connections": connections or FakeConnections(),
        "metrics": FakeMetrics(),
        "steps": FakeSteps(),
        "bucket": bucket or FakeBucket(),
        "publisher": publisher or FakePublisher(),
    }
    parts["connections"].linkedin = linkedin
    batcher = Batcher(settings(**config), clock=clock, linkedin=linkedin, **parts)  # type: ignore[arg-type]
    return World(clock=clock, linkedin=linkedin, batcher=batcher, **parts)  # type: ignore[arg-type]


_ids = iter(range(10**9))


def users(n: int, prefix: str) -> list[QueuedUser]:
    return [{"x": f"{prefix}{i}", "e": hash_email(f"{prefix}{i}@example.com") or ""} for i in range(n)]


def message(target: SyncTarget, n: int, prefix: str, step_id: str = "step-1", **fields: Any) -> QueuedMessage:
    data: dict[str, Any] = {"first_enqueued_at": T0 - 1000, "correlation_id": f"corr-{prefix}", **fields}
    return QueuedMessage(step_id=step_id, target=target, users=users(n, prefix), **data)


def record(m: QueuedMessage) -> dict[str, Any]:
    return {"messageId": f"msg-{m.users[0]['x']}-{next(_ids)}", "body": m.model_dump_json()}


def hashes(prefix: str, ids: range) -> set[str]:
    return {hash_email(f"{prefix}{i}@example.com") or "" for i in ids}


def sent_hashes(call: Call) -> set[str]:
    return {uid["idValue"] for e in call.elements for uid in e["userIds"]}


def statuses(mapping: dict[int, ElementResult]) -> Callable[[list[dict[str, Any]]], list[ElementResult]]:
    """Element i gets mapping[i], the others 201."""
    return lambda elements: [mapping.get(i, ElementResult(201)) for i in range(len(elements))]


# ---- element_outcome -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (ElementResult(201), Outcome("synced")),
        (ElementResult(200), Outcome("synced")),
        (ElementResult(400, "INVALID_ID", "bad"), Outcome("errored", "linkedin_400_invalid_id")),
        (ElementResult(422), Outcome("errored", "linkedin_422_invalid_element")),
        (ElementResult(429), Outcome("deferred", "linkedin_element_429")),
        (ElementResult(500, "missing_result"), Outcome("deferred", "linkedin_element_500")),
        (ElementResult(503), Outcome("deferred", "linkedin_element_503")),
    ],
)
def test_element_outcome(result: ElementResult, expected: Outcome) -> None:
    assert element_outcome(result) == expected


# ---- packing into requests ----------------------------------------------------------------------
def test_two_audiences_two_requests_never_mixed() -> None:
    w = world()
    failed = w.run(message(AUD_A, 3, "a"), message(AUD_B, 2, "b", step_id="step-2"), message(AUD_A, 2, "c"))
    assert failed == []
    assert sorted((c.segment_id, c.expected) for c in w.linkedin.calls) == [("100", 5), ("200", 2)]
    by_segment = {c.segment_id: c for c in w.linkedin.calls}
    assert sent_hashes(by_segment["100"]) == hashes("a", range(3)) | hashes("c", range(2))
    assert sent_hashes(by_segment["200"]) == hashes("b", range(2))
    for call in w.linkedin.calls:
        assert call.token == "token-1"
        assert {e["action"] for e in call.elements} == {"ADD"}
    assert sorted(w.metrics.applied) == [("step-1", {"synced": 5}), ("step-2", {"synced": 2})]
    assert w.publisher.sent == []


def test_12000_users_in_5000_element_requests() -> None:
    w = world(max_elements=5000)
    failed = w.run(*[message(AUD_A, 1000, f"m{i}-") for i in range(12)])
    assert failed == []
    assert [c.expected for c in w.linkedin.calls] == [5000, 5000, 2000]
    assert len(w.bucket.deadlines) == 3
    assert w.metrics.applied == [("step-1", {"synced": 12_000})]


# ---- per-element results --------------------------------------------------------------------------
def test_element_400_errors_only_that_user() -> None:
    w = world(statuses({1: ElementResult(400, "INVALID_ID", "bad hash")}))
    failed = w.run(message(AUD_A, 3, "a"), message(AUD_A, 2, "b"), message(AUD_A, 1, "c", step_id="step-2"))
    assert failed == []
    assert len(w.linkedin.calls) == 1
    assert sorted(w.metrics.applied) == [
        ("step-1", {"synced": 4, "errored": 1, "errored_reason_linkedin_400_invalid_id": 1}),
        ("step-2", {"synced": 1}),
    ]
    assert w.publisher.sent == []


@pytest.mark.parametrize("status", [429, 500])
def test_element_retry_statuses_are_deferred_not_counted(status: int) -> None:
    w = world(statuses({0: ElementResult(status), 2: ElementResult(status)}))
    failed = w.run(message(AUD_A, 4, "a", attempt=2))
    assert failed == []
    assert w.metrics.applied == [("step-1", {"synced": 2})]
    (sent,) = w.publisher.sent
    assert sent.delay_seconds == retry_delay_seconds(2) == 20
    assert sent.correlation_id == "corr-a"
    (retry,) = sent.messages
    assert [u["x"] for u in retry.users] == ["a0", "a2"]
    assert retry.attempt == 3
    assert retry.last_error == f"linkedin_element_{status}"
    assert retry.first_enqueued_at == T0 - 1000
    assert retry.target == AUD_A


def test_retry_delay_is_scaled() -> None:
    w = world(statuses({0: ElementResult(500)}), time_scale=10)
    w.run(message(AUD_A, 1, "a", attempt=3))
    assert w.publisher.sent[0].delay_seconds == retry_delay_seconds(3, 10) == 4


# ---- request-level failures -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (LinkedInError(429, "TOO_MANY_REQUESTS", "slow down"), "linkedin_429_too_many_requests"),
        (LinkedInError(500, "error", "boom"), "linkedin_500_error"),
        (LinkedInError(0, "timeout", "ReadTimeout"), "linkedin_timeout"),
    ],
)
def test_request_level_retryable_errors_defer_everyone(error: LinkedInError, reason: str) -> None:
    w = world(error)
    failed = w.run(message(AUD_A, 3, "a"), message(AUD_A, 2, "b"))
    assert failed == []
    assert w.metrics.counted == []
    assert len(w.publisher.sent) == 2
    for sent in w.publisher.sent:
        (retry,) = sent.messages
        assert retry.attempt == 1
        assert retry.last_error == reason
        assert sent.delay_seconds == 5
    assert sorted(len(s.messages[0].users) for s in w.publisher.sent) == [2, 3]


def test_401_then_refresh_resends_once_and_syncs() -> None:
    w = world(LinkedInError(401, "INVALID_ACCESS_TOKEN", "Invalid access token"))
    assert w.run(message(AUD_A, 2, "a")) == []
    assert [c.token for c in w.linkedin.calls] == ["token-1", "token-2"]
    assert w.connections.refreshed == [AccessToken("token-1", 1)]
    assert w.connections.invalid == []
    assert w.metrics.applied == [("step-1", {"synced": 2})]
    assert len(w.bucket.deadlines) == 2  # the resend takes its own rate-limit token


def test_401_and_dead_refresh_defers_with_invalid_token() -> None:
    w = world(
        LinkedInError(401, "INVALID_ACCESS_TOKEN", "Invalid access token"),
        connections=FakeConnections(refresh_raises=NotConnected("invalid_token")),
    )
    assert w.run(message(AUD_A, 2, "a")) == []
    assert len(w.linkedin.calls) == 1
    assert w.metrics.counted == []
    (sent,) = w.publisher.sent
    assert sent.messages[0].last_error == "linkedin_invalid_token"


def test_401_while_linkedins_token_endpoint_is_down_defers_instead_of_failing_the_batch() -> None:
    w = world(
        LinkedInError(401, "EXPIRED_ACCESS_TOKEN", "Expired access token"),
        connections=FakeConnections(refresh_raises=OAuthError(503, "unreachable", "Service Unavailable")),
    )
    assert w.run(message(AUD_A, 2, "a")) == []  # no batch item failure: the users are in the retry
    assert w.connections.invalid == []  # a transient outage does not disconnect anyone
    assert w.publisher.sent[0].messages[0].last_error == "linkedin_refresh_unreachable"
    assert w.metrics.counted == []


def test_401_twice_marks_the_connection_invalid() -> None:
    error = LinkedInError(401, "REVOKED_ACCESS_TOKEN", "revoked")
    w = world(error, error)
    assert w.run(message(AUD_A, 2, "a")) == []
    assert len(w.linkedin.calls) == 2
    assert w.connections.invalid == ["linkedin_401_revoked_access_token"]
    assert w.publisher.sent[0].messages[0].last_error == "linkedin_invalid_token"
    assert w.metrics.counted == []


def test_not_connected_defers() -> None:
    w = world(connections=FakeConnections(access_raises=NotConnected("disconnected")))
    assert w.run(message(AUD_A, 1, "a")) == []
    assert w.linkedin.calls == []
    assert w.publisher.sent[0].messages[0].last_error == "linkedin_disconnected"


def test_403_sets_the_step_error() -> None:
    w = world(LinkedInError(403, "ACCESS_DENIED", "Not enough permissions"))
    w.run(message(AUD_A, 1, "a"), message(AUD_A, 1, "b", step_id="step-2"))
    assert sorted(w.steps.errors) == [("step-1", "ad_account_access"), ("step-2", "ad_account_access")]
    assert w.metrics.counted == []
    assert {s.messages[0].last_error for s in w.publisher.sent} == {"linkedin_403_access_denied"}


# ---- records, rate limit, publishing ---------------------------------------------------------------
def test_unreadable_records_are_failures_others_processed() -> None:
    w = world()
    good = message(AUD_A, 2, "a")
    failed = w.run(
        {"messageId": "garbage", "body": "{not json"},
        {"messageId": "wrong-shape", "body": json.dumps({"step_id": "s"})},
        {"messageId": "no-body"},
        good,
    )
    assert failed == ["garbage", "wrong-shape", "no-body"]
    assert w.metrics.applied == [("step-1", {"synced": 2})]


def test_no_rate_limit_token_in_time_defers_every_message_without_counting() -> None:
    w = world(bucket=FakeBucket(grant=False))
    records = [record(message(AUD_A, 2, "a")), record(message(AUD_B, 1, "b"))]
    failed = w.batcher.handle(records, DEADLINE)
    assert failed == []  # deferred, not left to the visibility timeout and the DLQ
    assert w.linkedin.calls == []
    assert w.metrics.counted == []
    retried = sorted(u["x"] for sent in w.publisher.sent for m in sent.messages for u in m.users)
    assert retried == ["a0", "a1", "b0"]
    assert {m.last_error for sent in w.publisher.sent for m in sent.messages} == {NOT_SENT_IN_TIME}
    assert set(w.bucket.deadlines) == {DEADLINE - 35_000}


def test_partly_sent_message_defers_the_unsent_users() -> None:
    w = world(bucket=FakeBucket(grant=[True, False]), max_elements=2)
    failed = w.run(message(AUD_A, 3, "a"))
    assert failed == []
    assert w.metrics.applied == [("step-1", {"synced": 2})]
    (retry,) = w.publisher.sent[0].messages
    assert [u["x"] for u in retry.users] == ["a2"]
    assert retry.last_error == NOT_SENT_IN_TIME


def test_publish_error_fails_that_message_and_counts_none_of_it() -> None:
    w = world(statuses({0: ElementResult(500)}), publisher=FakePublisher(fail_for_steps={"step-1"}))
    bad = record(message(AUD_A, 3, "a", step_id="step-1"))
    ok = record(message(AUD_A, 2, "b", step_id="step-2"))
    failed = w.batcher.handle([bad, ok], DEADLINE)
    assert failed == [bad["messageId"]]
    assert w.metrics.applied == [("step-2", {"synced": 2})]  # step-1's two synced users are not counted


def test_past_the_horizon_deferred_users_are_errored() -> None:
    horizon = 46_800
    w = world(statuses({1: ElementResult(503)}))
    old = message(AUD_A, 3, "a", first_enqueued_at=T0 - horizon * 1000)
    assert w.run(old) == []
    assert w.publisher.sent == []
    assert w.metrics.applied == [
        ("step-1", {"synced": 2, "errored": 1, "errored_reason_retry_horizon_linkedin_element_503": 1})
    ]


def test_just_inside_the_horizon_is_retried() -> None:
    w = world(statuses({1: ElementResult(503)}))
    assert w.run(message(AUD_A, 3, "a", first_enqueued_at=T0 - 46_800_000 + 1)) == []
    assert len(w.publisher.sent) == 1
    assert w.metrics.applied == [("step-1", {"synced": 2})]


def test_new_audience_waits_five_seconds_after_creation() -> None:
    clock = FakeClock()
    target = AUD_A.model_copy(update={"audience_created_at": T0 - 2000})
    w = world(clock=clock)
    assert w.run(message(target, 1, "a")) == []
    assert clock.sleeps == [pytest.approx(3.0)]
    (call,) = w.linkedin.calls
    assert call.at_ms >= T0 - 2000 + 5000
    assert w.metrics.applied == [("step-1", {"synced": 1})]


def test_old_audience_does_not_wait() -> None:
    clock = FakeClock()
    w = world(clock=clock)
    w.run(message(AUD_A.model_copy(update={"audience_created_at": T0 - 60_000}), 1, "a"))
    assert clock.sleeps == []
    assert w.linkedin.calls[0].at_ms == T0

"""sender.py: one LinkedIn request and what each answer means for its users (every row of the docstring table)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence

import pytest

from audience_sync.connections.errors import NotConnected
from audience_sync.connections.session import AccessToken
from audience_sync.destinations.base import NOT_SENT, NOT_SENT_IN_TIME, SYNCED, Outcome, SyncTarget
from audience_sync.destinations.linkedin.audiences import (
    AUDIENCE_NOT_FOUND_AFTER_ATTEMPT,
    AUDIENCE_NOT_FOUND_GRACE_MS,
    AUDIENCE_PROPAGATION_MS,
)
from audience_sync.destinations.linkedin.client import ElementResult
from audience_sync.destinations.linkedin.destination import element_outcome
from audience_sync.destinations.linkedin.errors import LinkedInError
from audience_sync.destinations.linkedin.oauth import oauth_error
from audience_sync.observability.request_metrics import metric_names
from audience_sync.pipeline import sender as sender_module
from audience_sync.pipeline.sender import CORRELATION_IDS_PER_LINE
from audience_sync.steps.records import SYNC_ERRORS
from tests.fakes.sync_fakes import (
    AUD_A,
    T0,
    Answer,
    FakeBucket,
    FakeClock,
    FakeConnections,
    FakeSteps,
    SenderWorld,
    hashes,
    sender_world,
    statuses,
    store_error,
    users,
)

SEND_BY = T0 + 60_000
REQUESTS, THROTTLED, _, LATENCY = metric_names("LinkedIn")
STEPS = ["step-2", "step-1"]


def send(
    w: SenderWorld,
    n: int = 3,
    *,
    attempt: int = 0,
    target: SyncTarget = AUD_A,
    steps: Sequence[str] = tuple(STEPS),
    send_by: int = SEND_BY,
) -> list[Outcome]:
    return w.sender.send(target, users(n, "u"), steps, send_by, attempt=attempt)


def emf_blobs(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{") and "_aws" in line]


# ---- element results ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (ElementResult(201), SYNCED),
        (ElementResult(200), SYNCED),
        (ElementResult(400, "INVALID_ID", "bad"), Outcome("errored", "linkedin_400_invalid_id")),
        (ElementResult(422), Outcome("errored", "linkedin_422_invalid_element")),
        (ElementResult(404, "NOT_FOUND"), Outcome("errored", "linkedin_404_not_found")),
        (ElementResult(429), Outcome("retry", "linkedin_element_429")),
        (ElementResult(409), Outcome("retry", "linkedin_element_409")),
        (ElementResult(500, "missing_result"), Outcome("retry", "linkedin_element_500")),
        (ElementResult(503), Outcome("retry", "linkedin_element_503")),
    ],
)
def test_element_outcome(result: ElementResult, expected: Outcome) -> None:
    assert element_outcome(result) == expected


# ---- 2xx ---------------------------------------------------------------------------------------
def test_accepted_request_syncs_everyone_in_one_request() -> None:
    w = sender_world()
    assert send(w, 3) == [SYNCED] * 3
    (call,) = w.linkedin.calls
    assert call.token == "token-1"
    assert call.segment_id == "100"
    assert call.hashes == hashes("u", range(3))
    assert {e["action"] for e in call.elements} == {"ADD"}
    assert w.bucket.deadlines == [SEND_BY]  # one rate-limit token, with the caller's deadline
    assert w.sender.requests_sent == 1
    assert w.notifier.sent == []


def test_remove_action_is_sent_as_remove() -> None:
    w = sender_world()
    send(w, 1, target=AUD_A.model_copy(update={"action": "remove"}))
    assert w.linkedin.calls[0].elements[0]["action"] == "REMOVE"


def test_element_4xx_errors_only_that_user_and_element_5xx_retries_only_that_user() -> None:
    w = sender_world(statuses({1: ElementResult(400, "INVALID_ID", "bad hash"), 3: ElementResult(503)}))
    assert send(w, 5) == [
        SYNCED,
        Outcome("errored", "linkedin_400_invalid_id"),
        SYNCED,
        Outcome("retry", "linkedin_element_503"),
        SYNCED,
    ]
    assert len(w.linkedin.calls) == 1


def test_success_clears_the_sync_errors_of_every_step_in_the_request() -> None:
    steps = FakeSteps(errors={"step-1": "ad_account_access", "step-2": "audience_not_found", "step-3": "other"})
    w = sender_world(steps=steps)
    send(w, 1, steps=["step-1", "step-2", "step-3", "step-1"])
    assert steps.clear_calls == [(s, SYNC_ERRORS) for s in ("step-1", "step-2", "step-3")]
    assert set(SYNC_ERRORS) == {"ad_account_access", "audience_not_found"}
    assert steps.errors == {"step-3": "other"}  # only errors the sync itself sets are cleared
    assert w.notifier.sent == []


def test_element_errors_still_clear_step_errors_because_the_request_was_accepted() -> None:
    steps = FakeSteps(errors={"step-1": "ad_account_access"})
    w = sender_world(statuses({0: ElementResult(400)}), steps=steps)
    send(w, 1, steps=["step-1"])
    assert steps.errors == {}


# ---- request-level retryable failures ------------------------------------------------------------
@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (LinkedInError(500, "error", "boom"), "linkedin_500_error"),
        (LinkedInError(502, "error", "bad gateway"), "linkedin_502_error"),
        (LinkedInError(503, "error", "unavailable"), "linkedin_503_error"),
        (LinkedInError(408, "error", "timeout"), "linkedin_408_error"),
        (LinkedInError(409, "CONFLICT", "busy"), "linkedin_409_conflict"),
        (LinkedInError(423, "LOCKED", "locked"), "linkedin_423_locked"),
        (LinkedInError(0, "timeout", "ReadTimeout"), "linkedin_timeout"),
        (LinkedInError(0, "connection_error", "ConnectionError"), "linkedin_connection_error"),
    ],
)
def test_request_5xx_and_timeouts_retry_everyone(error: LinkedInError, reason: str) -> None:
    steps = FakeSteps(errors={"step-1": "ad_account_access"})
    w = sender_world(error, steps=steps)
    assert send(w, 3) == [Outcome("retry", reason)] * 3
    assert len(w.linkedin.calls) == 1  # no resend inside the request: the retry schedule spaces them
    assert steps.set_calls == []
    assert steps.clear_calls == []  # a failure proves nothing: the step error stays
    assert steps.errors == {"step-1": "ad_account_access"}
    assert w.connections.invalid == []
    assert w.notifier.sent == []


def test_a_throttled_request_is_sent_once_more_with_a_new_token() -> None:
    """A request that reached LinkedIn a moment late bunches with the next one into its window: one resend (paced by
    the bucket) instead of the retry's first delay."""
    w = sender_world(LinkedInError(429, "TOO_MANY_REQUESTS", "slow down"))
    assert send(w, 3) == [SYNCED] * 3
    assert len(w.linkedin.calls) == 2 and len(w.bucket.deadlines) == 2  # a token each


def test_throttled_twice_the_users_wait_in_the_retry() -> None:
    throttled = LinkedInError(429, "TOO_MANY_REQUESTS", "slow down")
    w = sender_world(throttled, throttled)
    assert send(w, 3) == [Outcome("retry", "linkedin_429_too_many_requests")] * 3
    assert len(w.linkedin.calls) == 2


def _throttled(retry_after_seconds: float) -> LinkedInError:
    error = LinkedInError(429, "TOO_MANY_REQUESTS", "slow down")
    error.retry_after_seconds = retry_after_seconds
    return error


def test_a_short_retry_after_is_waited_before_the_resend() -> None:
    w = sender_world(_throttled(1.5))
    assert send(w) == [SYNCED] * 3
    assert w.clock.sleeps == [1.5]


def test_a_long_retry_after_or_a_near_deadline_leaves_the_users_to_the_retry() -> None:
    w = sender_world(_throttled(30))  # the retry's schedule honours it: a resend now would be throttled again
    assert send(w) == [Outcome("retry", "linkedin_429_too_many_requests", wait_seconds=30)] * 3
    assert len(w.linkedin.calls) == 1 and w.clock.sleeps == []
    late = sender_world(_throttled(1))
    assert (
        send(late, send_by=late.clock.now_ms() + 500)
        == [Outcome("retry", "linkedin_429_too_many_requests", wait_seconds=1)] * 3
    )
    assert len(late.linkedin.calls) == 1 and late.clock.sleeps == []


def test_a_429_then_a_401_still_refreshes_the_token_once() -> None:
    """The resend after a throttle is not the refresh's second try: an expired token met then is refreshed."""
    w = sender_world(
        LinkedInError(429, "TOO_MANY_REQUESTS", "slow down"), LinkedInError(401, "EXPIRED_ACCESS_TOKEN", "expired")
    )
    assert send(w, 2) == [SYNCED] * 2
    assert [c.token for c in w.linkedin.calls] == ["token-1", "token-1", "token-2"]
    assert w.connections.refreshed == [AccessToken("token-1", 1)] and w.connections.invalid == []


def test_426_version_sunset_is_retried_without_a_step_error() -> None:
    """The LinkedInVersionSunset metric is the client's, whichever request met the 426 (test_client.py)."""
    w = sender_world(LinkedInError(426, "VERSION_MISSING", "version sunset"))
    assert send(w, 2) == [Outcome("retry", "linkedin_426_version_missing")] * 2
    assert w.steps.set_calls == []
    assert w.notifier.sent == []


# ---- 401 -----------------------------------------------------------------------------------------
def test_401_refreshes_once_and_resends_with_the_new_token() -> None:
    w = sender_world(LinkedInError(401, "INVALID_ACCESS_TOKEN", "Invalid access token"))
    assert send(w, 2) == [SYNCED] * 2
    assert [c.token for c in w.linkedin.calls] == ["token-1", "token-2"]
    assert w.connections.refreshed == [AccessToken("token-1", 1)]
    assert w.connections.invalid == []
    assert len(w.bucket.deadlines) == 2  # the resend takes its own rate-limit token
    assert w.sender.requests_sent == 2


def test_401_with_a_dead_grant_retries_with_invalid_token_without_a_resend() -> None:
    w = sender_world(
        LinkedInError(401, "INVALID_ACCESS_TOKEN", "Invalid access token"),
        connections=FakeConnections(refresh_raises=NotConnected("invalid_token")),
    )
    assert send(w, 2) == [Outcome("retry", "linkedin_invalid_token")] * 2
    assert len(w.linkedin.calls) == 1
    assert w.connections.invalid == []  # ConnectionService.refresh marked (and notified) it already


def test_401_while_linkedins_oauth_is_down_retries_and_keeps_the_connection() -> None:
    w = sender_world(
        LinkedInError(401, "EXPIRED_ACCESS_TOKEN", "Expired access token"),
        connections=FakeConnections(refresh_raises=oauth_error(503, "unreachable", "Service Unavailable")),
    )
    assert send(w, 2) == [Outcome("retry", "linkedin_refresh_unreachable")] * 2
    assert w.connections.invalid == []
    assert len(w.linkedin.calls) == 1


def test_401_after_the_refresh_marks_the_connection_invalid_and_retries() -> None:
    error = LinkedInError(401, "REVOKED_ACCESS_TOKEN", "revoked")
    w = sender_world(error, error)
    assert send(w, 2) == [Outcome("retry", "linkedin_invalid_token")] * 2
    assert [c.token for c in w.linkedin.calls] == ["token-1", "token-2"]
    assert len(w.connections.refreshed) == 1  # one refresh, never a loop
    assert w.connections.invalid == ["linkedin_401_revoked_access_token"]


def test_401_then_no_rate_limit_token_for_the_resend_is_not_sent() -> None:
    w = sender_world(LinkedInError(401, "EXPIRED_ACCESS_TOKEN", "x"), bucket=FakeBucket(grant=[True, False]))
    assert send(w, 2) == [NOT_SENT] * 2
    assert len(w.linkedin.calls) == 1


def test_refreshed_token_is_kept_for_the_rest_of_the_invocation() -> None:
    w = sender_world(LinkedInError(401, "EXPIRED_ACCESS_TOKEN", "x"))
    send(w, 1)
    send(w, 1)
    assert [c.token for c in w.linkedin.calls] == ["token-1", "token-2", "token-2"]
    assert w.connections.access_calls == 1


def test_start_invocation_forgets_the_cached_token() -> None:
    w = sender_world()
    send(w, 1)
    send(w, 1)
    assert w.connections.access_calls == 1
    w.sender.start_invocation()
    send(w, 1)
    assert w.connections.access_calls == 2


@pytest.mark.parametrize("status", ["disconnected", "invalid_token"])
def test_not_connected_retries_without_a_request_or_a_rate_limit_token(status: str) -> None:
    w = sender_world(connections=FakeConnections(access_raises=NotConnected(status)))
    assert send(w, 2) == [Outcome("retry", f"linkedin_{status}")] * 2
    assert w.linkedin.calls == []
    assert w.bucket.deadlines == []


# ---- 403 -----------------------------------------------------------------------------------------
def test_403_retries_and_sets_ad_account_access_on_each_step_notified_once() -> None:
    forbidden = LinkedInError(403, "ACCESS_DENIED", "Not enough permissions")
    w = sender_world(forbidden, forbidden)
    assert send(w, 2) == [Outcome("retry", "linkedin_403_access_denied")] * 2
    assert w.steps.errors == {"step-1": "ad_account_access", "step-2": "ad_account_access"}
    assert w.notifier.sent == [
        ("ad_account_access", {"step_id": "step-1"}),
        ("ad_account_access", {"step_id": "step-2"}),
    ]
    send(w, 2)  # the error persists: set again, but it is not new, so nobody is notified again
    assert w.steps.set_calls[-2:] == [("step-1", "ad_account_access"), ("step-2", "ad_account_access")]
    assert len(w.notifier.sent) == 2


def test_403_on_a_step_that_already_has_the_error_is_not_notified() -> None:
    steps = FakeSteps(errors={"step-1": "ad_account_access"})
    w = sender_world(LinkedInError(403, "ACCESS_DENIED", "no"), steps=steps)
    send(w, 1, steps=["step-1", "step-2"])
    assert w.notifier.sent == [("ad_account_access", {"step_id": "step-2"})]


def test_success_after_403_clears_the_error_and_a_new_403_notifies_again() -> None:
    forbidden = LinkedInError(403, "ACCESS_DENIED", "no")
    w = sender_world(forbidden, None, forbidden)
    send(w, 1, steps=["step-1"])
    assert w.steps.errors == {"step-1": "ad_account_access"}
    assert send(w, 1, steps=["step-1"]) == [SYNCED]  # the role was fixed within the horizon
    assert w.steps.errors == {}
    send(w, 1, steps=["step-1"])
    assert [code for code, _ in w.notifier.sent] == ["ad_account_access", "ad_account_access"]


# ---- 404 -----------------------------------------------------------------------------------------
NOT_FOUND = LinkedInError(404, "NOT_FOUND", "segment not found")


def test_404_soon_after_the_audience_was_created_retries_without_a_step_error() -> None:
    target = AUD_A.model_copy(update={"audience_created_at": T0 - 60_000})  # 1 min old, first send
    w = sender_world(NOT_FOUND)
    assert send(w, 2, target=target) == [Outcome("retry", "linkedin_404_not_found")] * 2
    assert w.steps.set_calls == []
    assert w.notifier.sent == []


@pytest.mark.parametrize(
    ("created_at", "attempt"),
    [
        (T0 - 60_000, AUDIENCE_NOT_FOUND_AFTER_ATTEMPT),  # recent audience, but the 3rd retry still 404s
        (T0 - 60_000, AUDIENCE_NOT_FOUND_AFTER_ATTEMPT + 5),
        (None, 0),  # an existing audience (not created by the launch) is never propagating
        (T0 - AUDIENCE_NOT_FOUND_GRACE_MS - 1, 0),  # created more than 10 min ago
    ],
)
def test_persistent_404_sets_audience_not_found_and_notifies_once(created_at: int | None, attempt: int) -> None:
    target = AUD_A.model_copy(update={"audience_created_at": created_at})
    w = sender_world(NOT_FOUND, NOT_FOUND)
    expected = [Outcome("retry", "linkedin_audience_not_found")] * 2
    assert send(w, 2, target=target, attempt=attempt, steps=["step-1"]) == expected
    assert w.steps.errors == {"step-1": "audience_not_found"}
    assert send(w, 2, target=target, attempt=attempt, steps=["step-1"]) == expected
    assert w.notifier.sent == [("audience_not_found", {"step_id": "step-1"})]


@pytest.mark.parametrize(
    ("created_at", "attempt"),
    [
        (T0 - AUDIENCE_NOT_FOUND_GRACE_MS, 0),  # exactly 10 min: still within the grace
        (T0 - 60_000, AUDIENCE_NOT_FOUND_AFTER_ATTEMPT - 1),
    ],
)
def test_404_just_inside_the_grace_is_not_yet_a_step_error(created_at: int, attempt: int) -> None:
    w = sender_world(NOT_FOUND)
    target = AUD_A.model_copy(update={"audience_created_at": created_at})
    assert send(w, 1, target=target, attempt=attempt) == [Outcome("retry", "linkedin_404_not_found")]
    assert w.steps.errors == {}


def test_success_after_audience_not_found_clears_it() -> None:
    w = sender_world(NOT_FOUND, None, steps=FakeSteps())
    send(w, 1, steps=["step-1"])
    assert w.steps.errors == {"step-1": "audience_not_found"}
    send(w, 1, steps=["step-1"])
    assert w.steps.errors == {}


# ---- rate limit and deadline -------------------------------------------------------------------------
def test_no_rate_limit_token_before_send_by_is_not_sent_in_time() -> None:
    w = sender_world(bucket=FakeBucket(grant=False))
    assert send(w, 3) == [NOT_SENT] * 3
    assert Outcome("retry", NOT_SENT_IN_TIME) == NOT_SENT
    assert NOT_SENT_IN_TIME == "not_sent_in_time"
    assert w.linkedin.calls == []
    assert w.bucket.deadlines == [SEND_BY]
    assert w.steps.clear_calls == []


# ---- a new audience ------------------------------------------------------------------------------------
def test_new_audience_waits_until_five_seconds_after_creation() -> None:
    w = sender_world()
    target = AUD_A.model_copy(update={"audience_created_at": T0 - 2000})
    assert send(w, 1, target=target) == [SYNCED]
    assert w.clock.sleeps == [pytest.approx(3.0)]
    (call,) = w.linkedin.calls
    assert call.at_ms == T0 - 2000 + AUDIENCE_PROPAGATION_MS == T0 + 3000


def test_audience_older_than_five_seconds_is_sent_at_once() -> None:
    w = sender_world()
    send(w, 1, target=AUD_A.model_copy(update={"audience_created_at": T0 - AUDIENCE_PROPAGATION_MS}))
    send(w, 1, target=AUD_A.model_copy(update={"audience_created_at": None}))
    assert w.clock.sleeps == []
    assert [c.at_ms for c in w.linkedin.calls] == [T0, T0]


def test_new_audience_that_cannot_be_waited_for_before_send_by_is_not_sent() -> None:
    w = sender_world()
    target = AUD_A.model_copy(update={"audience_created_at": T0})
    assert send(w, 2, target=target, send_by=T0 + AUDIENCE_PROPAGATION_MS - 1) == [NOT_SENT] * 2
    assert w.clock.sleeps == []
    assert w.linkedin.calls == []
    assert w.bucket.deadlines == []


class ThrottledSteps(FakeSteps):
    """The steps table refuses every write (DynamoDB throttling, as the adapter reports it)."""

    def set_error(self, step_id: str, code: str) -> bool:
        raise store_error("steps.set_error")

    def clear_error(self, step_id: str, codes: tuple[str, ...]) -> None:
        raise store_error("steps.clear_error")


def test_a_step_error_that_cannot_be_written_does_not_change_the_users_outcomes() -> None:
    accepted = sender_world(steps=ThrottledSteps())
    assert [o.kind for o in send(accepted, 2, steps=["step-1"])] == ["synced", "synced"]

    denied = sender_world(LinkedInError(403, "ACCESS_DENIED", "no"), steps=ThrottledSteps())
    assert {o.kind for o in send(denied, 2, steps=["step-1"])} == {"retry"}
    assert denied.notifier.sent == []  # nothing recorded, so nothing notified


def test_a_dead_grant_is_refreshed_once_per_invocation_not_once_per_request() -> None:
    revoked = LinkedInError(401, "REVOKED_ACCESS_TOKEN", "The token used in the request has been revoked")
    w = sender_world(
        revoked, revoked, revoked, connections=FakeConnections(refresh_raises=NotConnected("invalid_token"))
    )
    assert send(w, 1) == send(w, 1) == [Outcome("retry", "linkedin_invalid_token")]
    assert len(w.connections.refreshed) == 1  # the second request of the invocation does not try again
    assert len(w.linkedin.calls) == 2
    w.sender.start_invocation()  # the next invocation may find the member reconnected
    send(w, 1)
    assert len(w.connections.refreshed) == 2


# ---- what a request publishes and logs ----------------------------------------------------------------
class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def sender_log() -> Iterator[_Records]:
    handler = _Records()
    target = logging.getLogger(sender_module.logger.name)
    target.addHandler(handler)
    level = target.level
    target.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        target.removeHandler(handler)
        target.setLevel(level)


def takes(clock: FakeClock, ms: int) -> Answer:
    """An answer that takes LinkedIn `ms` on the fake clock."""

    def respond(elements: list[dict[str, object]]) -> list[ElementResult]:
        clock.sleep(ms / 1000)
        return [ElementResult(201)] * len(elements)

    return respond


def test_each_request_is_logged_with_the_webhooks_it_carries_and_no_user(sender_log: _Records) -> None:
    clock = FakeClock()
    w = sender_world(takes(clock, 250), clock=clock)
    w.sender.send(AUD_A, users(3, "u"), STEPS, SEND_BY, correlation_ids=["req-b", "req-a", None, "req-a"])
    (record,) = [r for r in sender_log.records if r.getMessage() == "LinkedIn request"]
    assert record.correlation_ids == ["req-a", "req-b"]  # type: ignore[attr-defined]
    assert record.webhooks == 2  # type: ignore[attr-defined]
    assert record.users == 3 and record.status == 200 and record.latency_ms == 250  # type: ignore[attr-defined]
    assert record.audience_id == AUD_A.audience_id  # type: ignore[attr-defined]
    logged = json.dumps({k: v for k, v in record.__dict__.items() if k not in {"args", "exc_info"}}, default=str)
    assert not any(h in logged for h in hashes("u", range(3)))


def test_a_request_with_many_webhooks_names_every_one_over_several_lines(sender_log: _Records) -> None:
    w = sender_world()
    ids = [f"req-{i:04}" for i in range(CORRELATION_IDS_PER_LINE * 2 + 1)]
    w.sender.send(AUD_A, users(1, "u"), STEPS, SEND_BY, correlation_ids=ids)
    lines = [r for r in sender_log.records if r.getMessage() == "LinkedIn request"]
    assert [(r.part, r.parts) for r in lines] == [(1, 3), (2, 3), (3, 3)]  # type: ignore[attr-defined]
    assert [i for r in lines for i in r.correlation_ids] == ids  # type: ignore[attr-defined]
    assert all(r.webhooks == len(ids) and r.status == 200 for r in lines)  # type: ignore[attr-defined]


def test_a_failed_request_is_logged_with_linkedins_request_id(sender_log: _Records) -> None:
    w = sender_world(LinkedInError(503, "unavailable", "busy", request_id="li-uuid-1"))
    send(w)
    (record,) = [r for r in sender_log.records if r.getMessage() == "LinkedIn request failed"]
    assert record.status == 503 and record.linkedin_request_id == "li-uuid-1"  # type: ignore[attr-defined]


def test_requests_are_published_once_per_invocation(capsys: pytest.CaptureFixture[str]) -> None:
    clock = FakeClock()
    w = sender_world(takes(clock, 40), LinkedInError(429, "throttled", "slow down"), clock=clock)
    w.sender.start_invocation()
    send(w)
    send(w)
    capsys.readouterr()
    assert not [b for b in emf_blobs(capsys.readouterr().out) if REQUESTS in b]  # nothing before the end
    w.sender.finish_invocation()
    (blob,) = [b for b in emf_blobs(capsys.readouterr().out) if REQUESTS in b]
    # the throttled request was sent once more: three requests, one of them throttled
    assert blob[REQUESTS] == [3.0] and blob[THROTTLED] == [1.0] and blob[LATENCY] == [40.0, 0.0, 0.0]

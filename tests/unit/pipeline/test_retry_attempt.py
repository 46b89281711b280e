"""retry_attempt.py: one attempt of the Step Functions retry, exactly once, with hand-written fakes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import ValidationError

from audience_sync.core.backoff import retry_schedule
from audience_sync.core.metrics import StepDelta
from audience_sync.destinations.base import NOT_SENT_IN_TIME, SyncTarget
from audience_sync.destinations.linkedin.client import ElementResult
from audience_sync.destinations.linkedin.errors import LinkedInError
from audience_sync.pipeline.ledger import LedgerEntry
from audience_sync.pipeline.retry_attempt import (
    HORIZON_PREFIX,
    RETRY,
    SETTLED,
    RetryAttempt,
    attempt_ledger_id,
    attempt_ledger_key,
)
from audience_sync.pipeline.retry_batch import RetryBatch, batch_key, execution_input
from tests.fakes.sync_fakes import (
    AUD_A,
    T0,
    Answer,
    FakeBucket,
    FakeLedger,
    FakeNotifier,
    FakeRetryStore,
    Recorded,
    SenderWorld,
    hashes,
    sender_world,
    statuses,
    users,
)

SEND_BY = T0 + 55_000
BATCH_ID = "0123456789abcdef" * 2
SCHEDULE = retry_schedule()
LAST = len(SCHEDULE)  # the attempt at the horizon
BOOM = LinkedInError(500, "error", "boom")


@dataclass
class World:
    s: SenderWorld
    ledger: FakeLedger
    retries: FakeRetryStore
    notifier: FakeNotifier
    attempt: RetryAttempt

    def run(self, key: str, attempt: int) -> dict[str, Any]:
        return self.attempt.run(key, attempt, SEND_BY)


@pytest.fixture(autouse=True)
def same_batch_id(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """Each next batch gets a fresh id; here it is pinned to BATCH_ID so keys are predictable, except in the test
    of that rule itself."""
    if "fresh_ids" not in request.keywords:
        monkeypatch.setattr("audience_sync.pipeline.retry_attempt.uuid.uuid4", lambda: uuid.UUID(BATCH_ID))


def world(*script: Answer, bucket: FakeBucket | None = None, horizon: int = 46_800) -> World:
    s = sender_world(*script, bucket=bucket, retry_horizon_seconds=horizon)
    ledger, retries, notifier = FakeLedger(), FakeRetryStore(), FakeNotifier()
    attempt = RetryAttempt(s.sender, ledger, retries, notifier, s.clock)
    return World(s, ledger, retries, notifier, attempt)


def stored(
    w: World,
    n: int = 3,
    attempt: int = 1,
    reasons: list[str] | None = None,
    target: SyncTarget = AUD_A,
) -> RetryBatch:
    batch = RetryBatch(
        batch_id=BATCH_ID,
        attempt=attempt,
        step_id="step-1",
        target=target,
        users=users(n, "u"),
        reasons=reasons or ["linkedin_500_error"] * n,
        first_failed_at=T0 - 30_000,
        correlation_id="corr-1",
    )
    w.retries.objects[batch.key] = batch
    return batch


def retry_answer(attempt: int) -> dict[str, Any]:
    """What the function answers after `attempt` when users still wait."""
    return {
        "outcome": RETRY,
        "key": batch_key("step-1", BATCH_ID, attempt + 1),
        "attempt": attempt + 1,
        "wait_seconds": SCHEDULE[attempt],
    }


# ---- one attempt ----------------------------------------------------------------------------------
def test_failed_attempt_hands_everyone_to_the_next_then_success_settles() -> None:
    w = world(BOOM, None)
    first = stored(w)
    assert w.run(first.key, 1) == retry_answer(1)
    assert retry_answer(1)["wait_seconds"] == 60
    second = w.retries.objects[batch_key("step-1", BATCH_ID, 2)]
    # the waits so far: 30 s before the first attempt (the schedule's, for a batch written without them), 60 s now
    waits = {"waited_seconds": 90, "wait_seconds": 60}
    assert second.model_dump() == first.model_copy(update={"attempt": 2, **waits}).model_dump()
    assert w.retries.deleted == [first.key]
    assert w.ledger.keys_of(attempt_ledger_id(first.key, 1)) == [second.key]
    assert w.ledger.counted("step-1") == {}

    assert w.run(second.key, 2) == {"outcome": SETTLED, "attempt": 2}
    assert w.ledger.counted("step-1") == {"synced": 3}
    assert w.ledger.keys_of(attempt_ledger_id(second.key, 2)) == []
    assert w.retries.deleted == [first.key, second.key]
    assert w.retries.objects == {}
    assert [c.hashes for c in w.s.linkedin.calls] == [hashes("u", range(3))] * 2
    assert w.notifier.sent == []


def test_element_400_ends_only_that_user() -> None:
    w = world(statuses({1: ElementResult(400, "INVALID_ID", "bad"), 2: ElementResult(503)}))
    batch = stored(w, 4)
    assert w.run(batch.key, 1) == retry_answer(1)
    assert w.ledger.counted("step-1") == {"synced": 2, "errored": 1, "errored_reason_linkedin_400_invalid_id": 1}
    following = w.retries.objects[batch_key("step-1", BATCH_ID, 2)]
    assert [u["x"] for u in following.users] == ["u2"]
    assert following.reasons == ["linkedin_element_503"]
    assert w.notifier.sent == []  # users errored before the horizon are counted, not notified


def test_waiting_users_carry_the_latest_reason() -> None:
    w = world(statuses({0: ElementResult(429), 2: ElementResult(503)}))
    batch = stored(w, 3, reasons=["linkedin_500_error", "not_sent_in_time", "linkedin_403_access_denied"])
    w.run(batch.key, 1)
    following = w.retries.objects[batch_key("step-1", BATCH_ID, 2)]
    assert [u["x"] for u in following.users] == ["u0", "u2"]
    assert following.reasons == ["linkedin_element_429", "linkedin_element_503"]


def test_not_sent_in_time_keeps_everyone_waiting_without_a_request() -> None:
    w = world(bucket=FakeBucket(grant=False))
    batch = stored(w, 2, attempt=3)
    assert w.run(batch.key, 3) == retry_answer(3)
    assert w.s.linkedin.calls == []
    assert w.retries.objects[batch_key("step-1", BATCH_ID, 4)].reasons == [NOT_SENT_IN_TIME] * 2
    assert w.s.bucket.deadlines == [SEND_BY]


def test_the_attempt_number_reaches_the_sender_so_a_persistent_404_is_reported() -> None:
    not_found = LinkedInError(404, "NOT_FOUND", "no segment")
    target = AUD_A.model_copy(update={"audience_created_at": T0 - 60_000})  # a recent audience
    w = world(not_found, not_found)
    two = stored(w, 1, attempt=2, target=target)
    w.run(two.key, 2)
    assert w.s.steps.errors == {}
    three = w.retries.objects[batch_key("step-1", BATCH_ID, 3)]
    assert three.reasons == ["linkedin_404_not_found"]
    w.run(three.key, 3)
    assert w.s.steps.errors == {"step-1": "audience_not_found"}
    assert w.retries.objects[batch_key("step-1", BATCH_ID, 4)].reasons == ["linkedin_audience_not_found"]


def test_a_batch_for_another_attempt_is_refused_without_sending() -> None:
    w = world()
    stored(w, attempt=2)
    with pytest.raises(ValueError, match="attempt 2, not 3"):
        w.run(batch_key("step-1", BATCH_ID, 2), 3)
    assert w.s.linkedin.calls == []
    assert w.ledger.transactions == []


# ---- the horizon ------------------------------------------------------------------------------------
def test_last_attempt_errors_the_rest_with_their_reason_and_notifies_once() -> None:
    w = world(statuses({0: ElementResult(400), 1: ElementResult(503)}))
    batch = stored(w, 4, attempt=LAST, reasons=[NOT_SENT_IN_TIME] * 4)
    assert w.run(batch.key, LAST) == {"outcome": SETTLED, "attempt": LAST}
    assert w.ledger.counted("step-1") == {
        "synced": 2,
        "errored": 2,
        "errored_reason_linkedin_400_invalid_element": 1,
        "errored_reason_retry_horizon_linkedin_element_503": 1,
    }
    assert w.retries.puts == []
    assert w.retries.deleted == [batch.key]
    assert w.notifier.sent == [
        (
            "users_errored",
            {
                "step_id": "step-1",
                "users": 2,
                "reasons": {"linkedin_400_invalid_element": 1, "retry_horizon_linkedin_element_503": 1},
            },
        )
    ]
    # the task is retried after the answer was lost: the recorded answer, no second notification
    assert w.run(batch.key, LAST) == {"outcome": SETTLED, "attempt": LAST}
    assert len(w.notifier.sent) == 1
    assert len(w.s.linkedin.calls) == 1


def test_last_attempt_without_a_rate_limit_token_errors_everyone_with_the_reason() -> None:
    w = world(bucket=FakeBucket(grant=False))
    batch = stored(w, 3, attempt=LAST)
    assert w.run(batch.key, LAST) == {"outcome": SETTLED, "attempt": LAST}
    reason = HORIZON_PREFIX + NOT_SENT_IN_TIME
    assert reason == "retry_horizon_not_sent_in_time"
    assert w.ledger.counted("step-1") == {"errored": 3, f"errored_reason_{reason}": 3}
    assert w.notifier.sent == [("users_errored", {"step_id": "step-1", "users": 3, "reasons": {reason: 3}})]


def test_last_attempt_that_syncs_everyone_notifies_nobody() -> None:
    w = world()
    batch = stored(w, 2, attempt=LAST)
    assert w.run(batch.key, LAST) == {"outcome": SETTLED, "attempt": LAST}
    assert w.ledger.counted("step-1") == {"synced": 2}
    assert w.notifier.sent == []


def test_the_attempt_before_the_last_still_retries() -> None:
    w = world(BOOM)
    batch = stored(w, 1, attempt=LAST - 1)
    assert w.run(batch.key, LAST - 1) == retry_answer(LAST - 1)
    assert retry_answer(LAST - 1)["wait_seconds"] == SCHEDULE[-1] == 3390
    assert w.notifier.sent == []


def test_a_short_horizon_ends_sooner() -> None:
    w = world(BOOM, BOOM, horizon=60)  # schedule (30, 30): attempt 2 is at the horizon
    batch = stored(w, 1)
    answer = w.run(batch.key, 1)
    assert answer["wait_seconds"] == 30
    assert w.run(answer["key"], 2) == {"outcome": SETTLED, "attempt": 2}
    assert w.ledger.counted("step-1") == {"errored": 1, "errored_reason_retry_horizon_linkedin_500_error": 1}


def test_a_batch_that_never_syncs_is_retried_until_exactly_the_horizon() -> None:
    w = world(*[BOOM] * (LAST + 5))
    batch = stored(w, 2)
    waited, key, attempt = SCHEDULE[0], batch.key, 1  # the batcher starts the execution with the first wait
    while True:
        answer = w.run(key, attempt)
        if answer["outcome"] == SETTLED:
            break
        waited += answer["wait_seconds"]
        key, attempt = answer["key"], answer["attempt"]
    assert attempt == LAST == 19
    assert waited == 46_800
    assert len(w.s.linkedin.calls) == LAST
    assert w.ledger.counted("step-1") == {"errored": 2, "errored_reason_retry_horizon_linkedin_500_error": 2}
    assert len(w.notifier.sent) == 1
    assert w.retries.objects == {}  # every attempt deleted the object it consumed
    assert len(w.ledger.transactions) == LAST


# ---- exactly once -----------------------------------------------------------------------------------
def test_a_recorded_attempt_returns_its_answer_without_sending_or_counting() -> None:
    w = world()
    batch = stored(w)
    next_key = batch_key("step-1", BATCH_ID, 2)
    key = attempt_ledger_key(batch.key, 1)
    w.ledger.entries[key.id] = Recorded("step-1", LedgerEntry(key.id, key.bucket, StepDelta(), [next_key]))
    w.retries.objects[next_key] = batch.model_copy(update={"attempt": 2})
    assert w.run(batch.key, 1) == retry_answer(1)
    assert w.s.linkedin.calls == []
    assert w.s.bucket.deadlines == []
    # only the waiting batch is read, for its destination's next wait (the settled one may be deleted already)
    assert w.retries.gets == [next_key]
    assert w.ledger.transactions == []
    assert w.notifier.sent == []


def test_a_recorded_settled_attempt_answers_settled() -> None:
    w = world()
    key = batch_key("step-1", BATCH_ID, 4)  # its object is gone: it was deleted when it settled
    recorded = attempt_ledger_key(key, 4)
    w.ledger.entries[recorded.id] = Recorded("step-1", LedgerEntry(recorded.id, recorded.bucket, StepDelta(), []))
    assert w.run(key, 4) == {"outcome": SETTLED, "attempt": 4}
    assert w.s.linkedin.calls == []


def test_a_concurrent_try_that_recorded_first_wins() -> None:
    w = world(statuses({0: ElementResult(503)}))
    batch = stored(w, 2, attempt=LAST)
    key = attempt_ledger_key(batch.key, LAST)
    w.ledger.racing[key.id] = Recorded("step-1", LedgerEntry(key.id, key.bucket, StepDelta(), []))
    assert w.run(batch.key, LAST) == {"outcome": SETTLED, "attempt": LAST}
    assert w.ledger.transactions == []  # counted by the winner only
    # The horizon notice goes out before the ledger write (at least once), so the losing try sends it too.
    assert [code for code, _ in w.notifier.sent] == ["users_errored"]
    assert w.retries.deleted == []  # it wrote no next batch, and the batch itself is the winner's to delete


def test_ledger_ids() -> None:
    key = batch_key("step-1", BATCH_ID, 7)
    assert key == f"retry/step-1/{BATCH_ID}/7.json"
    assert attempt_ledger_id(key, 7) == f"retry:{BATCH_ID}:7"
    assert attempt_ledger_id(key, 7) != attempt_ledger_id(batch_key("step-1", BATCH_ID, 8), 8)
    # an attempt's bucket is its own: the bucket's retry keys are exactly its answer
    assert attempt_ledger_key(key, 7).bucket == f"attempt#retry:{BATCH_ID}:7"


def test_execution_input_starts_at_attempt_one() -> None:
    assert execution_input("retry/s/k/1.json", 30) == {"key": "retry/s/k/1.json", "attempt": 1, "wait_seconds": 30}


# ---- RetryBatch ------------------------------------------------------------------------------------
def batch_fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "batch_id": BATCH_ID,
        "attempt": 1,
        "step_id": "step-1",
        "target": AUD_A,
        "users": users(2, "u"),
        "reasons": ["a", "b"],
        "first_failed_at": T0,
    }
    return {**fields, **overrides}


def test_retry_batch_round_trips_through_json() -> None:
    batch = RetryBatch(**batch_fields())
    assert RetryBatch.model_validate_json(batch.model_dump_json()) == batch
    assert batch.key == f"retry/step-1/{BATCH_ID}/1.json"


@pytest.mark.parametrize("reasons", [[], ["a"], ["a", "b", "c"]])
def test_retry_batch_needs_one_reason_per_user(reasons: list[str]) -> None:
    with pytest.raises(ValidationError, match="one reason per user"):
        RetryBatch(**batch_fields(reasons=reasons))


@pytest.mark.parametrize("batch_id", ["", "a" * 31, "a" * 33, "A" * 32, "g" * 32, "0123-4567-89ab-cdef-0123456789ab"])
def test_retry_batch_id_is_32_lowercase_hex(batch_id: str) -> None:
    with pytest.raises(ValidationError, match="batch_id"):
        RetryBatch(**batch_fields(batch_id=batch_id))


def test_retry_batch_needs_users_and_an_attempt_from_one() -> None:
    with pytest.raises(ValidationError, match="users"):
        RetryBatch(**batch_fields(users=[], reasons=[]))
    with pytest.raises(ValidationError, match="attempt"):
        RetryBatch(**batch_fields(attempt=0))


def test_retry_batch_is_frozen() -> None:
    batch = RetryBatch(**batch_fields())
    with pytest.raises(ValidationError):
        batch.attempt = 2


@pytest.mark.fresh_ids
def test_each_next_batch_has_its_own_id_so_overlapping_tries_never_share_an_object() -> None:
    first, second = world(BOOM), world(BOOM)
    keys = []
    for w in (first, second):
        batch = stored(w)
        answer = w.run(batch.key, 1)
        assert answer["outcome"] == RETRY
        keys.append(answer["key"])
        assert answer["key"] != batch_key("step-1", BATCH_ID, 2)
        assert w.retries.objects[answer["key"]].attempt == 2
    assert keys[0] != keys[1]


@dataclass
class FakeMoveOrders:
    """The members' newest moves as the index holds them; the steps asked about."""

    newest_orders: dict[str, str]
    asked: list[tuple[str, list[str]]] = field(default_factory=list)

    def newest(self, step_id: str, members: Sequence[str]) -> dict[str, str]:
        self.asked.append((step_id, list(members)))
        return {m: self.newest_orders[m] for m in members if m in self.newest_orders}


def test_a_retried_move_a_newer_one_replaced_is_not_sent_and_counts_as_superseded() -> None:
    """An entry retried after the member left (or withdrew consent) would put it back: it is dropped."""
    w = world(None)
    moves = FakeMoveOrders({"b0": "000000000002", "b1": "000000000001"})
    w.attempt.moves = moves
    batch = stored(w)
    batch.users[0]["o"] = "b0:000000000001"  # b0 left since (its newest move is 2)
    batch.users[1]["o"] = "b1:000000000001"  # b1's entry is still its newest
    w.retries.objects[batch.key] = batch
    assert w.run(batch.key, 1) == {"outcome": SETTLED, "attempt": 1}
    assert moves.asked == [("step-1", ["b0", "b1"])]
    assert [c.hashes for c in w.s.linkedin.calls] == [hashes("u", range(1, 3))]  # u2 carries no move: sent
    assert w.ledger.counted("step-1") == {"synced": 2, "not_synced": 1, "not_synced_reason_superseded": 1}


def test_a_retry_whose_every_move_was_replaced_sends_nothing() -> None:
    w = world()  # LinkedIn is not called: no answer scripted
    w.attempt.moves = FakeMoveOrders({"b0": "000000000009"})
    batch = stored(w, 1)
    batch.users[0]["o"] = "b0:000000000001"
    w.retries.objects[batch.key] = batch
    assert w.run(batch.key, 1) == {"outcome": SETTLED, "attempt": 1}
    assert w.s.linkedin.calls == []
    assert w.ledger.counted("step-1") == {"not_synced": 1, "not_synced_reason_superseded": 1}

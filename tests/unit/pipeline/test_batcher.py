"""The Batcher with hand-written fakes: packing, per-user outcomes, retry hand-off, exactly-once settling.

The LinkedIn taxonomy itself (what each answer means for a user) is tested against Sender in
test_domain_sender.py; here the real Sender runs on fakes so the batcher's wiring is exercised end to end.
"""

from __future__ import annotations

import gc
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import pytest

from audience_sync.core.backoff import retry_schedule
from audience_sync.core.metrics import StepDelta
from audience_sync.destinations.base import NOT_SENT_IN_TIME, SyncTarget
from audience_sync.destinations.linkedin.client import ElementResult
from audience_sync.destinations.linkedin.errors import LinkedInError
from audience_sync.pipeline import batcher as batcher_module
from audience_sync.pipeline.batcher import REQUEST_BUDGET_MS, Batcher, message_ledger_id
from audience_sync.pipeline.ledger import MAX_ENTRIES_PER_TRANSACTION, LedgerEntry
from audience_sync.pipeline.messages import QueuedMessage
from audience_sync.pipeline.retry_batch import RetryBatch, batch_key
from tests.fakes.sync_fakes import (
    AUD_A,
    AUD_B,
    T0,
    TUNING,
    Answer,
    Call,
    FakeBucket,
    FakeBuckets,
    FakeLedger,
    FakeRetryStore,
    Recorded,
    SenderWorld,
    hashes,
    sender_world,
    statuses,
    store_error,
    users,
)

DEADLINE = T0 + 120_000
FIRST_WAIT = retry_schedule()[0]
BOOM = LinkedInError(500, "error", "boom")


@dataclass
class World:
    s: SenderWorld
    ledger: FakeLedger
    retries: FakeRetryStore
    batcher: Batcher

    def run(self, *items: QueuedMessage | dict[str, Any]) -> list[str]:
        return self.batcher.handle([i if isinstance(i, dict) else record(i) for i in items], DEADLINE)

    @property
    def calls(self) -> list[Call]:
        return self.s.linkedin.calls

    def batches(self, keys: Any = None) -> list[RetryBatch]:
        """The retry batches stored (in put order), or those behind `keys`."""
        return [self.retries.objects[k] for k in (self.retries.puts if keys is None else keys)]


def world(
    *script: Answer,
    by_segment: dict[str, list[Answer]] | None = None,
    bucket: FakeBucket | None = None,
    ledger: FakeLedger | None = None,
    retries: FakeRetryStore | None = None,
    max_elements: int = 5000,
    send_concurrency: int = TUNING.send_concurrency,
    retry_horizon_seconds: int = 46_800,
) -> World:
    s = sender_world(
        *script,
        by_segment=by_segment,
        bucket=bucket,
        max_elements=max_elements,
        retry_horizon_seconds=retry_horizon_seconds,
    )
    ledger = ledger or FakeLedger()
    retries = retries or FakeRetryStore()
    tuning = replace(TUNING, send_concurrency=send_concurrency)
    batcher = Batcher(tuning, s.sender, ledger, retries, s.clock)
    return World(s, ledger, retries, batcher)


def message(
    target: SyncTarget, n: int, prefix: str, step_id: str = "step-1", chunk_id: str | None = None, **fields: Any
) -> QueuedMessage:
    data: dict[str, Any] = {"first_enqueued_at": T0 - 1000, "correlation_id": f"corr-{prefix}", **fields}
    return QueuedMessage(
        chunk_id=chunk_id or f"chunk-{prefix}", step_id=step_id, target=target, users=users(n, prefix), **data
    )


def record(m: QueuedMessage, message_id: str | None = None, receive_count: int = 1) -> dict[str, Any]:
    return {
        "messageId": message_id or f"sqs-{m.chunk_id}",
        "body": m.model_dump_json(),
        "attributes": {"ApproximateReceiveCount": str(receive_count)},
    }


def again(m: QueuedMessage) -> dict[str, Any]:
    """A redelivery: SQS received this message before."""
    return record(m, receive_count=2)


def waiting(batches: list[RetryBatch]) -> dict[str, str]:
    """external id -> the reason it waits, over the batches."""
    out: dict[str, str] = {}
    for batch in batches:
        for user, reason in zip(batch.users, batch.reasons, strict=True):
            assert user["x"] not in out, "a user waits in one batch only"
            out[user["x"]] = reason
    return out


# ---- packing into requests ----------------------------------------------------------------------
def test_two_audiences_two_requests_never_mixed() -> None:
    w = world()
    failed = w.run(message(AUD_A, 3, "a"), message(AUD_B, 2, "b", step_id="step-2"), message(AUD_A, 2, "c"))
    assert failed == []
    assert sorted((c.segment_id, len(c.elements)) for c in w.calls) == [("100", 5), ("200", 2)]
    by_segment = {c.segment_id: c for c in w.calls}
    assert by_segment["100"].hashes == hashes("a", range(3)) | hashes("c", range(2))
    assert by_segment["200"].hashes == hashes("b", range(2))
    assert w.ledger.counted("step-1") == {"synced": 5}
    assert w.ledger.counted("step-2") == {"synced": 2}
    assert {i: r.entry.delta.attributes() for i, r in w.ledger.entries.items()} == {
        "msg:chunk-a": {"synced": 3},
        "msg:chunk-b": {"synced": 2},
        "msg:chunk-c": {"synced": 2},
    }
    assert all(r.entry.retry_keys == [] for r in w.ledger.entries.values())
    assert w.retries.puts == []
    assert w.retries.started == []


def test_of_one_members_moves_in_a_batch_only_the_newest_is_sent_the_others_superseded() -> None:
    """A member who left and came back within a flush window: the add and the remove travel in separate messages,
    and the batcher sends them concurrently; only the newest move may reach LinkedIn."""
    leaving = AUD_A.model_copy(update={"action": "remove", "leaving": True})

    def moved(target: SyncTarget, prefix: str, orders: list[int], step_id: str = "step-1") -> QueuedMessage:
        moved_users = [
            {**u, "o": f"b{i}:{order:012d}"} for i, (u, order) in enumerate(zip(users(2, "m"), orders, strict=True))
        ]
        return message(target, 2, prefix, step_id=step_id).model_copy(update={"users": moved_users})

    w = world()
    # b0 entered (1), left (2), came back (3); b1 entered (5) and left (4 is older): b1's newest is its entry
    entries, exits, back = moved(AUD_A, "in", [1, 5]), moved(leaving, "out", [2, 4]), moved(AUD_A, "back", [3, 0])
    other = moved(AUD_B, "other-step", [1, 1], step_id="step-2")  # another step: its own audience, not superseded
    assert w.run(exits, entries, back, other) == []
    sent = sorted((c.segment_id, e["action"]) for c in w.calls for e in c.elements)
    assert sent == [("100", "ADD"), ("100", "ADD"), ("200", "ADD"), ("200", "ADD")]  # no removal: both are back
    assert {c.segment_id: c.hashes for c in w.calls} == {"100": hashes("m", range(2)), "200": hashes("m", range(2))}
    # the superseded entries are not synced; the superseded removals count as removed (at rest left == removed)
    counted = w.ledger.counted("step-1")
    assert counted == {"synced": 2, "removed": 2, "not_synced": 2, "not_synced_reason_superseded": 2}
    assert w.ledger.counted("step-2") == {"synced": 2}


def test_12000_users_in_5000_element_requests() -> None:
    w = world(max_elements=5000)
    failed = w.run(*[message(AUD_A, 1000, f"m{i}-") for i in range(12)])
    assert failed == []
    assert [len(c.elements) for c in w.calls] == [5000, 5000, 2000]
    assert len(w.s.bucket.deadlines) == 3
    assert w.ledger.counted("step-1") == {"synced": 12_000}
    assert len(w.ledger.transactions) == 1  # 12 messages of one step: one transaction


def test_messages_are_recorded_in_transactions_of_at_most_the_ledgers_limit_per_step() -> None:
    w = world()
    failed = w.run(*[message(AUD_A, 1, f"m{i}-") for i in range(150)], message(AUD_B, 1, "x", step_id="step-2"))
    assert failed == []
    sizes = sorted((step, len(entries)) for step, entries in w.ledger.transactions)
    assert sizes == [
        ("step-1", 150 - MAX_ENTRIES_PER_TRANSACTION),
        ("step-1", MAX_ENTRIES_PER_TRANSACTION),
        ("step-2", 1),
    ]
    assert w.ledger.counted("step-1") == {"synced": 150}


# ---- a backlog: full requests, and rounds read while the previous ones send ------------------------
class FakeQueue:
    """The rest of the sync queue, as the batcher's own reads see it (QueueReader)."""

    def __init__(self, *items: QueuedMessage | dict[str, Any]) -> None:
        self.waiting = [i if isinstance(i, dict) else {**record(i), "receiptHandle": f"rh-{i.chunk_id}"} for i in items]
        self.receives = 0
        self.asked: list[int] = []
        self.deleted: list[str] = []

    def receive(self, max_messages: int) -> list[dict[str, Any]]:
        self.receives += 1
        self.asked.append(max_messages)
        taken, self.waiting = self.waiting[:max_messages], self.waiting[max_messages:]
        return taken

    def delete(self, records: Sequence[dict[str, Any]]) -> None:
        self.deleted += [r["receiptHandle"] for r in records]


def full_at(monkeypatch: pytest.MonkeyPatch, *messages: QueuedMessage) -> None:
    """A batch (or a round the batcher reads) counts as full, a backlog, from the size of these bodies on."""
    monkeypatch.setattr(batcher_module, "FULL_BATCH_BYTES", sum(len(m.model_dump_json()) for m in messages))


def topped_world(queue: FakeQueue, *script: Answer, max_elements: int = 5000, send_concurrency: int = 1) -> World:
    w = world(*script, max_elements=max_elements, send_concurrency=send_concurrency)
    w.batcher.queue = queue
    return w


def test_a_full_batch_reads_more_of_the_queue_until_its_last_request_is_full(monkeypatch: pytest.MonkeyPatch) -> None:
    delivered = [message(AUD_A, 1000, f"m{i}-") for i in range(7)]  # 7,000 users: 5,000 + 2,000
    full_at(monkeypatch, *delivered)
    queue = FakeQueue(*[message(AUD_A, 1000, f"q{i}-") for i in range(3)])
    w = topped_world(queue, max_elements=5000)
    assert w.run(*delivered) == []
    assert [len(c.elements) for c in w.calls] == [5000, 5000]  # 3 more messages filled the second request
    assert queue.asked[0] == 3  # as many as were missing, at about 1,000 users a message
    assert w.ledger.counted("step-1") == {"synced": 10_000}
    assert queue.deleted == ["rh-chunk-q0-", "rh-chunk-q1-", "rh-chunk-q2-"]  # settled: the batcher deletes them


def test_the_top_up_reads_on_until_the_users_fill_whole_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """Messages of 3 users against requests of 5: topping 6 up to the next full request (10) would read 12 and end
    in a request of 2; reading on to 15 ends even."""
    delivered = [message(AUD_A, 3, f"m{i}-") for i in range(2)]
    full_at(monkeypatch, *delivered)
    queue = FakeQueue(*[message(AUD_A, 3, f"q{i}-") for i in range(3)])
    w = topped_world(queue, max_elements=5)
    assert w.run(*delivered) == []
    assert [len(c.elements) for c in w.calls] == [5, 5, 5]
    assert queue.waiting == []


def test_top_up_reads_ten_messages_at_most_per_call(monkeypatch: pytest.MonkeyPatch) -> None:
    delivered = [message(AUD_A, 1, f"m{i}-") for i in range(5)]
    full_at(monkeypatch, *delivered)
    queue = FakeQueue(*[message(AUD_A, 1, f"q{i}-") for i in range(20)])
    w = topped_world(queue, max_elements=25)
    w.run(*delivered)
    assert queue.asked[:2] == [10, 10]
    assert len(w.calls[0].elements) == 25


def test_no_top_up_below_a_full_batch() -> None:
    queue = FakeQueue(message(AUD_A, 10, "q"))
    w = topped_world(queue)
    w.run(message(AUD_A, 3, "a"))  # a light load: 3 users go at once, nothing else is read
    assert queue.receives == 0
    assert [len(c.elements) for c in w.calls] == [3]


def test_a_batch_of_exactly_full_requests_needs_no_top_up(monkeypatch: pytest.MonkeyPatch) -> None:
    delivered = message(AUD_A, 5, "a")
    full_at(monkeypatch, delivered)
    queue = FakeQueue()
    w = topped_world(queue, max_elements=5)
    w.run(delivered)
    assert queue.asked == [10]  # no top-up; one read for the next round, which finds the backlog gone


def test_a_backlog_is_read_in_rounds_until_a_round_is_not_full(monkeypatch: pytest.MonkeyPatch) -> None:
    delivered = [message(AUD_A, 2, f"m{i}-") for i in range(2)]
    full_at(monkeypatch, *delivered)  # 2 messages make a full round
    waiting = [message(AUD_A, 2, f"q{i}-") for i in range(5)]
    queue = FakeQueue(*waiting)
    w = topped_world(queue, max_elements=4)
    assert w.run(*delivered) == []
    # the delivered batch, then rounds of 2 read from the queue (10 asked, the fake gives what it has)...
    assert sorted(len(c.elements) for c in w.calls) == [2, 4, 4, 4]
    assert w.ledger.counted("step-1") == {"synced": 14}
    assert sorted(queue.deleted) == sorted(f"rh-{m.chunk_id}" for m in waiting)  # ...each deleted once settled
    assert queue.waiting == []


class PacedBucket:
    """A rate bucket that gives a token every `seconds` of the fake clock (2 requests a second by default)."""

    def __init__(self, clock: Any, seconds: float = 0.5) -> None:
        self.clock = clock
        self.seconds = seconds

    def acquire(self, deadline_ms: int) -> bool:
        if self.clock.now_ms() + self.seconds * 1000 > deadline_ms:
            return False
        self.clock.sleep(self.seconds)
        return True


@pytest.mark.parametrize("paced", [True, False])
def test_no_round_is_read_that_cannot_leave_before_the_send_deadline(
    monkeypatch: pytest.MonkeyPatch, paced: bool
) -> None:
    """Requests of one user (a campaign's webhooks at its rate limit): a round is thousands of requests. A round
    read that cannot be sent before the deadline would put its users in the retry; unread, they stay queued."""
    if not paced:  # what the batcher did before it watched its pace: a round whenever there was time to read one
        monkeypatch.setattr(Batcher, "_time_to_send_a_round", lambda self, deadline_ms: True)
        monkeypatch.setattr(batcher_module, "READ_AHEAD_MS", 10**9)
    delivered = message(AUD_A, 100, "m-")
    full_at(monkeypatch, delivered)
    queue = FakeQueue(*[message(AUD_A, 100, f"q{i}-") for i in range(3)])
    w = topped_world(queue, max_elements=1)
    w.batcher.sender.buckets = FakeBuckets(PacedBucket(w.s.clock))  # type: ignore[arg-type]
    assert w.run(delivered) == []
    not_sent = sum(b.reasons.count(NOT_SENT_IN_TIME) for b in w.batches())
    if paced:  # 100 requests took 50 s: another 100 would end after the send deadline (85 s)
        assert (w.ledger.counted("step-1"), not_sent, len(queue.waiting)) == ({"synced": 100}, 0, 3)
    else:  # it read on while there was time to read, and sent what it could: the rest waits in the retry
        assert not_sent > 100 and queue.waiting == []


@pytest.mark.parametrize("read_ahead", [True, False])
def test_once_its_pace_is_known_a_round_holds_the_read_ahead_of_it(
    monkeypatch: pytest.MonkeyPatch, read_ahead: bool
) -> None:
    """Requests of one user (a campaign's webhooks): what a batcher holds when the queue runs dry, it sends alone
    while the other batchers leave their share of the rate unused. Once 100 requests have shown its pace (10 a
    second here), a round holds READ_AHEAD_MS of it (20 requests, 2 messages of 10) instead of a batch's size."""
    if not read_ahead:  # rounds cut by size only, as before
        monkeypatch.setattr(batcher_module, "READ_AHEAD_MS", 10**9)
    delivered = message(AUD_A, 100, "m-")
    full_at(monkeypatch, delivered)  # a round of 10 messages of 10 users is full by size
    waiting = [message(AUD_A, 10, f"q{i}-") for i in range(10)]
    queue = FakeQueue(*waiting)
    w = topped_world(queue, max_elements=1)
    w.batcher.sender.buckets = FakeBuckets(PacedBucket(w.s.clock, 0.1))  # type: ignore[arg-type]
    assert w.run(delivered) == []
    assert w.ledger.counted("step-1") == {"synced": 200} and queue.waiting == []
    if read_ahead:  # the first read asks for a message (its batch made 100 requests), the next for the rest
        assert queue.asked[:10] == [1] * 10
    else:
        assert queue.asked[0] == 10


def test_before_its_pace_is_known_it_is_taken_as_the_fastest_the_rate_limits_allow() -> None:
    """At an invocation's start nothing has left yet: its read-ahead is bounded by its targets' rates (a campaign's
    thousand webhooks a second), so the rounds read then hold seconds, not the tens of seconds a batch of 6 MB of
    webhooks would (make bench, campaign rate limit: 31,000 held at once before)."""
    pace = batcher_module._Pace(T0, 0)
    pace.add_round(12_000, 25, {AUD_A.key: 990.0})
    assert pace.per_ms(T0 + 10, 0) == pytest.approx(0.99)
    pace.add_round(5, 1, {AUD_B.key: 9.2})  # several targets: their rates add up
    assert pace.per_ms(T0 + 10, 0) == pytest.approx(0.9992)
    unlimited = AUD_B.model_copy(update={"audience_id": "unlimited"})
    pace.add_round(5, 1, {unlimited.key: None})  # a target without a limit: no bound
    assert pace.per_ms(T0 + 10, 0) is None
    assert pace.per_ms(T0 + 1_000, 100) == pytest.approx(0.1)  # measured once 100 have left


def test_the_next_round_is_read_once_what_is_held_would_leave_within_the_read_ahead() -> None:
    """With rounds sending in other threads, the reading thread waits while what it holds is more than
    READ_AHEAD_MS of its pace: here 1,000 requests held at 100 a second, 10 s, so it waits about 8 s."""
    w = world()
    clock = w.s.clock
    sender = w.batcher.sender

    class SendingClock(type(clock)):  # type: ignore[misc]
        def sleep(self, seconds: float) -> None:  # the senders go on at 100 a second meanwhile
            super().sleep(seconds)
            sender.requests_sent += round(seconds * 100)
            pace.left(round(seconds * 100))

    w.batcher.clock = ticking = SendingClock(clock.now)
    pace = batcher_module._Pace(ticking.now_ms() - 1_000, 0)
    pace.add_round(1_100, 11, {})
    sender.requests_sent = 100  # 100 sent in its first second
    pace.left(100)
    w.batcher._pace = pace
    w.batcher._wait_to_read_ahead(ticking.now_ms() + 100_000)
    held_ms = pace.holding() / (pace.per_ms(ticking.now_ms(), sender.requests_sent) or 1)
    assert held_ms <= batcher_module.READ_AHEAD_MS
    assert 7_000 <= sum(ticking.sleeps) * 1000 <= 9_000
    assert max(ticking.sleeps) * 1000 <= batcher_module.READ_AHEAD_POLL_MS  # it looks again as the pace moves


def test_the_wait_to_read_ahead_ends_at_the_time_for_a_round_whatever_is_held() -> None:
    """Nothing leaves (a destination that stopped answering): the reading thread gives up reading at the round
    cutoff, never sleeping into the time kept back for the last round to settle."""
    w = world()
    clock = w.s.clock
    pace = batcher_module._Pace(clock.now_ms() - 1_000, 0)
    pace.add_round(100_000, 100, {AUD_A.key: 10.0})
    w.batcher._pace = pace
    deadline = clock.now_ms() + 900_000
    w.batcher._wait_to_read_ahead(deadline)
    cutoff = deadline - REQUEST_BUDGET_MS - batcher_module.ROUND_MARGIN_MS
    assert cutoff <= clock.now_ms() <= cutoff + batcher_module.READ_AHEAD_POLL_MS


class ClosedGate:
    def closed(self, step_id: str) -> bool:
        return True


def test_requests_never_sent_are_not_held_a_stopped_steps_backlog_is_read_on() -> None:
    """A stopped step's users are not sent (STOPPED): the pace must not count them as held, or the reading
    thread would wait for them to leave until its deadline and leave the backlog on the queue."""
    delivered = message(AUD_A, 100, "m-")
    queue = FakeQueue(*[message(AUD_A, 100, f"q{i}-") for i in range(5)])
    w = topped_world(queue, max_elements=1)
    w.batcher.sender.buckets = FakeBuckets(PacedBucket(w.s.clock, 0.1))  # type: ignore[arg-type]
    w.batcher.gate = ClosedGate()
    started = w.s.clock.now_ms()
    with pytest.MonkeyPatch.context() as patch:
        full_at(patch, delivered)
        assert w.run(delivered) == []
    assert queue.waiting == [] and w.calls == []
    assert w.s.clock.now_ms() - started < 5_000


def test_a_round_whose_queue_ran_dry_waits_a_moment_for_the_rest_of_its_last_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A producer just behind the destination's pace (a segment's backfill) empties the queue for moments: the
    round waits for the users its last request misses instead of sending a part."""
    delivered = [message(AUD_A, 2, f"m{i}-") for i in range(2)]
    full_at(monkeypatch, *delivered)  # 2 messages (4 users) make a full round
    w = topped_world(FakeQueue(), max_elements=4)
    late = [message(AUD_A, 2, "late-")]

    class DryForAMoment(FakeQueue):
        def receive(self, max_messages: int) -> list[dict[str, Any]]:
            if w.s.clock.now >= T0 + 300 and late:  # written while the round waited
                self.waiting += [{**record(m), "receiptHandle": f"rh-{m.chunk_id}"} for m in late]
                late.clear()
            return super().receive(max_messages)

    queue = DryForAMoment(message(AUD_A, 2, "q0-"))  # the next round finds one message: half a request
    w.batcher.queue = queue
    assert w.run(*delivered) == []
    assert [len(c.elements) for c in w.calls] == [4, 4]  # not [4, 2, 2]
    assert w.ledger.counted("step-1") == {"synced": 8}
    assert queue.waiting == []
    assert T0 + 300 <= w.s.clock.now < T0 + batcher_module.TOP_UP_WAIT_MS + 1000


def test_a_round_waits_no_longer_than_the_top_up_wait_once_the_backlog_is_gone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    delivered = [message(AUD_A, 2, f"m{i}-") for i in range(2)]
    full_at(monkeypatch, *delivered)
    queue = FakeQueue(message(AUD_A, 2, "q0-"))
    w = topped_world(queue, max_elements=4)
    assert w.run(*delivered) == []
    assert sorted(len(c.elements) for c in w.calls) == [2, 4]  # the backlog's tail goes as it is...
    assert sum(w.s.clock.sleeps) * 1000 == pytest.approx(batcher_module.TOP_UP_WAIT_MS)  # ...after the wait


def test_top_up_stops_when_the_queue_is_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    delivered = message(AUD_A, 3, "a")
    full_at(monkeypatch, delivered)
    queue = FakeQueue(message(AUD_A, 2, "q"))
    w = topped_world(queue, max_elements=5000)
    assert w.run(delivered) == []
    assert [len(c.elements) for c in w.calls] == [5]


def test_a_message_the_batcher_read_that_fails_is_left_on_the_queue_not_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    delivered = message(AUD_A, 1, "a")
    full_at(monkeypatch, delivered)
    queue = FakeQueue(message(AUD_A, 1, "q", step_id="step-2"))
    w = topped_world(queue)
    w.ledger.fail_record = lambda step_id, entries: store_error() if step_id == "step-2" else None
    assert w.run(delivered) == []  # its id is not the event source mapping's to report
    assert queue.deleted == []  # not deleted: it comes back after its visibility timeout
    assert w.ledger.counted("step-1") == {"synced": 1}


def test_an_unreadable_message_the_batcher_read_is_left_for_the_event_source_mapping(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    delivered = message(AUD_A, 1, "a")
    full_at(monkeypatch, delivered)
    queue = FakeQueue({"messageId": "junk", "receiptHandle": "rh-junk", "body": "{"})
    w = topped_world(queue)
    assert w.run(delivered) == []
    assert queue.deleted == []


def test_messages_of_other_audiences_read_by_the_top_up_are_sent_too(monkeypatch: pytest.MonkeyPatch) -> None:
    delivered = message(AUD_A, 2, "a")
    full_at(monkeypatch, delivered)
    queue = FakeQueue(message(AUD_B, 2, "b", step_id="step-2"), message(AUD_A, 2, "q"))
    w = topped_world(queue, max_elements=4)
    w.run(delivered)
    assert sorted((c.segment_id, len(c.elements)) for c in w.calls) == [("100", 4), ("200", 2)]
    assert sorted(queue.deleted) == ["rh-chunk-b", "rh-chunk-q"]


def test_the_top_up_reads_at_most_one_request_more_than_is_missing() -> None:
    # B has one user; behind it on the queue, a backlog of A. The top-up must not read A's backlog looking for B's
    # 4 missing users: once it has read what was missing plus one request's worth (4 + 5), it stops.
    queue = FakeQueue(*[message(AUD_A, 5, f"q{i}-") for i in range(100)])
    w = topped_world(queue, max_elements=5)
    received, _ = w.batcher._parse([record(message(AUD_A, 5, "a")), record(message(AUD_B, 1, "b"))], True)
    extra = w.batcher._top_up(received, DEADLINE)
    assert [len(r.message.users) for r in extra] == [5, 5]  # one read of 2 messages spent the budget
    assert len(queue.waiting) == 98


def test_a_message_delivered_twice_reports_the_event_source_mappings_copy_when_it_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # SQS at-least-once: the same message (same id) in the mapping's batch and in the batcher's own read.
    m = message(AUD_A, 1, "a")
    full_at(monkeypatch, m)
    queue = FakeQueue({**record(m), "receiptHandle": "rh-copy"})
    w = topped_world(queue)
    w.ledger.fail_record = lambda step_id, entries: store_error("aws", "InternalServerError")
    assert w.run(m) == ["sqs-chunk-a"]  # unsettled: the mapping must not delete it
    assert queue.deleted == []


def test_a_redelivered_round_starts_each_handed_off_execution_once() -> None:
    keys = [batch_key("step-1", f"{i:032x}", 1) for i in range(3)]
    shared = "time#c#1"
    ledger = FakeLedger()
    messages = [message(AUD_A, 1, f"m{i}", ledger_bucket=shared) for i in range(5)]
    for i, m in enumerate(messages):
        ledger.record("step-1", [LedgerEntry(message_ledger_id(m), shared, StepDelta(), [keys[i % 3]])])
    w = world(ledger=ledger)
    for i, key in enumerate(keys):
        stored(w.retries, messages[i], key)
    assert w.batcher.handle([again(m) for m in messages], DEADLINE) == []
    assert sorted(key for key, _ in w.retries.started) == sorted(keys)  # 3 starts, not 5 x 3
    assert w.calls == []


def test_rounds_and_requests_in_threads_count_everyone_once(monkeypatch: pytest.MonkeyPatch) -> None:
    delivered = [message(AUD_A, 3, f"m{i}-") for i in range(4)]
    full_at(monkeypatch, *delivered)
    waiting = [message(AUD_A, 3, f"q{i}-") for i in range(40)]
    queue = FakeQueue(*waiting)
    w = topped_world(queue, max_elements=6, send_concurrency=4)
    assert w.run(*delivered) == []
    assert w.ledger.counted("step-1") == {"synced": 3 * 44}
    assert sorted(queue.deleted) == sorted(f"rh-{m.chunk_id}" for m in waiting)
    assert sum(len(c.elements) for c in w.calls) == 3 * 44
    assert all(len(c.elements) <= 6 for c in w.calls)


def test_no_reading_without_time_left_and_a_failing_read_ends_the_backlog(monkeypatch: pytest.MonkeyPatch) -> None:
    delivered = message(AUD_A, 1, "a")
    full_at(monkeypatch, delivered)
    queue = FakeQueue(message(AUD_A, 2, "q"))
    w = topped_world(queue)
    w.batcher.handle([record(delivered)], w.s.clock.now_ms() + REQUEST_BUDGET_MS)  # no time left
    assert queue.receives == 0

    def broken(max_messages: int) -> list[dict[str, Any]]:
        raise store_error("aws", "ServiceUnavailable")

    queue.receive = broken  # type: ignore[method-assign]
    assert w.run(message(AUD_A, 1, "b")) == []  # the batch goes as it is
    assert w.ledger.counted("step-1") == {"synced": 2}


def test_rate_limit_deadline_keeps_a_request_budget_back() -> None:
    w = world()
    w.run(message(AUD_A, 1, "a"))
    assert w.s.bucket.deadlines == [DEADLINE - REQUEST_BUDGET_MS]


# ---- unreadable records --------------------------------------------------------------------------
def test_unreadable_records_are_failures_others_processed() -> None:
    w = world()
    no_chunk = message(AUD_A, 1, "z").model_dump(mode="json")
    del no_chunk["chunk_id"]
    failed = w.run(
        {"messageId": "garbage", "body": "{not json"},
        {"messageId": "wrong-shape", "body": json.dumps({"step_id": "s"})},
        {"messageId": "no-chunk-id", "body": json.dumps(no_chunk)},
        {"messageId": "no-body"},
        message(AUD_A, 2, "a"),
    )
    assert failed == ["garbage", "wrong-shape", "no-chunk-id", "no-body"]
    assert len(w.calls) == 1
    assert w.ledger.counted("step-1") == {"synced": 2}


# ---- per-user outcomes and the retry hand-off ------------------------------------------------------
def test_partly_sent_message_hands_the_unsent_users_to_the_retry() -> None:
    w = world(bucket=FakeBucket(grant=[True, False]), max_elements=2)
    failed = w.run(message(AUD_A, 3, "a"))
    assert failed == []
    assert w.ledger.counted("step-1") == {"synced": 2}
    (batch,) = w.batches()
    assert [u["x"] for u in batch.users] == ["a2"]
    assert batch.reasons == [NOT_SENT_IN_TIME]
    assert w.ledger.keys_of("msg:chunk-a") == [batch.key]
    assert w.retries.started == [(batch.key, FIRST_WAIT)]
    assert FIRST_WAIT == 30


def test_no_rate_limit_token_hands_every_message_to_the_retry_without_failing_it() -> None:
    w = world(bucket=FakeBucket(grant=False))
    failed = w.run(message(AUD_A, 2, "a"), message(AUD_B, 1, "b"))
    assert failed == []  # handed to the retry, not left to the visibility timeout and the DLQ
    assert w.calls == []
    assert w.ledger.counted("step-1") == {}
    assert waiting(w.batches()) == {"a0": NOT_SENT_IN_TIME, "a1": NOT_SENT_IN_TIME, "b0": NOT_SENT_IN_TIME}
    assert set(w.ledger.entries) == {"msg:chunk-a", "msg:chunk-b"}  # recorded, with nothing counted yet
    assert w.retries.started_keys == set(w.retries.puts)


def test_element_4xx_is_counted_errored_and_element_5xx_waits() -> None:
    w = world(statuses({1: ElementResult(400, "INVALID_ID", "bad hash"), 3: ElementResult(503)}))
    failed = w.run(message(AUD_A, 3, "a"), message(AUD_A, 2, "b"), message(AUD_A, 1, "c", step_id="step-2"))
    assert failed == []
    assert len(w.calls) == 1
    assert w.ledger.counted("step-1") == {"synced": 3, "errored": 1, "errored_reason_linkedin_400_invalid_id": 1}
    assert w.ledger.counted("step-2") == {"synced": 1}
    assert waiting(w.batches()) == {"b0": "linkedin_element_503"}
    assert w.ledger.keys_of("msg:chunk-b") == w.retries.puts
    assert w.ledger.keys_of("msg:chunk-a") == []


def test_a_retry_batch_names_every_webhook_its_users_came_from() -> None:
    w = world(BOOM)
    assert w.run(message(AUD_A, 2, "b"), message(AUD_A, 1, "a"), message(AUD_A, 1, "b2", correlation_id="corr-b")) == []
    (batch,) = w.batches()
    assert batch.correlation_ids == batch.webhooks == ["corr-a", "corr-b"]  # each once, in order


def test_retry_batches_are_per_step_and_target_with_one_reason_per_user() -> None:
    w = world(
        by_segment={
            "100": [statuses({0: ElementResult(429), 2: ElementResult(503), 3: ElementResult(500)})],
            "200": [BOOM],
        }
    )
    a = message(AUD_A, 3, "a", step_id="step-1")  # request 100: a0 a1 a2 c0 c1
    b = message(AUD_B, 2, "b", step_id="step-1")  # request 200: b0 b1
    c = message(AUD_A, 2, "c", step_id="step-2")
    assert w.run(a, b, c) == []
    by_group = {(x.step_id, x.target.audience_id): x for x in w.batches()}
    assert set(by_group) == {("step-1", "100"), ("step-1", "200"), ("step-2", "100")}
    assert waiting([by_group["step-1", "100"]]) == {"a0": "linkedin_element_429", "a2": "linkedin_element_503"}
    assert waiting([by_group["step-1", "200"]]) == {"b0": "linkedin_500_error", "b1": "linkedin_500_error"}
    assert waiting([by_group["step-2", "100"]]) == {"c0": "linkedin_element_500"}
    assert by_group["step-1", "200"].target == AUD_B
    for batch in w.batches():
        assert batch.attempt == 1
        assert re.fullmatch(r"[0-9a-f]{32}", batch.batch_id)
        assert batch.key == batch_key(batch.step_id, batch.batch_id, 1)
        assert batch.first_failed_at == T0
        assert len(batch.reasons) == len(batch.users)
    # each batch names the webhooks its users came from, for the retry's log lines
    assert by_group["step-1", "100"].correlation_ids == ["corr-a"]
    assert by_group["step-1", "200"].correlation_ids == ["corr-b"]
    assert by_group["step-2", "100"].correlation_ids == ["corr-c"]
    assert w.ledger.keys_of("msg:chunk-a") == [by_group["step-1", "100"].key]
    assert w.ledger.keys_of("msg:chunk-b") == [by_group["step-1", "200"].key]
    assert w.ledger.keys_of("msg:chunk-c") == [by_group["step-2", "100"].key]
    assert sorted(w.retries.started) == sorted((x.key, FIRST_WAIT) for x in w.batches())
    assert w.ledger.counted("step-1") == {"synced": 1}
    assert w.ledger.counted("step-2") == {"synced": 1}


def test_retry_batches_hold_at_most_max_elements_users() -> None:
    w = world(BOOM, BOOM, BOOM, max_elements=3)
    failed = w.run(message(AUD_A, 2, "a"), message(AUD_A, 5, "b"))
    assert failed == []
    assert [len(b.users) for b in w.batches()] == [3, 3, 1]
    k1, k2, k3 = w.retries.puts
    assert [u["x"] for u in w.batches()[0].users] == ["a0", "a1", "b0"]  # arrival order kept
    assert w.ledger.keys_of("msg:chunk-a") == [k1]
    assert w.ledger.keys_of("msg:chunk-b") == [k1, k2, k3]  # a batch shared by two messages is in both
    assert sorted(w.retries.started_keys) == sorted([k1, k2, k3])
    assert len(set(w.retries.puts)) == 3


def test_first_retry_wait_follows_the_configured_horizon() -> None:
    w = world(BOOM, retry_horizon_seconds=20)
    w.run(message(AUD_A, 1, "a"))
    assert [wait for _, wait in w.retries.started] == [20]


# ---- exactly once ----------------------------------------------------------------------------------
def recorded_ledger(m: QueuedMessage, keys: list[str]) -> FakeLedger:
    ledger = FakeLedger()
    ledger.record(m.step_id, [LedgerEntry(message_ledger_id(m), m.bucket, StepDelta(), keys)])
    ledger.transactions.clear()
    return ledger


def stored(retries: FakeRetryStore, m: QueuedMessage, key: str, wait_seconds: int | None = None) -> None:
    """The retry batch behind `key`, holding `m`'s users, as a settling wrote it (None: a version that kept no
    wait)."""
    batch_id = key.split("/")[-2]
    retries.objects[key] = RetryBatch(
        batch_id=batch_id,
        attempt=1,
        step_id=m.step_id,
        target=m.target,
        users=m.users,
        reasons=["linkedin_500"] * len(m.users),
        first_failed_at=T0,
        wait_seconds=wait_seconds,
    )


def test_a_recorded_message_is_not_sent_again_only_its_retries_restarted() -> None:
    m = message(AUD_A, 2, "a")
    keys = [batch_key("step-1", "a" * 32, 1), batch_key("step-1", "b" * 32, 1)]
    w = world(ledger=recorded_ledger(m, keys))
    stored(w.retries, m, keys[0])  # the policy's first wait
    stored(w.retries, m, keys[1], wait_seconds=600)  # what its answer asked for
    assert w.run(again(m)) == []
    assert w.calls == []
    assert w.ledger.transactions == []
    assert w.retries.puts == []
    assert w.retries.started == [(keys[0], FIRST_WAIT), (keys[1], 600)]


def test_a_first_delivery_is_not_looked_up_but_a_duplicate_id_counts_nothing() -> None:
    # A client's retry of a webhook is a new SQS message (received once) with the first one's chunk id.
    m = message(AUD_A, 2, "a")
    w = world(ledger=recorded_ledger(m, []))
    assert w.run(m) == []
    assert w.ledger.recorded_calls == []  # no read for a first delivery
    assert [c.hashes for c in w.calls] == [hashes("a", range(2))]  # sent again: LinkedIn adds idempotently
    assert w.ledger.transactions == []  # and counted nothing


def test_only_redeliveries_are_looked_up() -> None:
    first, redelivered = message(AUD_A, 1, "a"), message(AUD_A, 1, "b")
    w = world()
    w.batcher.handle([record(first), again(redelivered)], DEADLINE)
    assert w.ledger.recorded_calls == [["msg:chunk-b"]]


def test_a_recorded_message_whose_restart_fails_is_failed_again() -> None:
    m = message(AUD_A, 2, "a")
    key = batch_key("step-1", "a" * 32, 1)
    retries = FakeRetryStore()
    retries.objects[key] = RetryBatch(
        batch_id="a" * 32,
        step_id="step-1",
        target=AUD_A,
        users=m.users,
        reasons=["x", "x"],
        first_failed_at=T0,
        attempt=1,
    )
    retries.fail_start = lambda batch: store_error("aws", "ThrottlingException")
    w = world(ledger=recorded_ledger(m, [key]), retries=retries)
    assert w.run(message(AUD_A, 1, "b"), again(m)) == ["sqs-chunk-a"]
    assert [c.hashes for c in w.calls] == [hashes("b", range(1))]


def test_duplicate_delivery_in_one_invocation_is_sent_once_and_both_succeed() -> None:
    m = message(AUD_A, 2, "a")
    w = world()
    failed = w.batcher.handle([record(m, "first"), record(m, "second")], DEADLINE)
    assert failed == []
    (call,) = w.calls
    assert len(call.elements) == 2
    assert list(w.ledger.entries) == ["msg:chunk-a"]
    assert w.ledger.counted("step-1") == {"synced": 2}


def test_duplicate_delivery_that_cannot_be_settled_fails_both_deliveries() -> None:
    m = message(AUD_A, 2, "a")
    w = world()
    w.ledger.fail_record = lambda step, entries: store_error()
    failed = w.batcher.handle([record(m, "first"), record(m, "second")], DEADLINE)
    assert sorted(failed) == ["first", "second"]
    assert len(w.calls) == 1


def test_record_returning_duplicates_drops_them_and_rebuilds_the_others_retry_batches() -> None:
    m1 = message(AUD_A, 2, "a")
    m2 = message(AUD_A, 2, "b")
    m3 = message(AUD_A, 1, "c")
    ledger = FakeLedger()
    winners_key = batch_key("step-1", "f" * 32, 1)
    # another delivery of m1 records it between this batcher's recorded() and its record()
    ledger.racing["msg:chunk-a"] = Recorded(
        "step-1", LedgerEntry("msg:chunk-a", "chunk#chunk-a", StepDelta(), [winners_key])
    )
    w = world(statuses({0: ElementResult(503), 2: ElementResult(503)}), ledger=ledger)
    failed = w.run(m1, m2, m3)
    assert failed == []  # the duplicate is done: its winner settled it
    assert ledger.record_calls == [
        ("step-1", ["msg:chunk-a", "msg:chunk-b", "msg:chunk-c"]),
        ("step-1", ["msg:chunk-b", "msg:chunk-c"]),
    ]
    first_round, second_round = w.retries.puts
    assert w.retries.deleted == [first_round]  # it held m1's users and no entry names it: gone
    assert waiting(w.batches([second_round])) == {"b0": "linkedin_element_503"}  # without m1's users
    assert first_round != second_round
    assert w.ledger.keys_of("msg:chunk-b") == [second_round]
    assert w.ledger.keys_of("msg:chunk-c") == []
    assert w.ledger.keys_of("msg:chunk-a") == [winners_key]  # the winner's entry is untouched
    assert w.retries.started == [(second_round, FIRST_WAIT)]
    assert w.ledger.counted("step-1") == {"synced": 2}  # a1 was counted by the winner, not here


def test_when_every_message_is_a_duplicate_nothing_is_recorded_or_failed() -> None:
    ledger = FakeLedger()
    ledger.racing["msg:chunk-a"] = Recorded("step-1", LedgerEntry("msg:chunk-a", "chunk#chunk-a", StepDelta(), []))
    w = world(ledger=ledger)
    assert w.run(message(AUD_A, 2, "a")) == []
    assert ledger.transactions == []
    assert w.retries.started == []


@pytest.mark.parametrize(
    "error", [store_error("aws", "InternalServerError"), store_error("aws", "EndpointConnectionError")]
)
def test_ledger_unreadable_fails_every_redelivered_message_and_sends_nothing(error: Exception) -> None:
    w = world()
    w.ledger.fail_recorded = error
    failed = w.run({"messageId": "garbage", "body": "{"}, again(message(AUD_A, 1, "a")), again(message(AUD_B, 1, "b")))
    assert failed == ["garbage", "sqs-chunk-a", "sqs-chunk-b"]
    assert w.calls == []
    assert w.retries.puts == []


def test_ledger_write_error_fails_only_that_steps_messages() -> None:
    w = world(BOOM)
    w.ledger.fail_record = lambda step, entries: store_error() if step == "step-1" else None
    failed = w.run(message(AUD_A, 1, "a"), message(AUD_A, 1, "b"), message(AUD_A, 1, "c", step_id="step-2"))
    assert sorted(failed) == ["sqs-chunk-a", "sqs-chunk-b"]
    assert list(w.ledger.entries) == ["msg:chunk-c"]
    assert w.ledger.counted("step-1") == {}
    # step-1's batches were written but never referenced nor started: a redelivery writes its own
    started = {w.retries.objects[k].step_id for k in w.retries.started_keys}
    assert started == {"step-2"}


def test_retry_store_write_error_fails_only_that_steps_messages_and_records_nothing_for_them() -> None:
    w = world(BOOM)
    retries = w.retries
    retries.fail_put = lambda batch: store_error() if batch.step_id == "step-1" else None
    failed = w.run(message(AUD_A, 1, "a"), message(AUD_B, 1, "b", step_id="step-2"))
    assert failed == ["sqs-chunk-a"]
    assert [step for step, _ in w.ledger.record_calls] == ["step-2"]
    assert list(w.ledger.entries) == ["msg:chunk-b"]


def test_start_failure_after_record_fails_the_message_and_a_redelivery_restarts_the_same_keys() -> None:
    w = world(by_segment={"100": [BOOM]})
    fail_once = {"step-1": 1}

    def flaky(batch: RetryBatch) -> Exception | None:
        if batch.target.audience_id == "100" and fail_once["step-1"]:
            fail_once["step-1"] -= 1
            return store_error("StartExecution", "ServiceUnavailable")
        return None

    w.retries.fail_start = flaky
    a = message(AUD_A, 2, "a")
    b = message(AUD_B, 1, "b")  # its request is accepted: nothing to start, nothing to fail
    c = message(AUD_B, 1, "c", step_id="step-2")
    assert w.run(a, b, c) == ["sqs-chunk-a"]
    assert w.ledger.counted("step-1") == {"synced": 1}  # recorded: a redelivery counts nothing again
    keys = w.ledger.keys_of("msg:chunk-a")
    assert len(keys) == 1
    assert w.retries.started == []
    requests_before = len(w.calls)

    assert w.run(again(a)) == []  # the redelivery
    assert len(w.calls) == requests_before  # not sent again
    assert w.retries.started == [(keys[0], FIRST_WAIT)]
    assert len(w.retries.puts) == 1  # no new batch either
    assert w.ledger.counted("step-1") == {"synced": 1}


def test_start_failure_fails_only_the_messages_whose_batch_did_not_start() -> None:
    w = world(BOOM, BOOM)
    w.retries.fail_start = lambda batch: store_error() if batch.target == AUD_A else None
    failed = w.run(message(AUD_A, 1, "a"), message(AUD_B, 1, "b"))
    assert failed == ["sqs-chunk-a"]
    assert [w.retries.objects[k].target for k in w.retries.started_keys] == [AUD_B]
    assert set(w.ledger.entries) == {"msg:chunk-a", "msg:chunk-b"}


def test_counts_are_emitted_as_emf_once_settled(capsys: pytest.CaptureFixture[str]) -> None:
    w = world(statuses({0: ElementResult(400)}))
    capsys.readouterr()
    w.run(message(AUD_A, 3, "a"))
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    per_step = [b for b in blobs if b.get("step") == "step-1"]
    assert sum(b.get("Synced", [0])[0] for b in per_step) == 2
    assert sum(b.get("Errored", [0])[0] for b in per_step) == 1
    assert sum(b.get("Errored", [0])[0] for b in blobs if "step" not in b) == 1  # the service-wide series


def test_nothing_is_emitted_for_a_message_that_failed_to_settle(capsys: pytest.CaptureFixture[str]) -> None:
    w = world()
    w.ledger.fail_record = lambda step, entries: store_error()
    capsys.readouterr()
    assert w.run(message(AUD_A, 3, "a")) == ["sqs-chunk-a"]
    assert '"Synced"' not in capsys.readouterr().out


class BrokenBucket(FakeBucket):
    """The rate-limit table is unreachable."""

    def acquire(self, deadline_ms: int) -> bool:
        raise store_error("aws", "EndpointConnectionError")


def test_an_aws_error_around_a_request_hands_its_users_to_the_retry_without_failing_the_batch() -> None:
    w = world(bucket=BrokenBucket())
    failed = w.run(message(AUD_A, 2, "a"), message(AUD_B, 1, "b", step_id="step-2"))
    assert failed == []
    assert w.calls == []
    assert waiting(w.batches()) == {"a0": NOT_SENT_IN_TIME, "a1": NOT_SENT_IN_TIME, "b0": NOT_SENT_IN_TIME}
    assert set(w.ledger.entries) == {"msg:chunk-a", "msg:chunk-b"}


# ---- the interpreter while a batch is in flight -------------------------------------------------
def test_a_batch_in_flight_pauses_the_collector_and_shortens_the_switch_interval_then_puts_both_back() -> None:
    w = world()
    seen: list[tuple[bool, float]] = []
    send = w.s.linkedin.send_users

    def observing(*args: Any) -> list[ElementResult]:
        seen.append((gc.isenabled(), sys.getswitchinterval()))
        return send(*args)

    w.s.linkedin.send_users = observing  # type: ignore[method-assign,assignment]
    before = (gc.isenabled(), sys.getswitchinterval())
    assert before[1] != batcher_module.IN_FLIGHT_SWITCH_SECONDS
    w.run(message(AUD_A, 3, "a"))
    assert seen == [(False, batcher_module.IN_FLIGHT_SWITCH_SECONDS)]
    assert (gc.isenabled(), sys.getswitchinterval()) == before

"""The shared LinkedIn rate limit: `DynamoTokenBucket` on the template's RateLimitTable (moto), several
bucket instances standing in for several batcher containers."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import pytest

from audience_sync.adapters.aws.rate_bucket import LEAD_MS, DynamoRateBuckets, DynamoTokenBucket, default_policy
from audience_sync.core.clock import SystemClock
from audience_sync.core.ratelimit import per_minute_policy
from tests.integration.batcher.batcher_support import FakeClock, max_in_any_window

FAR = 10**15  # a deadline that never binds


def _bucket(stack: Any, clock: Any, key: str = "linkedin#test") -> DynamoTokenBucket:
    return DynamoTokenBucket(stack.stack.ref("RateLimitTable"), key, default_policy(10), clock)


class CountingTable:
    """Wraps a boto3 Table to count reads."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self.reads = 0

    def get_item(self, **kwargs: Any) -> Any:
        self.reads += 1
        return self.table.get_item(**kwargs)


def test_interleaved_batchers_never_exceed_ten_per_second(stack: Any) -> None:
    clock = FakeClock()
    buckets = [_bucket(stack, clock) for _ in range(3)]
    stamps: list[float] = []
    for i in range(90):
        assert buckets[(i * 7 + i // 3) % 3].acquire(FAR)  # an irregular, greedy interleaving
        stamps.append(clock.t_ms)

    assert max_in_any_window(stamps) <= 10
    elapsed_s = (stamps[-1] - stamps[0]) / 1000
    assert (len(stamps) - 1) / elapsed_s >= 9.0
    assert sum(b.writes for b in buckets) > 90  # the instances did race each other


def test_one_conditional_write_per_acquire_when_uncontended(stack: Any) -> None:
    clock = FakeClock()
    bucket = _bucket(stack, clock)
    start = clock.t_ms
    stamps = []
    for _ in range(25):
        assert bucket.acquire(FAR)
        stamps.append(clock.t_ms)

    assert bucket.writes == 25
    assert stamps[0] == start + LEAD_MS  # a full bucket gives the first slot as soon as the write is answered
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert min(gaps) >= 1000 / 9.6 - 1  # 10 req/s less 4 % headroom, evenly spaced
    assert max_in_any_window(stamps) <= 10
    stored = bucket.table.get_item(Key={"bucket": "linkedin#test"}, ConsistentRead=True)["Item"]
    assert int(stored["version"]) == 25  # the stored state is what this bucket last wrote


def test_a_lost_race_recovers_from_the_returned_item(stack: Any) -> None:
    clock = FakeClock()
    slow, fast = _bucket(stack, clock), _bucket(stack, clock)
    counting = CountingTable(slow.table)
    slow.table = counting

    assert slow.acquire(FAR)  # creates the item; the only read is this first load
    first = clock.t_ms
    assert fast.acquire(FAR)  # loads the item, waits for the next token, takes it
    taken_by_fast = clock.t_ms
    assert taken_by_fast > first
    writes_before = slow.writes

    assert slow.acquire(FAR)  # its cached state is stale: the write loses, then it recomputes

    assert slow.writes == writes_before + 2  # one lost conditional write, one successful
    assert counting.reads == 1  # recovered from ReturnValuesOnConditionCheckFailure, not by reading again
    assert clock.t_ms - taken_by_fast >= 1000 / 9.6 - 1
    stored = counting.table.get_item(Key={"bucket": "linkedin#test"}, ConsistentRead=True)["Item"]
    assert int(stored["version"]) == 3


def test_acquire_gives_up_when_the_deadline_is_before_the_next_token(stack: Any) -> None:
    clock = FakeClock()
    bucket = _bucket(stack, clock)
    assert bucket.acquire(FAR)
    now = clock.now_ms()

    assert bucket.acquire(now + 50) is False  # the next slot is ~104 ms away

    assert clock.now_ms() == now  # it did not sleep towards a token it could not use
    assert bucket.writes == 1
    assert bucket.acquire(now + 200) is True
    assert clock.now_ms() - now >= 1000 / 9.6 - 1


class OversleepingClock(FakeClock):
    """Wakes `late_ms` after what was asked, for the sleeps listed in `late_on` (0-based)."""

    def __init__(self, late_ms: float, late_on: set[int]) -> None:
        super().__init__()
        self.late_ms = late_ms
        self.late_on = late_on

    def sleep(self, seconds: float) -> None:
        late = self.late_ms if len(self.sleeps) in self.late_on else 0
        super().sleep(seconds + late / 1000)


def test_a_caller_waking_too_late_for_its_slot_lets_it_go_and_reserves_another(stack: Any) -> None:
    policy = default_policy(10)
    clock = OversleepingClock(late_ms=policy.late_ms + 5, late_on={1})
    bucket = _bucket(stack, clock)
    assert bucket.acquire(FAR)
    first = clock.now_ms()

    assert bucket.acquire(FAR)  # woke 25 ms after its slot: a request leaving now could bunch with the next one

    assert bucket.slots_missed == 1
    assert bucket.writes == 3  # the slot let go, and the one taken instead
    assert clock.now_ms() - first >= 2 * (1000 / 9.6) - 1  # it left at the slot after the one it missed
    on_time = OversleepingClock(late_ms=policy.late_ms, late_on={1})  # at the tolerance: still on time
    bucket = _bucket(stack, on_time, key="linkedin#on-time")
    assert bucket.acquire(FAR) and bucket.acquire(FAR)
    assert bucket.slots_missed == 0
    assert bucket.writes == 2


def test_a_container_counts_the_slots_its_callers_let_go(stack: Any) -> None:
    policy = default_policy(10)
    buckets = DynamoRateBuckets(stack.stack.ref("RateLimitTable"), OversleepingClock(policy.late_ms + 5, {1, 3}), 4.0)
    for connection in ("a", "b"):
        bucket = buckets.bucket("linkedin", connection, 10)
        assert bucket.acquire(FAR) and bucket.acquire(FAR)
    assert buckets.slots_missed() == 2  # the two late wake-ups, one on each connection


def test_threads_of_one_container_leave_at_successive_slots_each_within_its_tolerance(stack: Any) -> None:
    """Eight threads of one container acquire at once, on the real clock: each returns at most `late_ms` after
    its slot (or takes another), so no two leave closer than 1/rate less that tolerance."""
    clock = SystemClock()
    policy = default_policy(10)
    bucket = DynamoTokenBucket(stack.stack.ref("RateLimitTable"), "linkedin#ahead", policy, clock)
    left: list[int] = []
    lock = threading.Lock()

    def send() -> None:
        assert bucket.acquire(clock.now_ms() + 30_000)
        stamp = clock.now_ms()
        with lock:
            left.append(stamp)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    left.sort()
    assert len(left) == 8
    assert min(b - a for a, b in itertools.pairwise(left)) >= 1000 / 9.6 - policy.late_ms - 1
    assert bucket.writes == 8 + bucket.slots_missed


@pytest.mark.slow
def test_real_threads_share_the_limit_slow(stack: Any) -> None:
    """Real clock, two threads, each its own bucket on the same item: 30 acquisitions take about 3 s."""
    stamps: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        bucket = _bucket(stack, SystemClock(), key="linkedin#threads")
        # moto's conditional writes are made atomic per item by localmode.moto_threadsafe (installed by provision)
        try:
            for _ in range(15):
                assert bucket.acquire(SystemClock().now_ms() + 30_000)
                with lock:
                    stamps.append(time.time() * 1000)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert len(stamps) == 30
    assert max_in_any_window(stamps) <= 10
    assert (stamps[-1] - stamps[0]) / 1000 >= 29 / 10
    assert (stamps[-1] - stamps[0]) / 1000 <= 4.0  # and the limit is used, not wasted (~3.05 s)


@pytest.mark.parametrize("steady", [False, True])
def test_a_per_minute_limit_takes_leases_and_never_exceeds_the_limit_in_any_minute(stack: Any, steady: bool) -> None:
    """A campaign's rate_limit_per_minute: tokens taken several a write, three containers racing for 90 seconds.
    Whatever the interleaving, no minute holds more than the limit; containers that send what they lease (a
    batcher's senders do, within milliseconds) use at least 95 % of it."""
    clock = FakeClock()
    policy = per_minute_policy(3_000)
    assert policy.lease == 2  # 50 a second less 1 %, 50 ms of it
    buckets = [DynamoTokenBucket(stack.stack.ref("RateLimitTable"), "webhook#c1", policy, clock) for _ in range(3)]
    stamps: list[float] = []
    end = clock.t_ms + 90_000
    i = 0
    while clock.t_ms < end:
        turn = (i // policy.lease) % 3 if steady else (i * 7 + i // 5) % 3  # adversarial: a lease cut short
        assert buckets[turn].acquire(FAR)
        stamps.append(clock.t_ms)
        clock.t_ms += 3  # the request itself
        i += 1
    assert max_in_any_window(stamps, 60_000) <= 3_000
    if steady:
        assert len(stamps) >= 0.95 * 4_500
        # a write a lease, and one lost race when another container took the last (the adapter's one read aside)
        assert sum(b.writes for b in buckets) <= 2 * -(-len(stamps) // policy.lease)


def test_a_lease_not_used_in_time_is_dropped(stack: Any) -> None:
    clock = FakeClock()
    bucket = DynamoTokenBucket(stack.stack.ref("RateLimitTable"), "webhook#c2", per_minute_policy(6_000), clock)
    assert bucket.acquire(FAR) and bucket.writes == 1
    assert bucket.acquire(FAR) and bucket.writes == 1  # from the lease
    clock.t_ms += 1_000  # the rest of the lease is stale: a burst now could break the limit
    assert bucket.acquire(FAR) and bucket.writes == 2

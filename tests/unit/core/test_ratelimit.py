"""ratelimit.py: token bucket arithmetic in integer milli-tokens, driven by a simulated clock."""

from __future__ import annotations

import heapq
import math

import pytest

from audience_sync.adapters.aws.rate_bucket import default_policy
from audience_sync.core.ratelimit import MILLI, BucketPolicy, BucketState


def test_first_take_finds_a_full_bucket() -> None:
    policy = BucketPolicy(rate_per_second=10, capacity=3)
    state, wait = policy.take(None, 1_000)
    assert wait == 0
    assert state == BucketState(2 * MILLI, 1_000, 1)
    assert policy.full(5) == BucketState(3000, 5, 0)


def test_refill_is_integer_milli_tokens() -> None:
    policy = BucketPolicy(rate_per_second=2.5, capacity=5)
    refilled = policy.refilled(BucketState(0, 1_000, 4), 1_333)
    # 333 ms * 2.5 tokens/s = 832.5 milli-tokens -> 832
    assert refilled == BucketState(832, 1_333, 4)
    assert isinstance(refilled.milli_tokens, int)


def test_refill_caps_at_capacity() -> None:
    policy = BucketPolicy(rate_per_second=10, capacity=2)
    assert policy.refilled(BucketState(1_500, 0, 0), 10_000_000).milli_tokens == 2_000


def test_wait_when_empty() -> None:
    policy = BucketPolicy(rate_per_second=10, capacity=1)
    state, _ = policy.take(None, 0)
    assert state is not None
    new, wait = policy.take(state, 40)  # 400 milli-tokens back, 600 missing at 10/s -> 0.06 s
    assert new is None
    assert wait == pytest.approx(0.06)
    new, wait = policy.take(state, 100)
    assert new is not None
    assert wait == 0


def test_cannot_take_more_than_capacity() -> None:
    with pytest.raises(ValueError, match="capacity"):
        BucketPolicy(rate_per_second=10, capacity=1).take(None, 0, tokens=2)


@pytest.mark.parametrize(("rate", "capacity"), [(0, 1), (-1, 1), (1, 0)])
def test_invalid_policy(rate: float, capacity: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        BucketPolicy(rate_per_second=rate, capacity=capacity)


def test_clock_going_backwards_refills_nothing_and_keeps_updated_ms() -> None:
    policy = BucketPolicy(rate_per_second=10, capacity=1)
    state = BucketState(200, 10_000, 3)
    behind = policy.refilled(state, 5_000)
    assert behind == state
    new, wait = policy.take(state, 5_000)
    assert new is None
    assert wait == pytest.approx(0.08)
    full = BucketState(1000, 10_000, 3)
    taken, _ = policy.take(full, 9_000)
    assert taken is not None
    assert taken.updated_ms == 10_000
    assert taken.milli_tokens == 0


def simulate(policy: BucketPolicy, takers: int, duration_ms: int) -> list[int]:
    """Greedy takers share one bucket; each retries exactly when told to. Returns the take times (ms)."""
    state: BucketState | None = None
    taken: list[int] = []
    queue = [(0, i) for i in range(takers)]
    heapq.heapify(queue)
    while queue:
        now, who = heapq.heappop(queue)
        if now >= duration_ms:
            continue
        new, wait = policy.take(state, now)
        if new is not None:
            state = new
            taken.append(now)
            heapq.heappush(queue, (now, who))  # greedy: try again at once
        else:
            heapq.heappush(queue, (now + max(1, math.ceil(wait * 1000)), who))
    return taken


def test_capacity_one_never_exceeds_the_rate_in_any_second() -> None:
    policy = BucketPolicy(rate_per_second=10, capacity=1)
    taken = simulate(policy, takers=4, duration_ms=10_000)
    assert len(taken) >= 99
    for i, start in enumerate(taken):
        in_window = sum(1 for t in taken[i:] if t < start + 1000)
        assert in_window <= 10, (start, in_window)


def test_a_larger_capacity_allows_a_burst() -> None:
    # the simulation can see bursts: with capacity 5 the first second holds more than 10 takes
    taken = simulate(BucketPolicy(rate_per_second=10, capacity=5), takers=2, duration_ms=1_000)
    assert len(taken) > 10


def test_default_policy_keeps_four_percent_headroom_a_quarter_of_it_for_leaving_late() -> None:
    policy = default_policy(10)
    assert policy.rate_per_second == pytest.approx(9.6)
    assert policy.capacity == 1
    # 10 slots span 1000 / 0.96 = 1041.7 ms: 41 ms of budget, a quarter of it for the sender
    assert policy.late_ms == 10
    assert default_policy(20, headroom_percent=10).rate_per_second == pytest.approx(18)
    assert default_policy(20, headroom_percent=10).late_ms == 27  # 111.1 ms of budget


def test_reserve_gives_the_first_slot_at_once_then_spaces_them_at_one_over_the_rate() -> None:
    policy = BucketPolicy(rate_per_second=10, capacity=1)
    state, slot = policy.reserve(None, 1_000)
    assert slot == 1_000
    assert state == BucketState(0, 1_000, 1)
    slots = [slot]
    for _ in range(3):  # reserved all at once: on credit, each 100 ms after the last
        state, slot = policy.reserve(state, 1_000)
        slots.append(slot)
    assert slots == [1_000, 1_100, 1_200, 1_300]
    assert state.milli_tokens == -3_000
    # a taker that only knows `take` waits until the reservations are past
    assert policy.take(state, 1_000) == (None, pytest.approx(0.4))


def test_reserve_after_idle_time_finds_at_most_one_token() -> None:
    policy = BucketPolicy(rate_per_second=10, capacity=1)
    state, _ = policy.reserve(None, 0)
    state, slot = policy.reserve(state, 60_000)
    assert slot == 60_000
    _, slot = policy.reserve(state, 60_000)
    assert slot == 60_100  # no burst saved up while idle


def test_reserved_slots_arriving_within_the_budget_never_exceed_the_limit_in_any_second() -> None:
    """Four takers reserve greedily; every request arrives at its slot plus a delay of up to the whole budget
    (adversarial: late, then on time). No second holds more than 10."""
    policy = default_policy(10)
    budget_ms = 1000 / 0.96 - 1000
    state: BucketState | None = None
    arrivals: list[float] = []
    for i in range(400):
        state, slot = policy.reserve(state, (i // 4) * 100)
        arrivals.append(slot + (budget_ms - 0.01 if i % 10 == 0 else 0))
    arrivals.sort()
    assert max(sum(1 for t in arrivals[i:] if t < start + 1000) for i, start in enumerate(arrivals)) == 10
    rate = (len(arrivals) - 1) / ((arrivals[-1] - arrivals[0]) / 1000)
    assert rate >= 9.5

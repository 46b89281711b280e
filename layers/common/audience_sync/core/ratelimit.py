"""Token bucket arithmetic. Pure: no AWS.

Tokens are kept as integer milli-tokens so repeated refills never drift. The bucket refills lazily:
whoever takes tokens first computes the refill since the last update. Capacity is the largest burst;
with capacity 1 the bucket spaces requests evenly at 1/rate, which is what keeps "never more than N
requests in any second" true when several batchers share one bucket.

Two ways to take from it:
- `take`: a token now, or how long until there is one (a per-minute rate's leases);
- `reserve`: a time slot, possibly in the future. The token is taken on credit (milli-tokens go negative) and the
  request leaves at its slot, so the write that reserves it, and the wait for DynamoDB's answer, happen before the
  slot instead of between the token and the request (the generic cell rate algorithm, written as a bucket: a
  reader that only knows `take` sees a negative bucket and waits until the reservations are past).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MILLI = 1000


@dataclass(frozen=True, slots=True)
class BucketState:
    milli_tokens: int
    updated_ms: int
    version: int = 0


@dataclass(frozen=True, slots=True)
class BucketPolicy:
    rate_per_second: float
    capacity: int = 1
    # Tokens one write to the shared bucket takes, handed out by the taker for up to `lease_ms` (then dropped): a
    # rate of a thousand a second cannot be a write a request on one DynamoDB item (about 1,000 writes a second is
    # a partition's most).
    lease: int = 1
    lease_ms: int = 0
    # How late after its slot a reserved request may still leave (`reserve`); later, it takes another slot.
    late_ms: int = 0

    def __post_init__(self) -> None:
        if self.rate_per_second <= 0 or self.capacity < 1:
            raise ValueError("rate must be positive and capacity at least 1")
        if not 1 <= self.lease <= self.capacity:
            raise ValueError("a lease takes at least one token and at most the bucket's capacity")

    def full(self, now_ms: int) -> BucketState:
        return BucketState(self.capacity * MILLI, now_ms, 0)

    def refilled(self, state: BucketState, now_ms: int) -> BucketState:
        """The state at `now_ms`. A clock behind the stored one (skew between hosts) refills nothing."""
        elapsed = max(0, now_ms - state.updated_ms)
        milli = min(self.capacity * MILLI, state.milli_tokens + int(elapsed * self.rate_per_second))
        return BucketState(milli, max(now_ms, state.updated_ms), state.version)

    def take(self, state: BucketState | None, now_ms: int, tokens: int = 1) -> tuple[BucketState | None, float]:
        """(new state, 0) if `tokens` can be taken now, else (None, seconds until they can)."""
        if tokens > self.capacity:
            raise ValueError(f"cannot take {tokens} tokens from a bucket of capacity {self.capacity}")
        current = self.full(now_ms) if state is None else self.refilled(state, now_ms)
        need = tokens * MILLI
        if current.milli_tokens >= need:
            return BucketState(current.milli_tokens - need, current.updated_ms, current.version + 1), 0.0
        missing = need - current.milli_tokens
        return None, missing / (self.rate_per_second * MILLI)

    def reserve(self, state: BucketState | None, now_ms: int) -> tuple[BucketState, int]:
        """(new state, the slot in ms): one token taken at `now_ms`, on credit if the bucket has none, the slot
        being when the bucket would have held it. Slots of successive reservations are 1/rate apart."""
        current = self.full(now_ms) if state is None else self.refilled(state, now_ms)
        left = current.milli_tokens - MILLI
        slot_ms = current.updated_ms + (math.ceil(-left / self.rate_per_second) if left < 0 else 0)
        return BucketState(left, current.updated_ms, current.version + 1), slot_ms


def default_policy(requests_per_second: float, headroom_percent: float = 4.0) -> BucketPolicy:
    """Capacity 1 spaces the slots evenly at 1/rate. The headroom is what a request may arrive late without
    bunching with the next one into more than N in a second: N slots span N / (rate x (1 - headroom)) seconds, a
    second plus `budget` = 1000 x h / (1 - h) ms. A quarter of it is the sender's (`late_ms`: a request that would
    leave later takes another slot), the rest the trip's (the sender's own work after the slot, the network, the
    destination stamping it). 4 % gives 41 ms: 10 ms to leave and 31 to arrive. Measured with the CPU saturated
    (make bench, "a million users"): with half of it the sender's, one request in 200 arrived 52 ms later than
    the tenth after it allowed and was answered 429; with a quarter, none (docs/decisions/0020-rate-slots.md)."""
    share = headroom_percent / 100
    budget_ms = 1000 * share / (1 - share)
    return BucketPolicy(
        rate_per_second=requests_per_second * (1 - share), capacity=1, late_ms=max(0, int(budget_ms / 4))
    )


# A per-minute rate's lease: this many seconds of tokens a write, valid for LEASE_VALID_SECONDS.
LEASE_SECONDS = 0.05
LEASE_VALID_SECONDS = 0.2
# The bucket holds up to this many seconds of tokens (at least a lease): room for the next lease while the batchers
# are busy sending theirs. With capacity one lease, a bucket full while every sender was still working through its
# lease overflowed, and those tokens were lost to the limit (make bench, campaign rate limit: 86-91 % of it).
CAPACITY_SECONDS = 0.2


def per_minute_policy(requests_per_minute: int, headroom_percent: float = 1.0) -> BucketPolicy:
    """A limit on requests in any minute (a campaign's `rate_limit_per_minute`), shared through the bucket.

    Tokens are taken LEASE_SECONDS' worth a write and dropped LEASE_VALID_SECONDS after. The tokens used in any 60 s
    were taken in those 60 s or the lease's validity before them: at most capacity + rate x (60 + 0.2) of them,
    which is 60.4 s of the rate when the capacity is 0.2 s of it, under the limit with `headroom_percent` 1 (60.4 x
    0.99 = 59.8 s of the limit). A capacity of one token, for a rate under 5 a second, is at most 1 + floor(0.99 x
    limit x 60.2 / 60) < limit + 1 tokens. A minute absorbs the jitter of a request that leaves late, which the
    per-second rates' 8 % headroom is for."""
    rate = requests_per_minute / 60 * (1 - headroom_percent / 100)
    lease = max(1, int(rate * LEASE_SECONDS))
    capacity = max(lease, int(rate * CAPACITY_SECONDS))
    return BucketPolicy(rate_per_second=rate, capacity=capacity, lease=lease, lease_ms=int(1000 * LEASE_VALID_SECONDS))

"""Token bucket arithmetic. Pure: no AWS.

Tokens are kept as integer milli-tokens so repeated refills never drift. The bucket refills lazily:
whoever takes tokens first computes the refill since the last update. Capacity is the largest burst;
with capacity 1 the bucket spaces requests evenly at 1/rate, which is what keeps "never more than N
requests in any second" true when several batchers share one bucket.
"""

from __future__ import annotations

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


def default_policy(requests_per_second: float, headroom_percent: float = 8.0) -> BucketPolicy:
    """Capacity 1 spaces requests evenly at 1/rate. The headroom absorbs the jitter between taking a token and
    the destination receiving the request (a request that leaves late bunches up with the next one), so "N per
    second" holds as the destination measures it. Measured on a 2-core box with both cores busy: ~80 ms of
    jitter, which a 5 % headroom (~50 ms per 10 requests) did not absorb and 8 % (~87 ms) does
    (docs/decisions/0003-rate-headroom.md)."""
    return BucketPolicy(rate_per_second=requests_per_second * (1 - headroom_percent / 100), capacity=1)


# A per-minute rate's lease: this many seconds of tokens a write, valid for twice as long.
LEASE_SECONDS = 0.05


def per_minute_policy(requests_per_minute: int, headroom_percent: float = 1.0) -> BucketPolicy:
    """A limit on requests in any minute (a campaign's `rate_limit_per_minute`), shared through the bucket.

    Tokens are taken LEASE_SECONDS' worth a write (and dropped 2 x LEASE_SECONDS after): in any 60 s at most
    capacity + rate x (60 + 0.1) tokens are used, which with `headroom_percent` 1 is under the limit for any limit
    (the lease is under 0.1 % of it). A minute absorbs the jitter of a request that leaves late, which the
    per-second rates' 8 % headroom is for."""
    rate = requests_per_minute / 60 * (1 - headroom_percent / 100)
    lease = max(1, int(rate * LEASE_SECONDS))
    return BucketPolicy(rate_per_second=rate, capacity=lease, lease=lease, lease_ms=int(2000 * LEASE_SECONDS))

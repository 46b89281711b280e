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

    def __post_init__(self) -> None:
        if self.rate_per_second <= 0 or self.capacity < 1:
            raise ValueError("rate must be positive and capacity at least 1")

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

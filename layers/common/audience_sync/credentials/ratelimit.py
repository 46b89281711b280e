"""The Braze-compatible API's rate limit: requests per key per minute, counted in fixed one-minute windows shared by
every function instance (one counter item per key and minute). Pure but for the counter port.

Fixed windows, as Braze's `X-RateLimit-Reset` (the window's end) describes: a client may spend a whole window's
requests at its start. A sliding window would cost a read and a write per request instead of one write.
"""

from __future__ import annotations

from dataclasses import dataclass

from audience_sync.core.errors import TooManyRequests
from audience_sync.credentials.ports import RequestCounter

WINDOW_SECONDS = 60
# Braze's default for /users/track: 3,000 requests per 3 seconds, i.e. 60,000 a minute.
DEFAULT_REQUESTS_PER_MINUTE = 60_000


@dataclass(frozen=True)
class RateState:
    limit: int
    remaining: int
    reset_at_s: int  # epoch seconds: when the window ends

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_at_s),
        }


def count_request(counter: RequestCounter, key_id: str, limit: int, now_ms: int) -> RateState:
    """Count one request of `key_id`; TooManyRequests (with the state) when the window's limit is spent."""
    window = now_ms // 1000 // WINDOW_SECONDS
    reset_at = (window + 1) * WINDOW_SECONDS
    used = counter.increment(f"api#{key_id}#{window}", reset_at + WINDOW_SECONDS)
    state = RateState(limit, max(0, limit - used), reset_at)
    if used > limit:
        raise RateLimited(state, max(1, reset_at - now_ms // 1000))
    return state


class RateLimited(TooManyRequests):
    def __init__(self, state: RateState, retry_after_seconds: int):
        super().__init__("rate_limited", "Over rate limit", retry_after_seconds)
        self.state = state

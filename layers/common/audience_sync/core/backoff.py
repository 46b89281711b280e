"""The retry schedule for users LinkedIn did not take, and the horizon after which they count as errored. Pure.

A failed batch waits 30 s, then twice as long each time, capped at 1 h; the last wait is shortened so the
waits add up to exactly the horizon (13 h by default, `RetryHorizonSeconds`). No jitter: full jitter would
draw each wait from [0, delay] and halve the horizon on average (serverless-patterns.md §5). Spreading is
unnecessary because every attempt goes through the shared rate limiter anyway.
"""

from __future__ import annotations

FIRST_DELAY_SECONDS = 30
BACKOFF_RATE = 2
MAX_DELAY_SECONDS = 3600
DEFAULT_HORIZON_SECONDS = 13 * 3600
# LinkedIn answers 404 for a new segment until it propagates; the batcher waits this long after creating it.
AUDIENCE_PROPAGATION_MS = 5000
# A 404 on this retry attempt or later (≥ 3.5 min after the first failure) means the audience is gone.
AUDIENCE_NOT_FOUND_AFTER_ATTEMPT = 3
# A 404 this long after the audience was created is not propagation any more.
AUDIENCE_NOT_FOUND_GRACE_MS = 10 * 60 * 1000


def audience_not_found_persists(audience_created_at: int | None, now_ms: int, attempt: int = 0) -> bool:
    """A 404 means the audience is missing (step error `audience_not_found`), not a new one still propagating: the
    step did not create it, it was created longer than the grace ago, or the retry kept seeing it."""
    if attempt >= AUDIENCE_NOT_FOUND_AFTER_ATTEMPT or audience_created_at is None:
        return True
    return now_ms - audience_created_at > AUDIENCE_NOT_FOUND_GRACE_MS


def retry_schedule(
    horizon_seconds: int = DEFAULT_HORIZON_SECONDS,
    first: int = FIRST_DELAY_SECONDS,
    rate: int = BACKOFF_RATE,
    cap: int = MAX_DELAY_SECONDS,
) -> tuple[int, ...]:
    """Seconds to wait before each retry attempt; they add up to `horizon_seconds`."""
    if horizon_seconds <= 0 or first <= 0 or rate < 1 or cap < first:
        raise ValueError("the retry horizon and delays must be positive, and the cap at least the first delay")
    waits: list[int] = []
    total, delay = 0, first
    while total < horizon_seconds:
        wait = min(delay, cap, horizon_seconds - total)
        waits.append(wait)
        total += wait
        delay = min(delay * rate, cap)
    return tuple(waits)

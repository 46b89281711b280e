"""Retry schedules: the waits between attempts and the horizon after which waiting users count as errored. Pure.

A failed batch waits `first` seconds, then `rate` times as long each time, capped at `cap`; the last wait is
shortened so the waits add up to exactly the horizon. The defaults are LinkedIn's: 30 s doubling to 1 h,
13 h in all (`RetryHorizonSeconds`). No jitter: full jitter would draw each wait from [0, delay] and halve the
horizon on average (docs/decisions/0005-retry-without-jitter.md). Spreading is unnecessary because every attempt
goes through the shared rate limiter anyway.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

FIRST_DELAY_SECONDS = 30
BACKOFF_RATE = 2
MAX_DELAY_SECONDS = 3600
DEFAULT_HORIZON_SECONDS = 13 * 3600


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


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """A destination's retry policy (destinations/base.py): exponential waits that add up to the horizon."""

    horizon_seconds: int = DEFAULT_HORIZON_SECONDS
    first_delay_seconds: int = FIRST_DELAY_SECONDS
    backoff_rate: int = BACKOFF_RATE
    max_delay_seconds: int = MAX_DELAY_SECONDS

    def __post_init__(self) -> None:
        self.schedule()  # refuse an impossible policy when it is made, not at the first failure

    def schedule(self) -> tuple[int, ...]:
        return retry_schedule(self.horizon_seconds, self.first_delay_seconds, self.backoff_rate, self.max_delay_seconds)

    def wait_before(self, attempt: int, asked_seconds: float | None = None, elapsed_seconds: float = 0) -> int:
        """Seconds to wait before retry attempt `attempt` (1: the first): the schedule's, or longer if the
        destination asked for longer (`Retry-After`). Once a wait has been stretched, no wait goes past the horizon
        (counted from the first failure, `elapsed_seconds` ago): the retries stay within it, and an attempt that
        finds it reached is the last (`reached`)."""
        scheduled = self.schedule()[attempt - 1]
        remaining = max(0, math.floor(self.horizon_seconds - elapsed_seconds))
        wanted = scheduled
        if asked_seconds is not None and not math.isnan(asked_seconds) and asked_seconds > scheduled:
            wanted = math.ceil(min(asked_seconds, self.horizon_seconds))  # an endless ask is the horizon
        if wanted > scheduled or elapsed_seconds + scheduled > self.horizon_seconds:
            return min(wanted, remaining)
        return scheduled

    def reached(self, attempt: int, elapsed_seconds: float) -> bool:
        """Whether attempt `attempt` is the last: the schedule has no wait after it, or the horizon has passed."""
        return attempt >= len(self.schedule()) or elapsed_seconds >= self.horizon_seconds

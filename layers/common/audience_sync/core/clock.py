"""Time as a collaborator, so rate limiting and retries are tested with a fake clock, never by sleeping."""

from __future__ import annotations

import time
from typing import Protocol


def now_ms() -> int:
    """Wall-clock epoch milliseconds: what timestamps in items and messages use."""
    return time.time_ns() // 1_000_000


class Clock(Protocol):
    def now_ms(self) -> int: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now_ms(self) -> int:
        return now_ms()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

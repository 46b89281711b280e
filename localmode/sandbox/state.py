"""All mutable sandbox state behind one lock: tokens, segments, rate windows, faults and the request log."""

from __future__ import annotations

import bisect
import random
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from localmode.sandbox.config import SandboxConfig
from localmode.sandbox.faults import FaultRule
from localmode.sandbox.oauth import OAuthStore
from localmode.sandbox.segments import Segment

REQUEST_LOG_LIMIT = 20000
FIRST_SEGMENT_ID = 9000001
FIRST_AD_SEGMENT_ID = 8600001


class SlidingWindowLimiter:
    """At most ``limit`` accepted hits per key within any ``window`` seconds; rejected hits are not counted.

    Hits are judged at their arrival times, which may come out of order (requests queue for the sandbox's lock),
    so a hit is accepted only if no window of ``window`` seconds that contains it would then hold more than
    ``limit`` hits, counting hits that arrived before and after it."""

    def __init__(self) -> None:
        self._hits: dict[str, list[float]] = {}

    def try_acquire(self, key: str, now: float, limit: int, window: float) -> bool:
        hits = self._hits.setdefault(key, [])
        latest = max(now, hits[-1]) if hits else now
        # Arrivals are judged up to ten windows late (they queue for the sandbox's lock); older hits are let go.
        del hits[: bisect.bisect_right(hits, latest - 10 * window)]
        around = hits[bisect.bisect_right(hits, now - window) : bisect.bisect_left(hits, now + window)]
        times = sorted([*around, now])
        start = 0
        for end, t in enumerate(times):  # the fullest window [x, x + window) over the hits near `now`
            while times[start] <= t - window:
                start += 1
            if end - start + 1 > limit and times[start] <= now <= t:
                return False
        bisect.insort(hits, now)
        return True


class SandboxState:
    """Everything the sandbox remembers. Callers hold ``lock`` while reading or changing it."""

    def __init__(self, config: SandboxConfig, clock: Callable[[], float], rng: random.Random) -> None:
        self.lock = threading.RLock()
        self.config = config
        self.clock = clock
        self.rng = rng
        # Ids keep increasing across resets so a stale id cached by a client never names a new segment.
        self._next_segment_id = FIRST_SEGMENT_ID
        self._next_ad_segment_id = FIRST_AD_SEGMENT_ID
        self._next_fault_id = 1
        self.reset()

    def reset(self) -> None:
        self.oauth = OAuthStore()
        self.segments: dict[int, Segment] = {}
        self.limiter = SlidingWindowLimiter()
        self.faults: list[FaultRule] = []
        self.requests: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_LIMIT)

    def now(self) -> float:
        return float(self.clock())

    def create_segment(self, body: dict[str, Any], account_urn: str) -> Segment:
        now = self.now()
        segment = Segment(
            id=self._next_segment_id,
            name=body["name"],
            account=account_urn,
            type=body["type"],
            source_platform=body.get("sourcePlatform") or "SANDBOX",
            source_segment_id=body.get("sourceSegmentId"),
            description=body.get("description"),
            destination_segment_id=f"urn:li:adSegment:{self._next_ad_segment_id}",
            created=now,
            last_modified=now,
        )
        self._next_segment_id += 1
        self._next_ad_segment_id += 1
        self.segments[segment.id] = segment
        return segment

    def next_fault_id(self) -> int:
        self._next_fault_id += 1
        return self._next_fault_id - 1

"""How the pipeline itself is tuned (the destinations' own limits are theirs: destinations/base.py `Limits`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SyncTuning:
    # Requests one batcher keeps in flight (SendConcurrency): a 5,000-user request takes LinkedIn long enough that
    # one at a time cannot use the rate limit (they still leave at the bucket's pace).
    send_concurrency: int = 8
    # Percent of a destination's rate kept unused: how late a request may leave its reserved slot and arrive
    # (core/ratelimit.py default_policy; docs/decisions/0020-rate-slots.md).
    rate_headroom_percent: float = 4.0

"""When a deferred user is tried again, and when we stop trying. Pure.

Until the Step Functions retry lands, deferred users go back on the queue with an SQS delay (≤ 900 s)
that doubles per attempt; after the horizon (13 h by default) they count as errored.
`time_scale` divides every wait and the horizon (local testing of the 13 h horizon).
"""

from __future__ import annotations

FIRST_DELAY_SECONDS = 5
MAX_SQS_DELAY_SECONDS = 900
# LinkedIn answers 404 for a new segment until it propagates; wait this long after creating it.
AUDIENCE_PROPAGATION_MS = 5000


def retry_delay_seconds(attempt: int, time_scale: float = 1.0) -> int:
    """Delay before attempt `attempt + 1` (attempt 0 is the first send)."""
    delay = min(MAX_SQS_DELAY_SECONDS, FIRST_DELAY_SECONDS * 2 ** min(attempt, 16))
    return max(0, round(delay / time_scale))


def horizon_passed(first_enqueued_at_ms: int, now_ms: int, horizon_seconds: int, time_scale: float = 1.0) -> bool:
    return now_ms - first_enqueued_at_ms >= horizon_seconds * 1000 / time_scale

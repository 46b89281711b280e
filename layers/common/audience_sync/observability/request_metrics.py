"""A destination's requests of one invocation, as CloudWatch metrics: how many, how many throttled or failed, how
long. Named after the destination (`Destination.metric_prefix`): LinkedInRequests, LinkedInThrottled,
LinkedInFailed, LinkedInLatency.

Gathered in memory and flushed once per invocation: one EMF blob per request would cost more CloudWatch Logs than
the request's users cost everything else. EMF keeps every latency value, so CloudWatch's percentiles stay
exact.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from aws_lambda_powertools.metrics import MetricUnit

from audience_sync.observability import emf

REQUESTS, THROTTLED, FAILED, LATENCY = "Requests", "Throttled", "Failed", "Latency"


def metric_names(prefix: str) -> tuple[str, str, str, str]:
    """The names of a destination's request metrics: requests, throttled, failed, latency."""
    return (prefix + REQUESTS, prefix + THROTTLED, prefix + FAILED, prefix + LATENCY)


@dataclass(slots=True)
class RequestStats:
    prefix: str  # the destination's metric_prefix
    requests: int = 0
    throttled: int = 0  # 429
    failed: int = 0  # any other answer that is not 2xx, timeouts and connection errors included
    latencies_ms: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, status: int, latency_ms: float) -> None:
        with self._lock:
            self.requests += 1
            if status == 429:
                self.throttled += 1
            elif not 200 <= status < 300:
                self.failed += 1
            self.latencies_ms.append(round(latency_ms, 1))

    def take(self) -> RequestStats:
        """The stats so far, leaving this empty (threads may still record into it)."""
        with self._lock:
            taken = RequestStats(self.prefix, self.requests, self.throttled, self.failed, self.latencies_ms)
            self.requests = self.throttled = self.failed = 0
            self.latencies_ms = []
        return taken

    def flush(self) -> None:
        stats = self.take()
        if not stats.requests:
            return
        # Zeros too: an alarm on a sum then sees a value (0) instead of missing data while requests are made.
        requests, throttled, failed, latency = metric_names(self.prefix)
        emf.publish(
            {
                requests: (MetricUnit.Count, [stats.requests]),
                throttled: (MetricUnit.Count, [stats.throttled]),
                failed: (MetricUnit.Count, [stats.failed]),
                latency: (MetricUnit.Milliseconds, stats.latencies_ms),
            }
        )

"""LinkedIn requests of one invocation, as CloudWatch metrics: how many, how many throttled or failed, how long.

Gathered in memory and flushed once per invocation: one EMF blob per request would cost more CloudWatch Logs than
the request's users cost everything else. EMF keeps every latency value, so CloudWatch's percentiles stay
exact.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit

from audience_sync.adapters.aws import emf

logger = Logger(child=True)

REQUESTS = "LinkedInRequests"
THROTTLED = "LinkedInThrottled"
FAILED = "LinkedInFailed"
LATENCY = "LinkedInLatency"
VERSION_SUNSET = "LinkedInVersionSunset"


def version_sunset(code: str) -> None:
    """LinkedIn answered 426: the LinkedIn-Version this stack sends is no longer served. Alarmed
    (LinkedInVersionSunsetAlarm) from a send or an audience read, so a stack with no traffic learns it from its
    scheduled audience refresh."""
    logger.error("LinkedIn-Version is sunset: deploy with a current LinkedInVersion", extra={"code": code})
    emf.count(VERSION_SUNSET, 1)


@dataclass(slots=True)
class RequestStats:
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
            taken = RequestStats(self.requests, self.throttled, self.failed, self.latencies_ms)
            self.requests = self.throttled = self.failed = 0
            self.latencies_ms = []
        return taken

    def flush(self) -> None:
        stats = self.take()
        if not stats.requests:
            return
        # Zeros too: an alarm on a sum then sees a value (0) instead of missing data while requests are made.
        emf.publish(
            {
                REQUESTS: (MetricUnit.Count, [stats.requests]),
                THROTTLED: (MetricUnit.Count, [stats.throttled]),
                FAILED: (MetricUnit.Count, [stats.failed]),
                LATENCY: (MetricUnit.Milliseconds, stats.latencies_ms),
            }
        )

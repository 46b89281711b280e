"""Latency at light load: from the webhook's 202 to LinkedIn receiving the request that carries its users.

The whole service runs as `make run` runs it (local mode in this process: moto's SQS with the event source
mapping's batching window, the real handlers, the LinkedIn sandbox); at a few webhooks a second the queue stays
shallow, so moto's SQS costs nothing worth measuring. The sandbox notes when each request arrives and which
users it carries, on the same clock as the webhook's answer.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from bench.stack import bench_stack


@dataclass(frozen=True)
class LatencyResult:
    seconds: list[float]  # per webhook
    flush_seconds: int

    @property
    def p50(self) -> float:
        return statistics.median(self.seconds)

    @property
    def p99(self) -> float:
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


class ArrivalLog:
    """Wraps the sandbox: when each /users request arrived, and the hashed emails it carried."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.first_seen: dict[str, float] = {}

    def install(self, sandbox: Any) -> None:
        handle = sandbox.handle

        def recording(request: Any) -> Any:
            arrived = time.time()
            if request.method == "POST" and request.path.endswith("/users"):
                body = json.loads(request.get_data(cache=True) or b"{}")
                with self.lock:
                    for element in body.get("elements", []):
                        for user_id in element.get("userIds", []):
                            self.first_seen.setdefault(user_id["idValue"], arrived)
            return handle(request)

        sandbox.handle = recording


def measure(
    webhooks: int = 60,
    every_seconds: float = 0.5,
    flush_seconds: int = 5,
    progress: Callable[[str], None] | None = None,
) -> LatencyResult:
    with bench_stack(flush_seconds=flush_seconds, log_level="WARNING") as stack:
        arrivals = ArrivalLog()
        arrivals.install(stack.service.sandbox)
        stack.connect_and_launch("latency", "Latency benchmark")
        time.sleep(5.5)  # LinkedIn accepts users 5 s after an audience is created
        answered: list[tuple[float, str]] = []
        session = requests.Session()
        started = time.monotonic()
        for n in range(webhooks):
            email = f"latency-{n}@example.com"
            stack.post_users("latency", {"users": [{"external_id": f"l{n}", "email": email}]}, session)
            answered.append((time.time(), hashlib.sha256(email.encode()).hexdigest()))
            if progress and n % 20 == 0:
                progress(f"latency: webhook {n + 1}/{webhooks}")
            next_at = started + (n + 1) * every_seconds
            time.sleep(max(0.0, next_at - time.monotonic()))  # a steady light load, one webhook at a time
        deadline = time.monotonic() + flush_seconds + 30
        while time.monotonic() < deadline:
            with arrivals.lock:
                if all(h in arrivals.first_seen for _, h in answered):
                    break
            time.sleep(0.1)  # waiting for the last flush window to close
        with arrivals.lock:
            missing = [h for _, h in answered if h not in arrivals.first_seen]
            if missing:
                raise RuntimeError(f"{len(missing)} webhooks never reached LinkedIn")
            seconds = [arrivals.first_seen[h] - at for at, h in answered]
    return LatencyResult(seconds, flush_seconds)

"""A campaign's rate limit under a backlog (issue 14): 100,000 planned webhooks with `rate_limit_per_minute` 60,000
through the real batcher to a receiver on 127.0.0.1; the rate it delivers at, and the most requests in any 60 s.

What is real and what stands in, as in bench/pipeline.py (whose harness this reuses): two batcher processes, each
the real Batcher with its real Sender, webhook destination (the SSRF guard allowing loopback, as local mode does)
and DynamoDB token bucket (moto's server mode, shared by both as one item on AWS); the queue and the ledger in
memory. The webhooks are planned by the real planner (campaigns/delivery.py) from profiles in memory (reading them
is DynamoDB's time, not the pipeline's). The receiver is a process of its own (`python -m bench.receiver`) that
notes when each request arrives.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests

from bench.pipeline import BenchManager, _drain, max_in_window, sandbox_stack
from localmode.processes import url_process

CAMPAIGN_ID = "rate"
RATE_LIMIT_PER_MINUTE = 60_000


@dataclass(frozen=True)
class CampaignRateResult:
    webhooks: int
    delivered: int  # counted by the ledger
    received: int  # arrived at the receiver
    rate_limit_per_minute: int
    first_to_last_seconds: float
    max_in_any_minute: int  # requests in any 60 s window

    @property
    def per_minute(self) -> float:
        return (self.received - 1) / self.first_to_last_seconds * 60

    @property
    def rate_use(self) -> float:
        return self.per_minute / self.rate_limit_per_minute


@contextmanager
def receiver_process() -> Iterator[str]:
    with url_process("the receiver", "bench.receiver") as url:
        yield url


def run(
    webhooks: int = 100_000,
    rate_limit_per_minute: int = RATE_LIMIT_PER_MINUTE,
    batchers: int = 2,
    progress: Callable[[str], None] | None = None,
) -> CampaignRateResult:
    say = progress or (lambda message: None)
    saved = dict(os.environ)
    os.environ["WEBHOOK_ALLOW_LOOPBACK"] = "true"  # the receiver is on this machine, as in local mode
    try:
        with sandbox_stack(10) as (_, _stack), receiver_process() as receiver:
            with BenchManager(ctx=_spawn()) as manager:
                queue = manager.MemoryQueue()  # type: ignore[attr-defined]
                ledger = manager.MemoryLedger()  # type: ignore[attr-defined]
                say(f"planning {webhooks:,} webhooks of a campaign limited to {rate_limit_per_minute:,} a minute")
                _queue_webhooks(queue, webhooks, receiver, rate_limit_per_minute)
                queue.close()
                say(f"sending them with {batchers} batcher processes")
                _drain(queue, ledger, batchers, say)
                delivered = ledger.counters_of(f"campaign#{CAMPAIGN_ID}").get("synced", 0)
            arrivals: list[float] = requests.get(f"{receiver}/_received", timeout=60).json()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    arrivals.sort()
    return CampaignRateResult(
        webhooks=webhooks,
        delivered=delivered,
        received=len(arrivals),
        rate_limit_per_minute=rate_limit_per_minute,
        first_to_last_seconds=arrivals[-1] - arrivals[0],
        max_in_any_minute=max_in_window(arrivals, 60.0),
    )


def _spawn() -> Any:
    from bench.pipeline import SPAWN

    return SPAWN


def _queue_webhooks(queue: Any, webhooks: int, receiver: str, rate_limit_per_minute: int) -> None:
    """The campaign's sends planned by the real planner, queued in bulk as its trigger would queue them."""
    from audience_sync.campaigns.delivery import Send, load, plan
    from audience_sync.pipeline.chunking import message_bodies
    from audience_sync.pipeline.messages import QueuedMessage
    from bench.campaigns import LYTICS_BODY, _profile

    stored = {
        "campaign_id": CAMPAIGN_ID,
        "status": "active",
        "updated_at": "2026-12-06T00:00:00.000Z",
        "definition": {
            "name": "Rate",
            "message": {"channel": "webhook", "url": receiver + "/hook", "body": LYTICS_BODY},
            "delivery": {"type": "api"},
            "rate_limit_per_minute": rate_limit_per_minute,
        },
    }
    campaign = load(stored)
    result = plan(campaign, [Send(_profile(n), f"d{n // 50}") for n in range(webhooks)])
    template = QueuedMessage.model_construct(
        chunk_id="rate",
        ledger_bucket="",
        step_id=f"campaign#{CAMPAIGN_ID}",
        target=campaign.target,
        users=[],
        entry={},
        correlation_id=None,
        first_enqueued_at=0,
    )
    bodies = message_bodies(template, result.queued, {"triggered": 1})
    for start in range(0, len(bodies), 100):
        queue.send(bodies[start : start + 100])

"""A million users posted to a step in webhooks of 10,000 (the contract's largest), timed from the first webhook
to LinkedIn accepting the last user (issue 16: <= 25 s, one connection; the physical limit is 1,000,000 /
(10 requests/s x 5,000) = 20 s), with no second over LinkedIn's limit and every user sent once.

What is real and what stands in:
- each webhook goes through the ingest function's work: the raw JSON body validated (WebhookBody), the step read
  from DynamoDB, the users filtered, hashed and packed by the one pipeline's IngestService, queued. The webhooks
  are posted by WEBHOOK_CLIENTS processes at once, as clients would; on AWS each concurrent webhook has an ingest
  container and a vCPU of its own, here they share two cores with the batchers, at a lower CPU priority (the
  batchers' pace is LinkedIn's; the ingest's CPU is measured and shown);
- the sync queue, the ledger, the batchers (with the template's 5 s batching window), the token bucket in
  DynamoDB (moto's server) and the LinkedIn sandbox in a process of its own (10 requests in any second) are
  pipeline.py's, as in the backlog and backfill rows.
"""

from __future__ import annotations

import functools
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.backfill import FLUSH_SECONDS
from bench.pipeline import (
    SPAWN,
    BenchManager,
    _launch,
    audience_posts,
    max_in_window,
    race,
    sandbox_requests,
    sandbox_stack,
)

STEP_ID = "million"
USERS_PER_WEBHOOK = 10_000
WEBHOOK_CLIENTS = 2
TARGET_SECONDS = 25.0


@dataclass(frozen=True)
class MillionResult:
    users: int
    synced: int
    seconds: float  # from the first webhook posted to LinkedIn's last accepted request
    first_request_seconds: float  # from the first webhook posted to LinkedIn's first request
    posting_seconds: float  # from the first webhook posted to the last one answered
    requests: int
    elements: list[int]
    throttled: int
    max_in_any_second: int
    rate_limit: int
    ingest_cpu_seconds: float  # the webhook clients' CPU, all of them (the ingest's work)
    max_elements: int = 5000

    @property
    def physical_limit_seconds(self) -> float:
        return self.users / (self.rate_limit * self.max_elements)

    @property
    def ideal_requests(self) -> int:
        return math.ceil(self.users / self.max_elements)

    @property
    def violations(self) -> int:
        return self.throttled + max(0, self.max_in_any_second - self.rate_limit)

    @property
    def sent_once(self) -> bool:
        return sum(self.elements) == self.users == self.synced


def webhook_bodies(users: int, per_webhook: int = USERS_PER_WEBHOOK) -> list[str]:
    """The raw JSON bodies the clients post: external id, a mixed-case email, names, consent."""
    bodies = []
    for start in range(0, users, per_webhook):
        batch = [
            {
                "external_id": f"u{n}",
                "email": f" User{n}@Example.com ",
                "first_name": "Ada",
                "last_name": "Lovelace",
                "ad_tracking_enabled": True,
            }
            for n in range(start, min(users, start + per_webhook))
        ]
        bodies.append(json.dumps({"users": batch}))
    return bodies


def run(
    users: int = 1_000_000,
    batchers: int = 2,
    rate_limit: int = 10,
    progress: Callable[[str], None] | None = None,
) -> MillionResult:
    say = progress or (lambda message: None)
    with sandbox_stack(rate_limit) as (linkedin, stack):
        _launch(stack, STEP_ID)
        with BenchManager(ctx=SPAWN) as manager:
            first, last_answered, synced, ingest_cpu = _post_and_drain(manager, users, batchers, say)
        log = sandbox_requests(linkedin)
    calls, accepted = audience_posts(log)
    return MillionResult(
        users=users,
        synced=synced,
        seconds=accepted[-1]["t"] - first,
        first_request_seconds=accepted[0]["t"] - first,
        posting_seconds=last_answered - first,
        requests=len(accepted),
        elements=[r["elements"] for r in accepted],
        throttled=sum(1 for r in calls if r["status"] == 429),
        max_in_any_second=max_in_window([r["t"] for r in calls if r["status"] != 429], 1.0),
        rate_limit=rate_limit,
        ingest_cpu_seconds=ingest_cpu,
    )


def _post_and_drain(
    manager: Any, users: int, batchers: int, say: Callable[[str], None]
) -> tuple[float, float, int, float]:
    """Every process started and ready, then the webhooks posted at once: (when the first was posted, when the last
    was answered, users synced, the webhook clients' CPU seconds)."""
    sync_queue = manager.MemoryQueue()
    ledger = manager.MemoryLedger()
    say(f"{WEBHOOK_CLIENTS} clients post {users:,} users in webhooks of {USERS_PER_WEBHOOK:,}")
    post = functools.partial(_webhook_client, users=users)
    first, clients = race(post, WEBHOOK_CLIENTS, sync_queue, ledger, batchers, FLUSH_SECONDS, say)
    last_answered = max(answered for _, answered in clients)
    return first, last_answered, ledger.synced(STEP_ID), sum(cpu for cpu, _ in clients)


def _webhook_client(
    index: int, environment: dict[str, str], queue: Any, ready: Any, go: Any, results: Any, users: int
) -> None:
    """Posts every WEBHOOK_CLIENTS-th webhook, one after the other, each through the ingest's work."""
    os.nice(19)  # see the module docstring: on AWS the ingest has CPUs of its own
    os.environ.clear()
    os.environ.update(environment)
    try:
        from audience_sync.adapters.aws.steps_table import DynamoStepStore
        from audience_sync.pipeline.ingest import IngestService
        from audience_sync.settings import Settings
        from audience_sync.sources.webhook import ingest as webhook
        from audience_sync.sources.webhook.models import WebhookBody

        ingest = IngestService(DynamoStepStore(Settings.from_env().resources.require("steps_table")), queue)
        mine = webhook_bodies(users)[index::WEBHOOK_CLIENTS]
        ready.put(index)
        go.wait()
        cpu_at_start = time.process_time()
        for n, body in enumerate(mine):
            accepted = webhook.accept(ingest, STEP_ID, WebhookBody.model_validate_json(body), f"r{index}-{n}")
            assert accepted["accepted"] == USERS_PER_WEBHOOK, accepted
        results.put(("produced", (time.process_time() - cpu_at_start, time.time())))
    except BaseException as exc:  # reported to the parent, which raises it
        results.put(("error", f"webhook client {index}: {exc!r}"))

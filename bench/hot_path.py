"""The CPU hot path, users per second on one core: what the ingest does per webhook (validate, entry filters,
normalise, hash, pack into queue messages) and what the batcher does per user (read the messages, pack into
requests of 5,000, encode the BATCH_CREATE bodies). Pure code: no AWS, no I/O, CPU time of this process."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

USERS_PER_WEBHOOK = 100


@dataclass(frozen=True)
class HotPathResult:
    users: int
    ingest_seconds: float  # CPU seconds
    batcher_seconds: float
    core: int | None

    @property
    def users_per_second(self) -> float:
        return self.users / (self.ingest_seconds + self.batcher_seconds)

    @property
    def ingest_users_per_second(self) -> float:
        return self.users / self.ingest_seconds

    @property
    def batcher_users_per_second(self) -> float:
        return self.users / self.batcher_seconds


def webhook(n: int, per_webhook: int = USERS_PER_WEBHOOK) -> bytes:
    """A realistic webhook body: mixed-case emails with spaces, names, consent, custom attributes."""
    users: list[dict[str, Any]] = []
    for i in range(n * per_webhook, (n + 1) * per_webhook):
        users.append(
            {
                "external_id": f"customer-{i:08d}",
                "email": f"  First.Last{i}@Example.COM ",
                "first_name": "Ana",
                "last_name": "Ruiz",
                "ad_tracking_enabled": i % 10 != 0,  # one in ten has not consented
                "attributes": {"opted_in_marketing": True, "plan": "pro", "country": "ES"},
            }
        )
    return json.dumps({"users": users, "idempotency_key": f"evt-{n}"}).encode()


@contextmanager
def one_core() -> Iterator[int | None]:
    """Pin this process to one CPU while measuring (Linux); restore the affinity after."""
    if not hasattr(os, "sched_getaffinity"):
        yield None
        return
    before = os.sched_getaffinity(0)
    core = max(before)
    os.sched_setaffinity(0, {core})
    try:
        yield core
    finally:
        os.sched_setaffinity(0, before)


def measure(users: int = 200_000, progress: Callable[[str], None] | None = None) -> HotPathResult:
    from audience_sync.core.packing import pack
    from audience_sync.core.users import MatchField
    from audience_sync.destinations.base import SyncTarget
    from audience_sync.destinations.linkedin.elements import encode_users_body, linkedin_element
    from audience_sync.pipeline.batcher import IN_FLIGHT
    from audience_sync.pipeline.chunking import message_bodies
    from audience_sync.pipeline.ingest import triage
    from audience_sync.pipeline.messages import QueuedMessage
    from audience_sync.sources.webhook.models import WebhookBody
    from audience_sync.steps.models import EntryFilter

    webhooks = [webhook(n) for n in range(users // USERS_PER_WEBHOOK)]
    filters = [EntryFilter.model_validate({"attribute": "ad_tracking_enabled", "op": "eq", "value": True})]
    match_fields = frozenset({MatchField.EMAIL, MatchField.FIRST_LAST_NAME})
    target = SyncTarget(connection_id="linkedin", ad_account_id="507000001", audience_id="9000001", action="add")

    def ingest(raw: bytes, n: int) -> list[str]:
        body = WebhookBody.model_validate_json(raw)
        queued, delta = triage(body.users, filters, match_fields, last_step=False)
        template = QueuedMessage(
            chunk_id=f"{n:032x}", step_id="welcome", target=target, users=[], entry=delta.attributes(),
            first_enqueued_at=1_790_000_000_000,
        )  # fmt: skip
        return message_bodies(template, queued)

    def batch(bodies: list[str]) -> int:
        with IN_FLIGHT.tuned():  # as Batcher.handle runs: the cycle collector paused, a batch in memory
            return _batch(bodies)

    def _batch(bodies: list[str]) -> int:
        messages = [QueuedMessage.model_validate_json(b) for b in bodies]
        size = 0
        for request in pack(messages):
            users_ = [messages[ref.message].users[ref.user] for ref in request.users]
            size += len(encode_users_body([linkedin_element(u, request.target.action) for u in users_]))
        return size

    ingest(webhooks[0], 0)  # warm up (imports, caches)
    with one_core() as core:
        if progress:
            progress(f"hot path: {users:,} users on core {core}")
        started = time.process_time()
        queued = [body for n, raw in enumerate(webhooks) for body in ingest(raw, n)]
        ingested = time.process_time()
        batch(queued)
        done = time.process_time()
    return HotPathResult(users, ingested - started, done - ingested, core)

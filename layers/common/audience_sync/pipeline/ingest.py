"""Step entry webhook: filter, normalise and hash, enqueue many users per message, count once."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import Any

from audience_sync.core.clock import now_ms
from audience_sync.core.errors import Conflict
from audience_sync.core.filters import passes
from audience_sync.core.metrics import StepDelta
from audience_sync.core.users import QueuedUser, prepare_user
from audience_sync.pipeline.chunking import QueuePublisher, message_bodies
from audience_sync.pipeline.messages import QueuedMessage
from audience_sync.steps.models import EntryFilter, MatchField, WebhookBody, WebhookUser
from audience_sync.steps.repository import ACTIVE, StepRepository, sync_target


def triage(
    users: list[WebhookUser], filters: list[EntryFilter], match_fields: frozenset[MatchField], last_step: bool
) -> tuple[list[QueuedUser], StepDelta]:
    """Who enters, who is queued, who cannot be synced and why. Pure: the hot path of ingest."""
    queued: list[QueuedUser] = []
    delta = StepDelta()
    for user in users:
        if filters and not passes(user, filters):
            delta.add("filtered")
            continue
        prepared = prepare_user(user, match_fields)
        if isinstance(prepared, str):
            delta.add("not_synced", reason=prepared)
        else:
            queued.append(prepared)
    entered = len(queued) + delta.counts["not_synced"]
    delta.add("entered", entered)
    # The journey does not wait for LinkedIn: a user leaves the step as soon as it has entered it.
    delta.add("exited" if last_step else "proceeded", entered)
    return queued, delta


def split_entry(delta: StepDelta, queued: int, last_step: bool) -> tuple[dict[str, int], dict[str, int]]:
    """The webhook's counts as (what each queued user adds, the rest): a queued user has entered and moved on; the
    rest are the users not queued (filtered, not synced and why, and their entered and moved on)."""
    moved = "exited" if last_step else "proceeded"
    rest = StepDelta.from_attributes(delta.attributes())
    rest.counts["entered"] -= queued
    rest.counts[moved] -= queued
    return {"entered": 1, moved: 1}, rest.attributes()


def users_digest(body: WebhookBody) -> str:
    """Fingerprint of the users: a reused idempotency_key with other users is another webhook."""
    return hashlib.sha256(body.model_dump_json(include={"users"}).encode()).hexdigest()


def chunk_base(step_id: str, body: WebhookBody) -> str:
    """The id of a webhook's queued chunks. A webhook retried with the same idempotency_key and users (after a
    timeout, or a 503 that had queued part of it) gets the same ids, so the ledger counts each chunk once."""
    if body.idempotency_key is None:
        return uuid.uuid4().hex
    return hashlib.sha256(f"{step_id}\0{body.idempotency_key}\0{users_digest(body)}".encode()).hexdigest()[:32]


# This container's share of the ledger: the webhooks it queues in one second share a ledger bucket (ledger.py).
CONTAINER_ID = uuid.uuid4().hex[:12]


def ledger_bucket(body: WebhookBody, now_ms: int, container_id: str = CONTAINER_ID) -> str:
    """A keyed webhook gets a bucket per chunk (its retry is a new message that must find the first); the others
    share this container's bucket of the second."""
    if body.idempotency_key is not None:
        return ""
    return f"time#{container_id}#{now_ms // 1000}"


class IngestService:
    """Counts nothing itself: the webhook's counts travel with its first message and are recorded by the batcher
    in the same exactly-once transaction as the sync outcomes (one DynamoDB write fewer per webhook)."""

    def __init__(
        self,
        steps: StepRepository,
        publisher: QueuePublisher,
        now_ms: Callable[[], int] = now_ms,
    ):
        self.steps = steps
        self.publisher = publisher
        self.now_ms = now_ms

    def accept(self, step_id: str, body: WebhookBody, correlation_id: str | None) -> dict[str, Any]:
        step = self.steps.get(step_id)
        if step.get("status") != ACTIVE:
            raise Conflict("step_not_active", f"step '{step_id}' is not launched (POST /v1/steps/{step_id}/launch)")
        config = step["config"]
        filters = [EntryFilter.model_validate(f) for f in config.get("entry_filters", [])]
        match_fields = frozenset(MatchField(f) for f in config.get("match_fields", []))
        last_step = bool(config.get("last_step"))
        queued, delta = triage(body.users, filters, match_fields, last_step)
        per_user, rest = split_entry(delta, len(queued), last_step)
        now = self.now_ms()
        # Not validated here: with every user queued, the template itself carries nothing; its chunks do.
        template = QueuedMessage.model_construct(
            chunk_id=chunk_base(step_id, body),
            ledger_bucket=ledger_bucket(body, now),
            step_id=step_id,
            target=sync_target(step),
            users=[],
            entry=rest,
            correlation_id=correlation_id,
            first_enqueued_at=now,
        )
        self.publisher.send(message_bodies(template, queued, per_user), correlation_id=correlation_id)
        return {
            "accepted": len(queued),
            "filtered": delta.counts["filtered"],
            "not_synced": delta.counts["not_synced"],
        }

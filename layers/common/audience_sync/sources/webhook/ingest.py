"""The step entry webhook's users enter their step (pipeline/ingest.py), a repeat of a keyed webhook counted once.

A repeated `idempotency_key` needs no store of its own: the webhook's entry id is derived from the step, the key
and the users, so a repeat (after a timeout, or a 503 that had queued part of it) queues chunks with the same ids
and the batcher's ledger records each id once. The same key with other users is another webhook.
"""

from __future__ import annotations

import hashlib
from typing import Any

from audience_sync.pipeline.ingest import IngestService
from audience_sync.sources.profile_users import ProfileUsers, complete
from audience_sync.sources.webhook.models import WebhookBody


def users_digest(body: WebhookBody) -> str:
    """Fingerprint of the users: a reused idempotency_key with other users is another webhook."""
    return hashlib.sha256(body.model_dump_json(include={"users"}).encode()).hexdigest()


def entry_id(step_id: str, body: WebhookBody) -> str | None:
    """The webhook's entry id when it has an idempotency_key (its repeats share it), else None."""
    if body.idempotency_key is None:
        return None
    return hashlib.sha256(f"{step_id}\0{body.idempotency_key}\0{users_digest(body)}".encode()).hexdigest()[:32]


def accept(
    ingest: IngestService,
    step_id: str,
    body: WebhookBody,
    correlation_id: str | None,
    profiles: ProfileUsers | None = None,
) -> dict[str, Any]:
    """`profiles`: where a user sent with its id only finds its identifiers and consent (contract v2 §5)."""
    users = complete(list(body.users), profiles) if profiles is not None else body.users
    return ingest.enter(step_id, users, correlation_id, entry_id(step_id, body))

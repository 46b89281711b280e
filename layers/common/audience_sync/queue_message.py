"""The message the ingest function puts on the sync queue: many users of one step, already hashed."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from audience_sync.normalise import QueuedUser

MESSAGE_VERSION = 2


class SyncTarget(BaseModel):
    """Where a message's users go. Batches never mix targets (LinkedIn request = one audience, one action)."""

    model_config = ConfigDict(frozen=True)

    connection_id: str
    ad_account_id: str
    audience_id: str
    action: str
    audience_created_at: int | None = None  # epoch ms; LinkedIn 404s a new segment for a few seconds

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.connection_id, self.audience_id, self.action)


class QueuedMessage(BaseModel):
    model_config = ConfigDict(frozen=True)

    v: int = MESSAGE_VERSION
    # The same on every delivery of this message and on a retried webhook's copy: the ledger's key.
    chunk_id: str = Field(min_length=1, max_length=200)
    step_id: str
    target: SyncTarget
    users: Annotated[list[QueuedUser], Field(min_length=1)]
    correlation_id: str | None = None
    first_enqueued_at: int  # epoch ms of the webhook

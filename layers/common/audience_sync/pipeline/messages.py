"""The message the ingest function puts on the sync queue: many users of one step, already hashed, and the
webhook's entry counts, which the batcher records exactly once together with the sync outcomes."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from audience_sync.core.metrics import StepDelta
from audience_sync.core.users import QueuedUser
from audience_sync.destinations.base import SyncTarget

MESSAGE_VERSION = 3


class QueuedMessage(BaseModel):
    model_config = ConfigDict(frozen=True)

    v: int = MESSAGE_VERSION
    # The same on every delivery of this message and on a retried webhook's copy: the ledger's key.
    chunk_id: str = Field(min_length=1, max_length=200)
    # The ledger bucket that records this message (ledger.py); empty means a bucket of its own.
    ledger_bucket: str = Field(default="", max_length=200)
    step_id: str
    target: SyncTarget
    users: list[QueuedUser]
    # The webhook's counts (entered, filtered, not synced and why, proceeded/exited), on its first message only.
    entry: dict[str, Annotated[int, Field(ge=0)]] = Field(default_factory=dict)
    correlation_id: str | None = None
    first_enqueued_at: int  # epoch ms of the webhook

    @model_validator(mode="after")
    def _carries_something(self) -> QueuedMessage:
        if not self.users and not self.entry:
            raise ValueError("a message carries users, entry counts, or both")
        StepDelta.from_attributes(self.entry)  # an unknown counter makes the message unreadable, alone
        return self

    @property
    def bucket(self) -> str:
        return self.ledger_bucket or f"chunk#{self.chunk_id}"

    def entry_delta(self) -> StepDelta:
        return StepDelta.from_attributes(self.entry)

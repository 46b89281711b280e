"""Batches waiting in the retry: the users in S3 (a batch outgrows Step Functions' 256 KB state), the
schedule in a Step Functions execution that carries only the object's key."""

from __future__ import annotations

from typing import Annotated, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from audience_sync.core.users import QueuedUser
from audience_sync.destinations.base import SyncTarget

# A batch holds at most one request's users (5,000), or a few requests of one user, so at most that many webhooks.
MAX_CORRELATION_IDS = 5000


class RetryBatch(BaseModel):
    """Users of one step and one target that LinkedIn has not taken yet, and why (one reason per user)."""

    model_config = ConfigDict(frozen=True)

    v: int = 1
    batch_id: str = Field(pattern=r"^[0-9a-f]{32}$")  # also the execution's name
    attempt: int = Field(ge=1)  # the retry attempt that will send these users
    step_id: str
    target: SyncTarget
    users: Annotated[list[QueuedUser], Field(min_length=1)]
    reasons: list[str]
    first_failed_at: int  # epoch ms
    # The waits before this attempt, from the first failure: what the horizon is measured against (not the clock:
    # local mode's TIME_SCALE divides the waits, and a stretched wait must still count in full).
    waited_seconds: int = 0
    # The wait before this attempt, as its execution was told (the schedule's, or longer if the destination asked):
    # a retried task answers with it again. None in batches written before it was kept.
    wait_seconds: int | None = None
    correlation_id: str | None = None  # written by versions before correlation_ids; still read
    # The webhooks the users came from (their ingest request ids), for the retry's log lines.
    correlation_ids: Annotated[list[str], Field(max_length=MAX_CORRELATION_IDS)] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_reason_per_user(self) -> RetryBatch:
        if len(self.reasons) != len(self.users):
            raise ValueError("a retry batch needs one reason per user")
        return self

    @property
    def key(self) -> str:
        return batch_key(self.step_id, self.batch_id, self.attempt)

    @property
    def webhooks(self) -> list[str]:
        return self.correlation_ids or ([self.correlation_id] if self.correlation_id else [])


def batch_key(step_id: str, batch_id: str, attempt: int) -> str:
    return f"retry/{step_id}/{batch_id}/{attempt}.json"


def execution_input(key: str, wait_seconds: int, attempt: int = 1) -> dict[str, Any]:
    return {"key": key, "attempt": attempt, "wait_seconds": wait_seconds}


class RetryStore(Protocol):
    """Batches waiting in the retry. Adapter: adapters/aws/retry_store.py (S3 and Step Functions)."""

    def put(self, batch: RetryBatch) -> str:
        """Store the batch; its key."""
        ...

    def get(self, key: str) -> RetryBatch: ...

    def find(self, key: str) -> RetryBatch | None:
        """The batch, or None if it is gone (its execution settled it and deleted it)."""
        ...

    def delete(self, key: str) -> None: ...

    def start(self, key: str, wait_seconds: int, attempt: int = 1) -> None:
        """Start the batch's retry execution, which waits `wait_seconds` first, then runs attempt `attempt` (the
        batch's). Idempotent (named after the batch): starting it again finds it running or finished, and both
        mean done."""
        ...

"""What the pipeline needs from the world, as typed ports. Adapters: adapters/aws/queues.py (SQS),
adapters/aws/rate_bucket.py (the DynamoDB token bucket), adapters/aws/ledger_table.py (the ledger, ledger.py),
adapters/aws/retry_store.py (S3 and Step Functions, retry_batch.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from audience_sync.core.errors import Unavailable
from audience_sync.core.ratelimit import BucketPolicy
from audience_sync.core.users import QueuedUser

logger = Logger(child=True)


class PublishFailed(Unavailable):
    """Some users could not be queued; nothing is lost if the client sends the same webhook again (the ids of its
    chunks are the same, so the ledger counts each once)."""

    def __init__(self, refused: int):
        super().__init__("queue_unavailable", "users could not be queued; retry with the same idempotency_key")
        self.refused = refused  # messages still refused after the publisher's own retries


class MessagePublisher(Protocol):
    def send(self, bodies: Sequence[str], correlation_id: str | None = None) -> None:
        """Queue every body; raises PublishFailed if any is still refused after retries."""
        ...


class QueueReader(Protocol):
    """Reads more of the sync queue from inside a batcher invocation, in the shape of the event source mapping's
    records (messageId, receiptHandle, body, attributes), and deletes what was settled."""

    def receive(self, max_messages: int) -> list[dict[str, Any]]: ...

    def delete(self, records: Sequence[dict[str, Any]]) -> None: ...


class TokenBucket(Protocol):
    def acquire(self, deadline_ms: int) -> bool:
        """Take one token, waiting as needed; False if it cannot be had before `deadline_ms`."""
        ...


class RateBuckets(Protocol):
    def bucket(
        self, destination: str, connection_id: str, requests_per_second: float, policy: BucketPolicy | None = None
    ) -> TokenBucket:
        """The shared bucket of one connection to one destination (every batcher of the account takes from it), at
        `requests_per_second` less the pipeline's headroom (SyncTuning.rate_headroom_percent), or by `policy`."""
        ...


class MoveOrders(Protocol):
    def newest(self, step_id: str, members: Sequence[str]) -> dict[str, str]:
        """The order of the newest move each of these segment members (braze_ids) made in or out of the step's own
        segment (pipeline/moves.py); a member not known is absent."""
        ...


class SendGate(Protocol):
    """Whether the users of a counters id may still be sent: a stopped campaign's may not (campaigns/gate.py). A
    step's always may. May answer from a cache a few seconds old."""

    def closed(self, counters_id: str) -> bool: ...


class DeliveryObserver(Protocol):
    """Told which users a campaign's webhooks reached (2xx), before the ledger settles them: each delivered webhook
    records the interaction `received_webhook` (campaigns/connector.py). A step's users are not told."""

    def delivered(self, counters_id: str, users: Sequence[QueuedUser]) -> None: ...


def tell(observer: DeliveryObserver, counters_id: str, users: Sequence[QueuedUser]) -> None:
    """Tell the observer; a failure to record the interactions is logged, not raised: the webhooks were delivered,
    and settling them must not wait for it (their users would be sent again)."""
    if not users:
        return
    try:
        observer.delivered(counters_id, users)
    except Exception:
        logger.exception("delivered webhooks' interactions not recorded", extra={"users": len(users)})

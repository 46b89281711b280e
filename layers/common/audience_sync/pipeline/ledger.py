"""Exactly-once accounting on at-least-once delivery.

SQS may deliver a message twice, a batcher may crash after LinkedIn took the users, a client may retry a
webhook, and a Step Functions task may be retried. Each unit of work (a queued message, or one retry attempt)
therefore has an id, and its outcome is written in ONE DynamoDB transaction: the id goes into its ledger
bucket (condition: the bucket does not hold it yet) and the counts go onto the step's counters. A redelivery
finds the id and redoes only the idempotent hand-offs the bucket lists (retry executions to start).

Why buckets: a DynamoDB write is billed per started KB, so one ledger item per message would cost a write unit
per webhook, about as much as everything else the pipeline does besides API Gateway. A bucket holds the 16-byte
digests of many ids, so a transaction of 98 messages writes a few small items. The ingest picks the bucket
(pipeline/ingest.py, `ledger_bucket`): the entries one ingest container queued in one second share one, so a
bucket stays small at any load; a webhook sent with an idempotency_key has a bucket of its own, since its retry
by the client is a new message that must find the first one.

Adapter: adapters/aws/ledger_table.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from audience_sync.core.metrics import StepDelta

# The queues keep a message at most 14 days (the DLQ counts from the first enqueue); a bucket outlives that.
LEDGER_TTL_SECONDS = 15 * 24 * 3600
# TransactWriteItems takes 100 items: up to 98 ledger entries (so at most 98 buckets) plus the counters' and their
# minute's updates. 98 ids in one bucket's condition make 293 operators (NOT, contains, AND): DynamoDB allows 300
# per expression (and 4 KB; these take about 2.9 KB).
MAX_ENTRIES_PER_TRANSACTION = 98


@dataclass(frozen=True, slots=True)
class LedgerKey:
    id: str
    bucket: str


@dataclass(slots=True)
class LedgerEntry:
    id: str
    bucket: str
    delta: StepDelta
    retry_keys: list[str] = field(default_factory=list)

    @property
    def key(self) -> LedgerKey:
        return LedgerKey(self.id, self.bucket)


def digest(ledger_id: str) -> str:
    """What a bucket stores for an id: 64 bits of its SHA-256, so a collision within a bucket is negligible."""
    return hashlib.sha256(ledger_id.encode()).hexdigest()[:16]


class Ledger(Protocol):
    """The ledger and the step counters, written together. Adapter: adapters/aws/ledger_table.py (DynamoDB)."""

    def recorded(self, keys: Sequence[LedgerKey]) -> dict[str, list[str]]:
        """The ids among `keys` already recorded: id -> the retry keys its bucket handed off."""
        ...

    def record(self, step_id: str, entries: Sequence[LedgerEntry]) -> set[str]:
        """Record ≤ MAX_ENTRIES_PER_TRANSACTION entries and add their deltas to the step's counters, all or nothing.

        Returns the ids already recorded (a concurrent duplicate won): nothing was written then, and the caller
        records the others again without them."""
        ...

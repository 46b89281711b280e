"""Exactly-once accounting on at-least-once delivery.

SQS may deliver a message twice, a batcher may crash after LinkedIn took the users, and a Step Functions
task may be retried. Each unit of work (a queued message, or one retry attempt) therefore has an id, and its
outcome is written in ONE DynamoDB transaction: a ledger entry (condition: the id is new) plus the step's
counter increments. A redelivery finds the entry and redoes only the idempotent hand-offs it lists (the
retry batches to start), so users are never counted twice and never dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from audience_sync import aws
from audience_sync.clock import Clock
from audience_sync.metrics import StepDelta
from audience_sync.metrics_store import counters_update

# The queues keep a message at most 14 days (the DLQ counts from the first enqueue); an entry outlives that.
LEDGER_TTL_SECONDS = 15 * 24 * 3600
# TransactWriteItems takes 100 items: up to 99 ledger entries plus the counters update.
MAX_ENTRIES_PER_TRANSACTION = 99


@dataclass(slots=True)
class LedgerEntry:
    id: str
    delta: StepDelta
    retry_keys: list[str] = field(default_factory=list)


class Ledger:
    def __init__(self, table_name: str, metrics_table_name: str, clock: Clock):
        self.table_name = table_name
        self.metrics_table_name = metrics_table_name
        self.clock = clock

    def recorded(self, ids: Sequence[str]) -> dict[str, list[str]]:
        """Entries already recorded among `ids`: id -> the retry keys it handed off."""
        found: dict[str, list[str]] = {}
        unique = list(dict.fromkeys(ids))
        client = aws.client("dynamodb")
        for start in range(0, len(unique), 100):
            request: dict[str, Any] = {
                self.table_name: {
                    "Keys": [{"id": {"S": i}} for i in unique[start : start + 100]],
                    "ConsistentRead": True,
                    "ProjectionExpression": "id, retry_keys",
                }
            }
            while request:
                response = client.batch_get_item(RequestItems=request)
                for item in response["Responses"].get(self.table_name, []):
                    found[item["id"]["S"]] = [k["S"] for k in item.get("retry_keys", {}).get("L", [])]
                request = response.get("UnprocessedKeys") or {}
        return found

    def record(self, step_id: str, entries: Sequence[LedgerEntry]) -> set[str]:
        """Record ≤ 99 entries and add their deltas to the step's counters, all or nothing.

        Returns the ids already recorded (a concurrent duplicate won): nothing was written then, and the caller
        records the others again without them.
        """
        if len(entries) > MAX_ENTRIES_PER_TRANSACTION:
            raise ValueError(f"at most {MAX_ENTRIES_PER_TRANSACTION} entries per transaction")
        if not entries:
            return set()
        now = self.clock.now_ms()
        expires_at = now // 1000 + LEDGER_TTL_SECONDS
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": {
                        "id": {"S": e.id},
                        "step_id": {"S": step_id},
                        "retry_keys": {"L": [{"S": k} for k in e.retry_keys]},
                        "at": {"N": str(now)},
                        "expires_at": {"N": str(expires_at)},
                    },
                    "ConditionExpression": "attribute_not_exists(id)",
                }
            }
            for e in entries
        ]
        delta = StepDelta()
        for entry in entries:
            delta.merge(entry.delta)
        if delta:
            update = counters_update(step_id, delta, now)
            items.append(
                {
                    "Update": {
                        **update,
                        "TableName": self.metrics_table_name,
                        "Key": _serialise(update["Key"]),
                        "ExpressionAttributeValues": _serialise(update["ExpressionAttributeValues"]),
                    }
                }
            )
        try:
            aws.client("dynamodb").transact_write_items(TransactItems=items)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = exc.response.get("CancellationReasons") or []
            duplicates = {
                entries[i].id
                for i, reason in enumerate(reasons[: len(entries)])
                if reason.get("Code") == "ConditionalCheckFailed"
            }
            if not duplicates:
                raise
            return duplicates
        return set()


def _serialise(values: dict[str, Any]) -> dict[str, Any]:
    serialiser = TypeSerializer()
    return {k: serialiser.serialize(v) for k, v in values.items()}

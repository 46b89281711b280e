"""Exactly-once accounting on at-least-once delivery.

SQS may deliver a message twice, a batcher may crash after LinkedIn took the users, a client may retry a
webhook, and a Step Functions task may be retried. Each unit of work (a queued message, or one retry attempt)
therefore has an id, and its outcome is written in ONE DynamoDB transaction: the id goes into its ledger
bucket (condition: the bucket does not hold it yet) and the counts go onto the step's counters. A redelivery
finds the id and redoes only the idempotent hand-offs the bucket lists (retry executions to start).

Why buckets: a DynamoDB write is billed per started KB, so one ledger item per message would cost a write unit
per webhook, about as much as everything else the pipeline does besides API Gateway. A bucket holds the 16-byte
digests of many ids, so a transaction of 99 messages writes a few small items. The ingest picks the bucket
(queue_message.py): the webhooks one ingest container queued in one second share one, so a bucket stays small
at any load; a webhook sent with an idempotency_key has a bucket of its own, since its retry by the client is a
new message that must find the first one.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from audience_sync.adapters.aws import clients as aws
from audience_sync.adapters.aws.metrics_table import counters_update
from audience_sync.core.clock import Clock
from audience_sync.core.metrics import StepDelta

# The queues keep a message at most 14 days (the DLQ counts from the first enqueue); a bucket outlives that.
LEDGER_TTL_SECONDS = 15 * 24 * 3600
# TransactWriteItems takes 100 items: up to 99 ledger entries (so at most 99 buckets) plus the counters update.
# 99 ids in one bucket's condition make 296 operators (NOT, contains, AND): DynamoDB allows 300 per expression
# (and 4 KB; these take about 2.9 KB).
MAX_ENTRIES_PER_TRANSACTION = 99
# Two settlements touching one bucket or the same counters at once: DynamoDB cancels one, writing nothing.
CONFLICT_ATTEMPTS = 4


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


class Ledger:
    def __init__(self, table_name: str, metrics_table_name: str, clock: Clock):
        self.table_name = table_name
        self.metrics_table_name = metrics_table_name
        self.clock = clock

    def recorded(self, keys: Sequence[LedgerKey]) -> dict[str, list[str]]:
        """The ids among `keys` already recorded: id -> the retry keys its bucket handed off."""
        buckets = self._read(list(dict.fromkeys(k.bucket for k in keys)))
        found: dict[str, list[str]] = {}
        for key in keys:
            item = buckets.get(key.bucket)
            if item is not None and digest(key.id) in item["ids"]:
                found[key.id] = item["retry_keys"]
        return found

    def record(self, step_id: str, entries: Sequence[LedgerEntry]) -> set[str]:
        """Record ≤ 99 entries and add their deltas to the step's counters, all or nothing.

        Returns the ids already recorded (a concurrent duplicate won): nothing was written then, and the caller
        records the others again without them.
        """
        if len(entries) > MAX_ENTRIES_PER_TRANSACTION:
            raise ValueError(f"at most {MAX_ENTRIES_PER_TRANSACTION} entries per transaction")
        if len({e.id for e in entries}) != len(entries):
            raise ValueError("an id can be recorded once per transaction")
        if not entries:
            return set()
        now = self.clock.now_ms()
        by_bucket: dict[str, list[LedgerEntry]] = defaultdict(list)
        for entry in entries:
            by_bucket[entry.bucket].append(entry)
        buckets = list(by_bucket)
        items: list[dict[str, Any]] = [
            {"Update": self._bucket_update(bucket, by_bucket[bucket], now)} for bucket in buckets
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
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                # The token makes botocore's own retries of this call idempotent: a transaction that was written but
                # whose answer was lost must not come back as "duplicates" of itself.
                aws.client("dynamodb").transact_write_items(TransactItems=items, ClientRequestToken=uuid.uuid4().hex)
                return set()
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                canceled = exc
            reasons = [r.get("Code") for r in canceled.response.get("CancellationReasons") or []]
            conflicted = [b for b, code in zip(buckets, reasons, strict=False) if code == "ConditionalCheckFailed"]
            if conflicted:
                held = self._read(conflicted)
                duplicates = {e.id for b in conflicted for e in by_bucket[b] if digest(e.id) in held[b]["ids"]}
                if duplicates:
                    return duplicates
                raise canceled
            if "TransactionConflict" not in reasons or attempt == CONFLICT_ATTEMPTS:
                raise canceled
            self.clock.sleep(random.uniform(0.02, 0.1) * attempt)  # back off apart from the other writer
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _bucket_update(self, bucket: str, entries: list[LedgerEntry], now: int) -> dict[str, Any]:
        values: dict[str, Any] = {
            ":ids": {"SS": [digest(e.id) for e in entries]},
            ":x": {"N": str(now // 1000 + LEDGER_TTL_SECONDS)},
        }
        values.update({f":d{i}": {"S": digest(e.id)} for i, e in enumerate(entries)})
        names = {"#ids": "ids", "#x": "expires_at"}
        adds = "#ids :ids"
        retry_keys = sorted({k for e in entries for k in e.retry_keys})
        if retry_keys:
            values[":rk"] = {"SS": retry_keys}
            names["#rk"] = "retry_keys"
            adds += ", #rk :rk"
        return {
            "TableName": self.table_name,
            "Key": {"id": {"S": bucket}},
            "UpdateExpression": f"ADD {adds} SET #x = :x",
            "ConditionExpression": " AND ".join(f"NOT contains(#ids, :d{i})" for i in range(len(entries))),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def _read(self, buckets: list[str]) -> dict[str, dict[str, Any]]:
        """Bucket -> {"ids": set of digests, "retry_keys": sorted keys}; missing buckets are absent."""
        found: dict[str, dict[str, Any]] = {}
        client = aws.client("dynamodb")
        for start in range(0, len(buckets), 100):
            request: dict[str, Any] = {
                self.table_name: {
                    "Keys": [{"id": {"S": b}} for b in buckets[start : start + 100]],
                    "ConsistentRead": True,
                    "ProjectionExpression": "id, ids, retry_keys",
                }
            }
            while request:
                response = client.batch_get_item(RequestItems=request)
                for item in response["Responses"].get(self.table_name, []):
                    found[item["id"]["S"]] = {
                        "ids": set(item.get("ids", {}).get("SS", [])),
                        "retry_keys": sorted(item.get("retry_keys", {}).get("SS", [])),
                    }
                request = response.get("UnprocessedKeys") or {}
        return found


def _serialise(values: dict[str, Any]) -> dict[str, Any]:
    serialiser = TypeSerializer()
    return {k: serialiser.serialize(v) for k, v in values.items()}

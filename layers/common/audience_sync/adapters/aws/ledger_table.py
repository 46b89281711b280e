"""LedgerTable and MetricsTable: the ledger's buckets and the step counters, written in one DynamoDB transaction
(pipeline/ledger.py states the guarantees)."""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from audience_sync.adapters.aws import clients
from audience_sync.adapters.aws.errors import translated
from audience_sync.adapters.aws.metrics_table import CounterTables, counter_updates
from audience_sync.core.clock import Clock
from audience_sync.core.metrics import StepDelta

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef, UpdateTypeDef

from audience_sync.pipeline.ledger import (
    LEDGER_TTL_SECONDS,
    MAX_ENTRIES_PER_TRANSACTION,
    LedgerEntry,
    LedgerKey,
    digest,
)

# Two settlements touching one bucket or the same counters at once: DynamoDB cancels one, writing nothing.
CONFLICT_ATTEMPTS = 4


class DynamoLedger:
    def __init__(self, table_name: str, counters: CounterTables, clock: Clock):
        clients.create_now("dynamodb")  # at the container's init (decision 0026)
        self.table_name = table_name
        self.counters = counters
        self.clock = clock

    @translated("ledger.recorded")
    def recorded(self, keys: Sequence[LedgerKey]) -> dict[str, list[str]]:
        buckets = self._read(list(dict.fromkeys(k.bucket for k in keys)))
        found: dict[str, list[str]] = {}
        for key in keys:
            item = buckets.get(key.bucket)
            if item is not None and digest(key.id) in item["ids"]:
                found[key.id] = item["retry_keys"]
        return found

    @translated("ledger.record")
    def record(self, step_id: str, entries: Sequence[LedgerEntry]) -> set[str]:
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
        items: list[TransactWriteItemTypeDef] = [
            {"Update": self._bucket_update(bucket, by_bucket[bucket], now)} for bucket in buckets
        ]
        delta = StepDelta()
        for entry in entries:
            delta.merge(entry.delta)
        items += counter_updates(self.counters, step_id, delta, now)
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                # The token makes botocore's own retries of this call idempotent: a transaction that was written but
                # whose answer was lost must not come back as "duplicates" of itself.
                clients.dynamodb().transact_write_items(TransactItems=items, ClientRequestToken=uuid.uuid4().hex)
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

    def _bucket_update(self, bucket: str, entries: list[LedgerEntry], now: int) -> UpdateTypeDef:
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
        client = clients.dynamodb()
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

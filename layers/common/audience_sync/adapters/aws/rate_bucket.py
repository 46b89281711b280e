"""The token bucket in DynamoDB (RateLimitTable): one item per destination and connection, shared by every batcher.

One conditional write per request (the version number is the optimistic lock), or per lease of several
tokens for a high per-minute rate (core/ratelimit.py per_minute_policy). The last state
written is kept in memory, so the steady state costs no read; a lost race returns the winner's item
(ReturnValuesOnConditionCheckFailure) and we recompute from it.

A per-second rate reserves slots (`BucketPolicy.reserve`): the slot is at least LEAD_MS ahead, so DynamoDB has
answered before it comes; the caller sleeps until it and the request leaves on time. A caller that wakes more than
`late_ms` after its slot (a busy CPU, a long pause) lets it go unused and reserves another: a request that left
late would bunch with the next one. Crash semantics: a slot reserved and never used is a gap, never an excess.
"""

from __future__ import annotations

import threading
from typing import Any

from botocore.exceptions import ClientError

from audience_sync.adapters.aws import clients
from audience_sync.adapters.aws.errors import is_conditional_failure, translated
from audience_sync.core.clock import Clock
from audience_sync.core.ratelimit import BucketPolicy, BucketState, default_policy

_TTL_SECONDS = 86400
# How far ahead of now a slot is reserved: longer than a conditional write takes to be answered (DynamoDB in-region:
# single-digit ms, p99 in the tens), so the request never waits for the write at its slot.
LEAD_MS = 40


class DynamoTokenBucket:
    def __init__(self, table_name: str, bucket: str, policy: BucketPolicy, clock: Clock):
        self.table = clients.table(table_name)
        self.client = clients.dynamodb()
        self.table_name = table_name
        self.bucket = bucket
        self.policy = policy
        self.clock = clock
        self._known: BucketState | None = None
        self._loaded = False
        self._leased = 0  # tokens taken in the last write and not handed out yet (policy.lease > 1)
        self._lease_until_ms = 0
        self._lock = threading.Lock()
        self.writes = 0  # conditional writes attempted (for tests and benchmarks)
        self.slots_missed = 0  # reserved slots let go because the caller woke too late for them

    @translated("rate_bucket.acquire")
    def acquire(self, deadline_ms: int) -> bool:
        """Take one token, waiting as needed; False if it cannot be had before `deadline_ms`."""
        if self.policy.lease == 1:
            return self._acquire_slot(deadline_ms)
        with self._lock:
            if self._leased and self.clock.now_ms() <= self._lease_until_ms:
                self._leased -= 1
                return True
            self._leased = 0  # a lease not used in time is dropped: a late burst could break the limit
            if not self._loaded:
                self._known = self._read()
                self._loaded = True
            while True:
                now = self.clock.now_ms()
                new_state, wait = self.policy.take(self._known, now, self.policy.lease)
                if new_state is None:
                    if now + wait * 1000 > deadline_ms:
                        return False
                    self.clock.sleep(wait)
                    continue
                if self._write(self._known, new_state):
                    self._known = new_state
                    self._leased = self.policy.lease - 1
                    self._lease_until_ms = now + self.policy.lease_ms
                    return True

    def _acquire_slot(self, deadline_ms: int) -> bool:
        """Reserve a slot, sleep until it and return True on time; False if no slot comes before `deadline_ms`."""
        while True:
            slot_ms = self._reserve(deadline_ms)
            if slot_ms is None:
                return False
            wait_ms = slot_ms - self.clock.now_ms()
            if wait_ms > 0:
                self.clock.sleep(wait_ms / 1000)
            if self.clock.now_ms() - slot_ms <= self.policy.late_ms:
                return True
            self.slots_missed += 1

    def _reserve(self, deadline_ms: int) -> int | None:
        with self._lock:  # held for the write only, not for the wait: other threads reserve the next slots meanwhile
            if not self._loaded:
                self._known = self._read()
                self._loaded = True
            while True:
                new_state, slot_ms = self.policy.reserve(self._known, self.clock.now_ms() + LEAD_MS)
                if slot_ms > deadline_ms:
                    return None
                if self._write(self._known, new_state):
                    self._known = new_state
                    return slot_ms

    def _read(self) -> BucketState | None:
        item = self.table.get_item(Key={"bucket": self.bucket}, ConsistentRead=True).get("Item")
        return _state(item) if item else None

    def _write(self, old: BucketState | None, new: BucketState) -> bool:
        self.writes += 1
        values = {
            ":t": {"N": str(new.milli_tokens)},
            ":u": {"N": str(new.updated_ms)},
            ":v": {"N": str(new.version)},
            ":x": {"N": str(new.updated_ms // 1000 + _TTL_SECONDS)},
        }
        if old is None:
            condition = "attribute_not_exists(#b)"
        else:
            condition = "#v = :old"
            values[":old"] = {"N": str(old.version)}
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"bucket": {"S": self.bucket}},
                UpdateExpression="SET milli_tokens = :t, updated_ms = :u, #v = :v, expires_at = :x",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#v": "version", "#b": "bucket"} if old is None else {"#v": "version"},
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise
            item: dict[str, Any] | None = exc.response.get("Item")  # type: ignore[assignment]
            self._known = _state_from_wire(item) if item else self._read()
            return False
        return True


def _state(item: dict[str, Any]) -> BucketState:
    return BucketState(int(item["milli_tokens"]), int(item["updated_ms"]), int(item["version"]))


def _state_from_wire(item: dict[str, Any]) -> BucketState:
    return BucketState(int(item["milli_tokens"]["N"]), int(item["updated_ms"]["N"]), int(item["version"]["N"]))


class DynamoRateBuckets:
    """One bucket per destination and connection (`<destination>#<connection>`; LinkedIn's is `linkedin#linkedin`),
    created on first use and kept for the container, so its last known state saves a read per request."""

    def __init__(self, table_name: str, clock: Clock, headroom_percent: float):
        clients.table(table_name)  # its buckets' table and client, at the container's init (decision 0026)
        clients.create_now("dynamodb")
        self.table_name = table_name
        self.clock = clock
        self.headroom_percent = headroom_percent
        self._buckets: dict[str, DynamoTokenBucket] = {}
        self._lock = threading.Lock()

    def bucket(
        self, destination: str, connection_id: str, requests_per_second: float, policy: BucketPolicy | None = None
    ) -> DynamoTokenBucket:
        key = f"{destination}#{connection_id}"
        policy = policy or default_policy(requests_per_second, self.headroom_percent)
        with self._lock:
            known = self._buckets.get(key)
            if known is None or known.policy != policy:  # a campaign's new limit applies from its next request
                self._buckets[key] = DynamoTokenBucket(self.table_name, key, policy, self.clock)
            return self._buckets[key]

    def slots_missed(self) -> int:
        """Slots let go by this container's callers since it started (woken too late for them)."""
        with self._lock:
            return sum(bucket.slots_missed for bucket in self._buckets.values())

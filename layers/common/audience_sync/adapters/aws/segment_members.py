"""Segment members and counters in DynamoDB.

SegmentMembersTable: one item per (segment, user) under `bucket` = `<segment_id>#<shard>` (SHARDS of them, so a
segment of millions is not one hot partition), sort key `member` = the user's braze_id (kept when an identify moves
a profile to an external id). It holds whether the
profile is a member (`in`), since when, and the `o`rder of the newest transition applied (segments/membership.py):
an older or repeated transition changes nothing. A former member's item expires EXIT_TTL_DAYS after its exit (long
after SQS would deliver a late copy of an older transition).

SegmentStatsTable: per segment, `total` (size, entered, exited), `h#<YYYY-MM-DDTHH>` (entered and exited in that
hour, expiring after HOURS_KEPT hours) and pending counts items `d#<hour>#<id>` not yet folded into those two.

A message's transitions are written in transactions of up to 100 items: each member's write conditional on its item
being as the membership function read it (`o`, the newest order applied), with one new counts item a segment
holding the transaction's entries and exits. No two transactions touch one item unless they move the same member:
a counter item updated by every transaction would be the hot item every concurrent transaction conflicts on
(DynamoDB cancels a transaction that touches an item another one holds), and a backfill runs forty messages at
once. So a message's transactions are written at once too. A transaction refused because another writer moved one
of its members is planned again from a fresh read; so the counts add up exactly however often, and in whatever
order, transitions are delivered, and an entry racing an older exit is never lost.

The schedule folds the pending counts items into `total` and the hours (`fold`, functions/segment_counters): each
fold transaction deletes what it adds, so a count is added once. A reader adds what is still pending, so the counts
read are exact whether or not the fold has run.
"""

from __future__ import annotations

import base64
import json
import uuid
import zlib
from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from audience_sync.adapters.aws import clients, fanout
from audience_sync.adapters.aws.errors import error_code, translated
from audience_sync.adapters.aws.items import from_dynamodb
from audience_sync.core.clock import Clock
from audience_sync.core.errors import Invalid, StoreUnavailable
from audience_sync.segments.definitions import step_segment_id
from audience_sync.segments.membership import Transition
from audience_sync.segments.ports import HeldMember, Member, MemberKey, SegmentCounts, StoredMember

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

SHARDS = 16
EXIT_TTL_DAYS = 3
HOURS_KEPT = 24 * 8
MAX_TRANSACTION_ITEMS = 100  # DynamoDB's limit
PENDING = "d#"  # a counts item not folded yet: `d#<hour>#<id>`
MAX_FOLDED = 20_000  # pending counts items read by one fold (the rest wait for the next)
COUNT_READS = 5  # reads of a segment's counts before giving up on folds overlapping each (a fold a minute)
APPLY_ATTEMPTS = 5  # rounds of conflicts with other writers before the message is failed (and delivered again)
# The members' reads and writes, a hundred members a call, skip the SDK's parameter check (clients.py, _UNCHECKED);
# bench/sdk_cpu.py counts that check's CPU only while this is True.
CHECKS_REQUESTS = False


def _dynamodb() -> DynamoDBClient:
    return clients.dynamodb() if CHECKS_REQUESTS else clients.unchecked_dynamodb()


def _bucket(segment_id: str, braze_id: str) -> str:
    return f"{segment_id}#{zlib.crc32(braze_id.encode('utf-8')) % SHARDS:02d}"


class DynamoMoveOrders:
    """The members' index as the retry reads it (pipeline/ports.py, MoveOrders): a step's own segment's members'
    newest orders."""

    def __init__(self, members_table: str, clock: Clock):
        _dynamodb()  # at the container's init (decision 0026)
        self.members_table = members_table
        self.clock = clock

    @translated("segment_members.newest")
    def newest(self, step_id: str, members: Sequence[str]) -> dict[str, str]:
        segment_id = step_segment_id(step_id)
        found = _lookup(self.members_table, [(segment_id, m) for m in members], self.clock)
        return {member: held.order for (_, member), held in found.items()}


class DynamoMemberIndex:
    def __init__(self, members_table: str, stats_table: str, clock: Clock):
        _dynamodb()  # at the container's init (decision 0026); a fold's transactions are checked (`fold`)
        clients.create_now("dynamodb")
        self.members_table = members_table
        self.stats_table = stats_table
        self.members_view = clients.table(members_table)
        self.stats = clients.table(stats_table)
        self.clock = clock

    @translated("segment_members.lookup")
    def lookup(self, keys: Sequence[MemberKey]) -> dict[MemberKey, StoredMember]:
        return _lookup(self.members_table, keys, self.clock)

    @translated("segment_members.apply")
    def apply(
        self,
        transitions: Sequence[Transition],
        hour: str,
        stored: Mapping[MemberKey, StoredMember],
        sent: Mapping[MemberKey, dict[str, Any]] | None = None,
        removed: Collection[MemberKey] = (),
    ) -> list[Transition]:
        newest: dict[MemberKey, Transition] = {}
        for transition in transitions:
            key = (transition.segment_id, transition.braze_id)
            if key not in newest or newest[key].order < transition.order:
                newest[key] = transition
        state = dict(stored)
        pending = list(newest.values())
        changed: list[Transition] = []
        for _ in range(APPLY_ATTEMPTS):
            plans = [
                [_MemberWrite.plan(t, state.get(_key(t)), sent or {}, removed) for t in group]
                for group in _groups(pending)
            ]
            # the transactions share no item (each has its own counts item): they are written at once
            written = fanout.each(lambda writes: self._write(writes, hour), plans)
            conflicted: list[Transition] = []
            for writes, done in zip(plans, written, strict=True):
                if done:
                    changed += [w.transition for w in writes if w.flips]
                else:  # another writer moved one of them since it was read: read them again, plan again
                    conflicted += [w.transition for w in writes]
            if not conflicted:
                return changed
            state.update(self.lookup([_key(t) for t in conflicted]))
            pending = conflicted
        raise StoreUnavailable("segment_members.apply", "TransactionConflict")

    def _write(self, writes: list[_MemberWrite], hour: str) -> bool:
        """One transaction: the members' writes, each conditional on what was read, with their segments' counters;
        False if a condition failed (nothing is written)."""
        items = [w.item(self.members_table, self._expires()) for w in writes if not w.idle]
        items += self._counters([w for w in writes if w.flips], hour)
        if not items:
            return True
        try:
            _dynamodb().transact_write_items(TransactItems=cast("list[TransactWriteItemTypeDef]", items))
        except ClientError as error:
            if error_code(error) == "TransactionCanceledException" and _conflicted(error):
                return False
            raise
        return True

    def _expires(self) -> int:
        return self.clock.now_ms() // 1000 + EXIT_TTL_DAYS * 86400

    def _counters(self, flips: list[_MemberWrite], hour: str) -> list[dict[str, Any]]:
        """Per segment, the flips' entries and exits as a new counts item of their own (folded later)."""
        counted: dict[str, Counter[str]] = defaultdict(Counter)
        for write in flips:
            counted[write.transition.segment_id]["entered" if write.transition.entered else "exited"] += 1
        return [
            {
                "Put": {
                    "TableName": self.stats_table,
                    "Item": {
                        "segment_id": {"S": segment_id},
                        "bucket": {"S": f"{PENDING}{hour}#{uuid.uuid4().hex}"},
                        "entered": {"N": str(counts["entered"])},
                        "exited": {"N": str(counts["exited"])},
                    },
                }
            }
            for segment_id, counts in sorted(counted.items())
        ]

    @translated("segment_members.fold")
    def fold(self, segment_id: str) -> int:
        """Fold a segment's pending counts items into its `total` and hour buckets; how many were folded. Each
        transaction deletes the items it adds (each delete conditional on the item being there) and moves `total`'s
        generation `g` on by one (conditional on the one read), so a count is added once however many folders run,
        and a reader can tell a fold happened while it read (`counts`). A fold another folder beat stops; the next
        run goes on."""
        generation = self._generation(segment_id)
        folded = 0
        for group in _fold_groups(self._pending(segment_id)):
            try:
                clients.dynamodb().transact_write_items(
                    TransactItems=cast(
                        "list[TransactWriteItemTypeDef]", self._fold_items(segment_id, group, generation)
                    )
                )
            except ClientError as error:
                if error_code(error) == "TransactionCanceledException" and _conflicted(error):
                    break
                raise
            generation += 1
            folded += len(group)
        return folded

    def _generation(self, segment_id: str) -> int:
        """How many folds `total` holds (0 before the first)."""
        item = self.stats.get_item(
            Key={"segment_id": segment_id, "bucket": "total"}, ProjectionExpression="g", ConsistentRead=True
        ).get("Item")
        return int(str((item or {}).get("g", 0)))

    def _pending(self, segment_id: str) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "segment_id = :s AND begins_with(#b, :p)",
            "ExpressionAttributeNames": {"#b": "bucket"},
            "ExpressionAttributeValues": {":s": segment_id, ":p": PENDING},
            "ConsistentRead": True,
        }
        found: list[dict[str, Any]] = []
        while len(found) < MAX_FOLDED:
            page = self.stats.query(**kwargs)
            found += [from_dynamodb(raw) for raw in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return found[:MAX_FOLDED]

    def _fold_items(self, segment_id: str, group: list[dict[str, Any]], generation: int) -> list[dict[str, Any]]:
        key = {"segment_id": {"S": segment_id}}
        items: list[dict[str, Any]] = [
            {
                "Delete": {
                    "TableName": self.stats_table,
                    "Key": {**key, "bucket": {"S": item["bucket"]}},
                    "ConditionExpression": "attribute_exists(#b)",
                    "ExpressionAttributeNames": {"#b": "bucket"},
                }
            }
            for item in group
        ]
        entered, exited = (sum(int(item[name]) for item in group) for name in ("entered", "exited"))
        items.append(
            {
                "Update": {
                    "TableName": self.stats_table,
                    "Key": {**key, "bucket": {"S": "total"}},
                    "UpdateExpression": "ADD #size :size, entered :in, exited :out SET g = :next",
                    "ConditionExpression": "g = :g" if generation else "attribute_not_exists(g)",
                    "ExpressionAttributeNames": {"#size": "size"},
                    "ExpressionAttributeValues": {
                        ":size": {"N": str(entered - exited)},
                        ":in": {"N": str(entered)},
                        ":out": {"N": str(exited)},
                        ":next": {"N": str(generation + 1)},
                        **({":g": {"N": str(generation)}} if generation else {}),
                    },
                }
            }
        )
        hour_expires = self.clock.now_ms() // 1000 + HOURS_KEPT * 3600
        for hour, counts in sorted(_by_hour(group).items()):
            items.append(
                {
                    "Update": {
                        "TableName": self.stats_table,
                        "Key": {**key, "bucket": {"S": "h#" + hour}},
                        "UpdateExpression": "ADD entered :in, exited :out SET expires_at = :exp",
                        "ExpressionAttributeValues": {
                            ":in": {"N": str(counts["entered"])},
                            ":out": {"N": str(counts["exited"])},
                            ":exp": {"N": str(hour_expires)},
                        },
                    }
                }
            )
        return items

    @translated("segment_members.members")
    def members(self, segment_id: str, limit: int, cursor: str | None) -> tuple[list[Member], str | None]:
        """A page of members, shard by shard; the cursor holds the shard and DynamoDB's key where the page ended."""
        shard, start = _read_cursor(cursor, segment_id)
        found: list[Member] = []
        while shard < SHARDS and len(found) < limit:
            kwargs: dict[str, Any] = {
                "KeyConditionExpression": "#b = :b",
                "FilterExpression": "#in = :true",
                "ExpressionAttributeNames": {"#b": "bucket", "#in": "in"},
                "ExpressionAttributeValues": {":b": f"{segment_id}#{shard:02d}", ":true": True},
                "Limit": limit - len(found),
            }
            if start is not None:
                kwargs["ExclusiveStartKey"] = start
            page = self.members_view.query(**kwargs)
            for raw in page.get("Items", []):
                item = from_dynamodb(raw)
                found.append(Member(item["member"], item.get("external_id"), item["entered_at"], item.get("home")))
            start = page.get("LastEvaluatedKey")
            if start is None:
                shard += 1
        done = shard >= SHARDS
        return found, None if done else _write_cursor(segment_id, shard, start)

    @translated("segment_members.held")
    def held(
        self, segment_id: str, shard: int, start: dict[str, Any] | None, limit: int
    ) -> tuple[list[HeldMember], dict[str, Any] | None]:
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "#b = :b",
            "ExpressionAttributeNames": {"#b": "bucket"},
            "ExpressionAttributeValues": {":b": f"{segment_id}#{shard:02d}"},
            "Limit": limit,
            "ConsistentRead": True,
        }
        if start is not None:
            kwargs["ExclusiveStartKey"] = start
        page = self.members_view.query(**kwargs)
        found = []
        for raw in page.get("Items", []):
            item = from_dynamodb(raw)
            sent = item.get("sent")
            stored = StoredMember(str(item["o"]), bool(item.get("in", False)), json.loads(sent) if sent else None)
            found.append(HeldMember(str(item["member"]), item.get("home"), item.get("external_id"), stored))
        return found, page.get("LastEvaluatedKey")

    @translated("segment_members.counts")
    def counts(self, segment_id: str, hours: int) -> SegmentCounts:
        """The folded counts plus the pending ones. Exact: a counts item is either pending or folded, and a read
        that a fold overlapped (its pending items read before the fold, `total` after) is read again: `total`'s
        generation, read before the query, must be the one the query returns."""
        for _ in range(COUNT_READS):
            before = self._generation(segment_id)
            items = self._partition(segment_id)
            total: dict[str, Any] = next((i for i in items if i["bucket"] == "total"), {})
            if int(total.get("g", 0)) == before:
                return _counts(items, total, hours)
        raise StoreUnavailable("segment_members.counts", "FoldsOverlapping")

    def _partition(self, segment_id: str) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "segment_id = :s",
            "ExpressionAttributeValues": {":s": segment_id},
            "ConsistentRead": True,
        }
        items: list[dict[str, Any]] = []
        while True:
            page = self.stats.query(**kwargs)
            items += [from_dynamodb(i) for i in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    @translated("segment_members.forget")
    def forget(self, segment_id: str) -> None:
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "segment_id = :s",
            "ExpressionAttributeValues": {":s": segment_id},
            "ProjectionExpression": "#b",
            "ExpressionAttributeNames": {"#b": "bucket"},
        }
        while True:  # the total and at most HOURS_KEPT hours: one delete each (no BatchWriteItem, which may delete
            page = self.stats.query(**kwargs)  # anything: tests/template/test_least_privilege.py)
            for item in page.get("Items", []):
                self.stats.delete_item(Key={"segment_id": segment_id, "bucket": item["bucket"]})
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _conflicted(error: ClientError) -> bool:
    """A transaction cancelled because an item was not as read (or another transaction held it): plan again."""
    reasons = error.response.get("CancellationReasons", [])
    return any(r.get("Code") in ("ConditionalCheckFailed", "TransactionConflict") for r in reasons)


def _key(transition: Transition) -> MemberKey:
    return (transition.segment_id, transition.braze_id)


def _groups(transitions: list[Transition]) -> list[list[Transition]]:
    """The transitions in transactions of at most MAX_TRANSACTION_ITEMS items: one a member, one (its counts item)
    a segment whose membership may change."""
    groups: list[list[Transition]] = []
    group: list[Transition] = []
    segments: set[str] = set()
    for transition in transitions:
        extra = 0 if transition.segment_id in segments else 1
        if group and len(group) + len(segments) + 1 + extra > MAX_TRANSACTION_ITEMS:
            groups.append(group)
            group, segments = [], set()
            extra = 1
        group.append(transition)
        if extra:
            segments.add(transition.segment_id)
    if group:
        groups.append(group)
    return groups


def _by_hour(pending: list[dict[str, Any]]) -> defaultdict[str, Counter[str]]:
    """Pending counts items' entries and exits by the hour they were counted in (`d#<hour>#<id>`)."""
    counted: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for item in pending:
        counted[item["bucket"].split("#")[1]].update(entered=int(item["entered"]), exited=int(item["exited"]))
    return counted


def _counts(items: list[dict[str, Any]], total: dict[str, Any], hours: int) -> SegmentCounts:
    pending = [i for i in items if i["bucket"].startswith(PENDING)]
    by_hour = _by_hour(pending)
    for i in items:
        if i["bucket"].startswith("h#"):
            by_hour[i["bucket"][2:]].update(entered=int(i.get("entered", 0)), exited=int(i.get("exited", 0)))
    pending_in, pending_out = sum(int(i["entered"]) for i in pending), sum(int(i["exited"]) for i in pending)
    return SegmentCounts(
        size=int(total.get("size", 0)) + pending_in - pending_out,
        entered=int(total.get("entered", 0)) + pending_in,
        exited=int(total.get("exited", 0)) + pending_out,
        hours=[
            {"hour": hour, "entered": counts["entered"], "exited": counts["exited"]}
            for hour, counts in sorted(by_hour.items(), reverse=True)
        ][:hours],
    )


def _fold_groups(pending: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Pending counts items in transactions of at most MAX_TRANSACTION_ITEMS items: a delete each, the total and one
    update an hour."""
    groups: list[list[dict[str, Any]]] = []
    group: list[dict[str, Any]] = []
    hours: set[str] = set()
    for item in pending:
        hour = item["bucket"].split("#")[1]
        if group and len(group) + 1 + len(hours | {hour}) + 1 > MAX_TRANSACTION_ITEMS:
            groups.append(group)
            group, hours = [], set()
        group.append(item)
        hours.add(hour)
    if group:
        groups.append(group)
    return groups


@dataclass(frozen=True)
class _MemberWrite:
    """What one transition writes to its member's item, conditional on the item being as it was read: a newer
    transition records its order, whether the user is a member (`flips` when that changes, counted) and who it is
    now; the newest again (a redelivery) only the identifiers a step sent or removed; an older one nothing."""

    transition: Transition
    held: StoredMember | None
    newer: bool
    flips: bool
    sent: dict[str, Any] | None
    removed: bool

    @classmethod
    def plan(
        cls,
        transition: Transition,
        held: StoredMember | None,
        sent: Mapping[MemberKey, dict[str, Any]],
        removed: Collection[MemberKey],
    ) -> _MemberWrite:
        key = _key(transition)
        newer = held is None or held.order < transition.order
        member_before = held is not None and held.member
        return cls(
            transition,
            held,
            newer,
            newer and transition.entered != member_before,
            sent.get(key),
            key in removed,
        )

    @property
    def idle(self) -> bool:
        repeat = self.held is not None and self.held.order == self.transition.order
        return not self.newer and not (repeat and (self.sent is not None or self.removed))

    def item(self, table: str, expires: int) -> dict[str, Any]:
        t = self.transition
        sets: list[str] = []
        values: dict[str, Any] = {}
        if self.newer:
            sets += ["o = :o", "#in = :in", "braze_id = :b", "external_id = :x", "home = :h", "expires_at = :exp"]
            values[":o"] = {"S": t.order}
            values[":h"] = {"S": t.home}
            values[":in"] = {"BOOL": t.entered if self.flips else bool(self.held and self.held.member)}
            values[":b"] = {"S": t.braze_id}
            values[":x"] = {"S": t.external_id} if t.external_id is not None else {"NULL": True}
            values[":exp"] = {"NULL": True} if values[":in"]["BOOL"] else {"N": str(expires)}
            if self.flips:
                sets.append("entered_at = :at" if t.entered else "exited_at = :at")
                values[":at"] = {"S": t.at}
        if self.sent is not None and not self.removed:
            sets.append("sent = :sent")
            values[":sent"] = {"S": json.dumps(self.sent, separators=(",", ":"))}
        expression = "SET " + ", ".join(sets) if sets else ""
        if self.removed:
            expression += " REMOVE sent"
        if self.held is None:
            condition = "attribute_not_exists(o)"
        else:
            condition = "o = :read"
            values[":read"] = {"S": self.held.order}
        update: dict[str, Any] = {
            "TableName": table,
            "Key": {"bucket": {"S": _bucket(t.segment_id, t.braze_id)}, "member": {"S": t.braze_id}},
            "UpdateExpression": expression.strip(),
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        if self.newer:
            update["ExpressionAttributeNames"] = {"#in": "in"}
        return {"Update": update}


def _write_cursor(segment_id: str, shard: int, start: dict[str, Any] | None) -> str:
    """Opaque to the client: the segment it belongs to, the partition, and DynamoDB's key where the page ended."""
    raw = json.dumps({"g": segment_id, "s": shard, "k": start}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii")


def _read_cursor(cursor: str | None, segment_id: str) -> tuple[int, dict[str, Any] | None]:
    if not cursor:
        return 0, None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
        shard, start = data["s"], data["k"]
        if data["g"] != segment_id or type(shard) is not int or not 0 <= shard < SHARDS:
            raise ValueError
        if start is not None and start != {"bucket": f"{segment_id}#{shard:02d}", "member": start.get("member")}:
            raise ValueError
        if start is not None and not isinstance(start["member"], str):
            raise ValueError
    except (ValueError, KeyError, TypeError, UnicodeError, AttributeError):
        raise Invalid("invalid_cursor", "the cursor is not one this API gave for this segment") from None
    return shard, start


def _lookup(members_table: str, keys: Sequence[MemberKey], clock: Clock) -> dict[MemberKey, StoredMember]:
    unique = list(dict.fromkeys(keys))
    chunks = [unique[start : start + 100] for start in range(0, len(unique), 100)]  # BatchGetItem's limit
    found: dict[MemberKey, StoredMember] = {}
    for part in fanout.each(lambda chunk: _lookup_chunk(members_table, chunk, clock), chunks):
        found.update(part)
    return found


def _lookup_chunk(members_table: str, keys: Sequence[MemberKey], clock: Clock) -> dict[MemberKey, StoredMember]:
    found: dict[MemberKey, StoredMember] = {}
    request: dict[str, Any] = {
        members_table: {
            "Keys": [
                {"bucket": {"S": _bucket(segment_id, braze_id)}, "member": {"S": braze_id}}
                for segment_id, braze_id in keys
            ],
            "ConsistentRead": True,
        }
    }
    while request:
        answer = _dynamodb().batch_get_item(RequestItems=request)
        for raw in answer.get("Responses", {}).get(members_table, []):
            segment_id = raw["bucket"]["S"].rsplit("#", 1)[0]
            sent = raw.get("sent", {}).get("S")
            found[(segment_id, raw["member"]["S"])] = StoredMember(
                order=raw["o"]["S"],
                member=raw.get("in", {}).get("BOOL", False),
                sent=json.loads(sent) if sent else None,
            )
        request = dict(answer.get("UnprocessedKeys") or {})
        if request:
            clock.sleep(0.05)  # DynamoDB's advice for unprocessed keys: back off, then ask again
    return found

"""Segment members and counters in DynamoDB.

SegmentMembersTable: one item per (segment, user) under `bucket` = `<segment_id>#<shard>` (SHARDS of them, so a
segment of millions is not one hot partition), sort key `member` = the user's braze_id (kept when an identify moves
a profile to an external id). It holds whether the
profile is a member (`in`), since when, and the `o`rder of the newest transition applied (segments/membership.py):
an older or repeated transition changes nothing. A former member's item expires EXIT_TTL_DAYS after its exit (long
after SQS would deliver a late copy of an older transition).

SegmentStatsTable: per segment, `total` (size, entered, exited) and `h#<YYYY-MM-DDTHH>` (entered and exited in that
hour, expiring after HOURS_KEPT hours). A transition that changes membership is written with its counters in one
transaction, so the counters add up exactly however often a transition is delivered.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

from audience_sync.adapters.aws import clients
from audience_sync.adapters.aws.errors import error_code, is_conditional_failure, translated
from audience_sync.adapters.aws.items import from_dynamodb
from audience_sync.core.clock import Clock
from audience_sync.core.errors import Invalid
from audience_sync.segments.membership import Transition
from audience_sync.segments.ports import Member, MemberKey, SegmentCounts, StoredMember

SHARDS = 16
EXIT_TTL_DAYS = 3
HOURS_KEPT = 24 * 8
_NEWER = "(attribute_not_exists(o) OR o < :o)"


def _bucket(segment_id: str, braze_id: str) -> str:
    return f"{segment_id}#{zlib.crc32(braze_id.encode('utf-8')) % SHARDS:02d}"


class DynamoMemberIndex:
    def __init__(self, members_table: str, stats_table: str, clock: Clock):
        self.members_table = members_table
        self.stats_table = stats_table
        self.members_view = clients.table(members_table)
        self.stats = clients.table(stats_table)
        self.clock = clock

    @translated("segment_members.lookup")
    def lookup(self, keys: Sequence[MemberKey]) -> dict[MemberKey, StoredMember]:
        found: dict[MemberKey, StoredMember] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 100):  # BatchGetItem's limit
            request: dict[str, Any] = {
                self.members_table: {
                    "Keys": [
                        {"bucket": {"S": _bucket(segment_id, braze_id)}, "member": {"S": braze_id}}
                        for segment_id, braze_id in unique[start : start + 100]
                    ],
                    "ConsistentRead": True,
                }
            }
            while request:
                answer = clients.dynamodb().batch_get_item(RequestItems=request)
                for raw in answer.get("Responses", {}).get(self.members_table, []):
                    segment_id = raw["bucket"]["S"].rsplit("#", 1)[0]
                    sent = raw.get("sent", {}).get("S")
                    found[(segment_id, raw["member"]["S"])] = StoredMember(
                        order=raw["o"]["S"],
                        member=raw.get("in", {}).get("BOOL", False),
                        sent=json.loads(sent) if sent else None,
                    )
                request = dict(answer.get("UnprocessedKeys") or {})
                if request:
                    self.clock.sleep(0.05)  # DynamoDB's advice for unprocessed keys: back off, then ask again
        return found

    @translated("segment_members.apply")
    def apply(
        self,
        transitions: Sequence[Transition],
        hour: str,
        sent: Mapping[MemberKey, dict[str, Any]] | None = None,
        removed: Collection[MemberKey] = (),
    ) -> list[Transition]:
        changed = []
        for transition in transitions:
            key = (transition.segment_id, transition.braze_id)
            if key in removed:
                self._forget_sent(key)
            identifiers = (sent or {}).get(key)
            if self._flip(transition, hour, identifiers):
                changed.append(transition)
            else:  # not a change of membership (or stale): only its order is kept, if it is the newest
                self._advance(transition)
        return changed

    def _member_values(self, transition: Transition) -> dict[str, Any]:
        expires = self.clock.now_ms() // 1000 + EXIT_TTL_DAYS * 86400
        return {
            ":o": {"S": transition.order},
            ":in": {"BOOL": transition.entered},
            ":b": {"S": transition.braze_id},
            ":x": {"S": transition.external_id} if transition.external_id is not None else {"NULL": True},
            ":at": {"S": transition.at},
            ":exp": {"N": str(expires)} if not transition.entered else {"NULL": True},
        }

    def _flip(self, transition: Transition, hour: str, sent: dict[str, Any] | None) -> bool:
        """The transition, if it is the newest and changes membership, with its counters; False otherwise."""
        entered = transition.entered
        counted = "entered" if entered else "exited"
        hour_expires = self.clock.now_ms() // 1000 + HOURS_KEPT * 3600
        state = "(attribute_not_exists(#in) OR #in = :false)" if entered else "#in = :true"
        values = self._member_values(transition)
        values[":false" if entered else ":true"] = {"BOOL": not entered}
        keep_sent = ""
        if sent is not None:
            values[":sent"] = {"S": json.dumps(sent, separators=(",", ":"))}
            keep_sent = ", sent = :sent"
        try:
            clients.dynamodb().transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.members_table,
                            "Key": {
                                "bucket": {"S": _bucket(transition.segment_id, transition.braze_id)},
                                "member": {"S": transition.braze_id},
                            },
                            "UpdateExpression": "SET o = :o, #in = :in, braze_id = :b, external_id = :x, "
                            + ("entered_at = :at, " if entered else "exited_at = :at, ")
                            + "expires_at = :exp"
                            + keep_sent,
                            "ConditionExpression": f"{_NEWER} AND {state}",
                            "ExpressionAttributeNames": {"#in": "in"},
                            "ExpressionAttributeValues": values,
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.stats_table,
                            "Key": {"segment_id": {"S": transition.segment_id}, "bucket": {"S": "total"}},
                            "UpdateExpression": "ADD #size :size, #counted :one",
                            "ExpressionAttributeNames": {"#size": "size", "#counted": counted},
                            "ExpressionAttributeValues": {":size": {"N": "1" if entered else "-1"}, ":one": {"N": "1"}},
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.stats_table,
                            "Key": {"segment_id": {"S": transition.segment_id}, "bucket": {"S": "h#" + hour}},
                            "UpdateExpression": "ADD #counted :one SET expires_at = :exp",
                            "ExpressionAttributeNames": {"#counted": counted},
                            "ExpressionAttributeValues": {":one": {"N": "1"}, ":exp": {"N": str(hour_expires)}},
                        }
                    },
                ]
            )
        except ClientError as error:
            if error_code(error) == "TransactionCanceledException" and _condition_failed(error):
                return False
            raise
        return True

    def _forget_sent(self, key: MemberKey) -> None:
        """The user is out of the step's audience: the identifiers it was sent with are not kept."""
        segment_id, braze_id = key
        clients.dynamodb().update_item(
            TableName=self.members_table,
            Key={"bucket": {"S": _bucket(segment_id, braze_id)}, "member": {"S": braze_id}},
            UpdateExpression="REMOVE sent",
        )

    def _advance(self, transition: Transition) -> None:
        try:
            clients.dynamodb().update_item(
                TableName=self.members_table,
                Key={
                    "bucket": {"S": _bucket(transition.segment_id, transition.braze_id)},
                    "member": {"S": transition.braze_id},
                },
                UpdateExpression="SET o = :o",
                ConditionExpression=_NEWER,
                ExpressionAttributeValues={":o": {"S": transition.order}},
            )
        except ClientError as error:
            if not is_conditional_failure(error):
                raise

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
                found.append(Member(item["member"], item.get("external_id"), item["entered_at"]))
            start = page.get("LastEvaluatedKey")
            if start is None:
                shard += 1
        done = shard >= SHARDS
        return found, None if done else _write_cursor(segment_id, shard, start)

    @translated("segment_members.counts")
    def counts(self, segment_id: str, hours: int) -> SegmentCounts:
        page = self.stats.query(
            KeyConditionExpression="segment_id = :s",
            ExpressionAttributeValues={":s": segment_id},
            ScanIndexForward=False,
            ConsistentRead=True,
        )
        items = [from_dynamodb(i) for i in page.get("Items", [])]
        total: dict[str, Any] = next((i for i in items if i["bucket"] == "total"), {})
        by_hour = [
            {"hour": i["bucket"][2:], "entered": int(i.get("entered", 0)), "exited": int(i.get("exited", 0))}
            for i in items
            if i["bucket"].startswith("h#")
        ][:hours]
        return SegmentCounts(
            size=int(total.get("size", 0)),
            entered=int(total.get("entered", 0)),
            exited=int(total.get("exited", 0)),
            hours=by_hour,
        )

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


def _condition_failed(error: ClientError) -> bool:
    reasons = error.response.get("CancellationReasons", [])
    return any(r.get("Code") == "ConditionalCheckFailed" for r in reasons)


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

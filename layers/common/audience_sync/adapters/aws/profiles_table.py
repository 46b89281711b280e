"""The profile store in DynamoDB (ProfilesTable, encrypted with the stack's KMS key): one item per profile, per
pointer and per event or product summary (docs/profiles.md, "Layout").

Item: `pk`, `sk`, `v` (the version: the optimistic lock), `d` (the document as JSON), `t` (the message tokens as JSON).
JSON strings rather than DynamoDB maps: the writer reads and writes whole documents, nothing queries inside them,
and a string costs no Decimal conversions and no size overhead per nested key.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from audience_sync.adapters.aws import clients, fanout
from audience_sync.adapters.aws.errors import is_conditional_failure, translated
from audience_sync.core.clock import Clock, SystemClock
from audience_sync.profiles.ports import Item, Key, WriteConflict

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

_BATCH_GET_KEYS = 100
_UNPROCESSED_ATTEMPTS = 8


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class DynamoProfileStore:
    def __init__(self, table_name: str, clock: Clock | None = None):
        clients.create_now("dynamodb")  # at the container's init (decision 0026)
        self.table_name = table_name
        self.clock = clock or SystemClock()

    @staticmethod
    def _item(raw: dict[str, Any]) -> Item:
        return Item(
            pk=raw["pk"]["S"],
            sk=raw["sk"]["S"],
            doc=json.loads(raw["d"]["S"]),
            version=int(raw["v"]["N"]) if "v" in raw else 0,
            tokens=json.loads(raw["t"]["S"]) if "t" in raw else {},
        )

    @translated("profiles.get")
    def get(self, keys: Sequence[Key]) -> dict[Key, Item]:
        unique = list(dict.fromkeys(keys))
        chunks = [unique[start : start + _BATCH_GET_KEYS] for start in range(0, len(unique), _BATCH_GET_KEYS)]
        found: dict[Key, Item] = {}
        for part in fanout.each(self._get_chunk, chunks):
            found.update(part)
        return found

    def _get_chunk(self, keys: Sequence[Key]) -> dict[Key, Item]:
        found: dict[Key, Item] = {}
        request: dict[str, Any] = {
            self.table_name: {"Keys": [{"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in keys], "ConsistentRead": True}
        }
        for attempt in range(_UNPROCESSED_ATTEMPTS):
            answer = clients.dynamodb().batch_get_item(RequestItems=request)
            for raw in answer.get("Responses", {}).get(self.table_name, []):
                item = self._item(raw)
                found[item.key] = item
            request = dict(answer.get("UnprocessedKeys") or {})
            if not request:
                return found
            self.clock.sleep(0.05 * 2**attempt)  # DynamoDB's advice for unprocessed keys: back off, retry
        raise WriteConflict("profiles.get: keys still unprocessed")  # the batch is retried by SQS

    @translated("profiles.items_of")
    def items_of(self, pk: str) -> list[Item]:
        items: list[Item] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
            "ConsistentRead": True,
        }
        while True:
            page = clients.dynamodb().query(**kwargs)
            items += [self._item(raw) for raw in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _attributes(self, item: Item, version: int) -> dict[str, AttributeValueTypeDef]:
        attributes: dict[str, AttributeValueTypeDef] = {
            "pk": {"S": item.pk},
            "sk": {"S": item.sk},
            "v": {"N": str(version)},
            "d": {"S": _compact(item.doc)},
        }
        if item.tokens:
            attributes["t"] = {"S": _compact(item.tokens)}
        return attributes

    @translated("profiles.scan")
    def scan(
        self, part: int, parts: int, start: dict[str, Any] | None, limit: int
    ) -> tuple[list[Item], dict[str, Any] | None]:
        """One page of one of `parts` parallel scan segments (eventually consistent: a sweep's reading, which the
        writer checks again in order): the items, and where the next page starts (None: this part is done)."""
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "Segment": part,
            "TotalSegments": parts,
            "Limit": limit,
        }
        if start is not None:
            kwargs["ExclusiveStartKey"] = start
        page = clients.dynamodb().scan(**kwargs)
        return [self._item(raw) for raw in page.get("Items", [])], page.get("LastEvaluatedKey")

    @translated("profiles.put")
    def put(self, item: Item) -> None:
        condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(pk)"}
            if item.version == 0
            else {"ConditionExpression": "v = :v", "ExpressionAttributeValues": {":v": {"N": str(item.version)}}}
        )
        try:
            clients.dynamodb().put_item(
                TableName=self.table_name, Item=self._attributes(item, item.version + 1), **condition
            )
        except ClientError as error:
            if is_conditional_failure(error):
                raise WriteConflict(f"{item.sk} changed") from error
            raise
        item.version += 1

    @translated("profiles.put_pointer")
    def put_pointer(self, item: Item) -> None:
        clients.dynamodb().put_item(TableName=self.table_name, Item=self._attributes(item, 1))

    @translated("profiles.delete")
    def delete(self, key: Key) -> None:
        clients.dynamodb().delete_item(TableName=self.table_name, Key={"pk": {"S": key[0]}, "sk": {"S": key[1]}})

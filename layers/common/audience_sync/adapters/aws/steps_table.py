"""StepsTable: one item per sync step (its config, status, audience and errors)."""

from __future__ import annotations

from typing import Any

from audience_sync.adapters.aws import clients
from audience_sync.adapters.aws.errors import applied, translated
from audience_sync.adapters.aws.items import from_dynamodb, scan, to_dynamodb
from audience_sync.core.clock import now_ms
from audience_sync.core.errors import NotFound
from audience_sync.steps.records import ACTIVE, AUDIENCE_STATUS_ERROR, SYNC_ERROR, configured


class DynamoStepStore:
    def __init__(self, table_name: str):
        self.table = clients.table(table_name)

    def _find(self, step_id: str, consistent: bool = False) -> dict[str, Any] | None:
        item = self.table.get_item(Key={"step_id": step_id}, ConsistentRead=consistent).get("Item")
        return None if item is None else from_dynamodb(item)

    @translated("steps.get")
    def get(self, step_id: str) -> dict[str, Any]:
        item = self._find(step_id)
        if item is None:
            raise NotFound(f"step '{step_id}'", code="step_not_found")
        return item

    @translated("steps.list_all")
    def list_all(self) -> list[dict[str, Any]]:
        return sorted(scan(self.table), key=lambda item: str(item["step_id"]))

    @translated("steps.launched")
    def launched(self) -> list[dict[str, Any]]:
        return scan(
            self.table,
            FilterExpression="#s = :active AND attribute_exists(audience_id)",
            ProjectionExpression="step_id, #s, audience_id, audience_created_at, #e, #ae",
            ExpressionAttributeNames={"#s": "status", "#e": SYNC_ERROR, "#ae": AUDIENCE_STATUS_ERROR},
            ExpressionAttributeValues={":active": ACTIVE},
        )

    @translated("steps.put_config")
    def put_config(self, step_id: str, config: dict[str, Any]) -> dict[str, Any]:
        item = configured(self._find(step_id, consistent=True), step_id, config, now_ms())
        self.table.put_item(Item=to_dynamodb(item))
        return item

    @translated("steps.record_created_audience")
    def record_created_audience(self, step_id: str, name: str, account_id: str, audience_id: str, at: int) -> None:
        self.table.update_item(
            Key={"step_id": step_id},
            UpdateExpression="SET audience_name = :n, audience_account = :a, created_audience_id = :i, "
            "created_audience_at = :t",
            ExpressionAttributeValues={":n": name, ":a": account_id, ":i": audience_id, ":t": at},
        )

    @translated("steps.activate")
    def activate(self, step_id: str, audience_id: str, audience_created_at: int | None) -> dict[str, Any]:
        now = now_ms()
        values: dict[str, Any] = {":a": ACTIVE, ":aud": audience_id, ":now": now}
        sets = "#s = :a, audience_id = :aud, launched_at = :now, updated_at = :now"
        if audience_created_at is not None:
            sets += ", audience_created_at = :created"
            values[":created"] = audience_created_at
        result = self.table.update_item(
            Key={"step_id": step_id},
            UpdateExpression=f"SET {sets} REMOVE #e, #ae",
            ConditionExpression="attribute_exists(step_id)",
            ExpressionAttributeNames={"#s": "status", "#e": SYNC_ERROR, "#ae": AUDIENCE_STATUS_ERROR},
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
        return from_dynamodb(result["Attributes"])

    @translated("steps.set_error")
    def set_error(self, step_id: str, code: str, audience_id: str | None = None, attribute: str = SYNC_ERROR) -> bool:
        return self._error_write(
            step_id,
            attribute,
            "SET #e = :e, updated_at = :now",
            "attribute_exists(step_id) AND (attribute_not_exists(#e) OR #e <> :e)",
            {":e": code},
            audience_id,
        )

    @translated("steps.clear_error")
    def clear_error(
        self, step_id: str, codes: tuple[str, ...], audience_id: str | None = None, attribute: str = SYNC_ERROR
    ) -> None:
        values = {f":c{i}": code for i, code in enumerate(codes)}
        condition = f"#e IN ({', '.join(values)})"
        self._error_write(step_id, attribute, "REMOVE #e SET updated_at = :now", condition, values, audience_id)

    def _error_write(
        self,
        step_id: str,
        attribute: str,
        update: str,
        condition: str,
        values: dict[str, Any],
        audience_id: str | None,
    ) -> bool:
        """A conditional write of a step's error attribute (`#e`); with `audience_id`, only while the step still
        targets that audience. False when the condition did not hold."""
        values = {**values, ":now": now_ms()}
        if audience_id is not None:
            condition += " AND audience_id = :aud"
            values[":aud"] = audience_id
        return applied(
            lambda: self.table.update_item(
                Key={"step_id": step_id},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#e": attribute},
                ExpressionAttributeValues=values,
            )
        )

"""Campaign definitions in DynamoDB (CampaignsTable): one item per campaign, key `campaign_id`, the definition as JSON
(a template may hold characters DynamoDB maps would not keep as given), its status and the times it moved."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from audience_sync.adapters.aws import clients
from audience_sync.adapters.aws.errors import is_conditional_failure, translated
from audience_sync.adapters.aws.items import from_dynamodb, scan
from audience_sync.campaigns.triggers import CampaignStatus


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    plain: dict[str, Any] = from_dynamodb(item)
    plain["definition"] = json.loads(plain["definition"])
    return plain


class DynamoCampaignStore:
    def __init__(self, table_name: str):
        self.table = clients.table(table_name)

    @translated("campaigns.put")
    def put(self, campaign_id: str, definition: dict[str, Any], now: str) -> dict[str, Any]:
        answer = self.table.update_item(
            Key={"campaign_id": campaign_id},
            UpdateExpression=(
                "SET #definition = :definition, updated_at = :now, created_at = if_not_exists(created_at, :now), "
                "#status = if_not_exists(#status, :draft)"
            ),
            ExpressionAttributeNames={"#definition": "definition", "#status": "status"},
            ExpressionAttributeValues={
                ":definition": json.dumps(definition, separators=(",", ":"), ensure_ascii=False),
                ":now": now,
                ":draft": CampaignStatus.DRAFT.value,
            },
            ReturnValues="ALL_NEW",
        )
        return _plain(answer["Attributes"])

    @translated("campaigns.get")
    def get(self, campaign_id: str) -> dict[str, Any] | None:
        item = self.table.get_item(Key={"campaign_id": campaign_id}, ConsistentRead=True).get("Item")
        return _plain(item) if item is not None else None

    @translated("campaigns.all")
    def all(self) -> list[dict[str, Any]]:
        return [_plain(item) for item in scan(self.table, ConsistentRead=True)]

    @translated("campaigns.set_status")
    def set_status(
        self, campaign_id: str, status: CampaignStatus, now: str, allowed_from: tuple[CampaignStatus, ...]
    ) -> dict[str, Any] | None:
        stamp = {CampaignStatus.ACTIVE: "published_at", CampaignStatus.STOPPED: "stopped_at"}.get(status)
        expression = "SET #status = :status, updated_at = :now" + (f", {stamp} = :now" if stamp else "")
        values: dict[str, Any] = {":status": status.value, ":now": now}
        values.update({f":from{i}": s.value for i, s in enumerate(allowed_from)})
        try:
            answer = self.table.update_item(
                Key={"campaign_id": campaign_id},
                UpdateExpression=expression,
                ConditionExpression=f"#status IN ({', '.join(f':from{i}' for i in range(len(allowed_from)))})",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if is_conditional_failure(error):  # not in a state it may move from, or not there at all
                return None
            raise
        return _plain(answer["Attributes"])

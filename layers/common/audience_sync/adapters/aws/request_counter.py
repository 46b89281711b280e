"""Per-key request counters of the Braze-compatible API's rate limit, in RateLimitTable beside the destinations'
token buckets (items `api#<key id>#<minute>`, removed by TTL). One UpdateItem per request."""

from __future__ import annotations

from audience_sync.adapters.aws import clients
from audience_sync.adapters.aws.errors import translated


class DynamoRequestCounter:
    def __init__(self, table_name: str):
        clients.create_now("dynamodb")  # at the container's init (decision 0026)
        self.table_name = table_name

    @translated("rate_limit.count")
    def increment(self, counter: str, expires_at_s: int) -> int:
        answer = clients.dynamodb().update_item(
            TableName=self.table_name,
            Key={"bucket": {"S": counter}},
            UpdateExpression="ADD #count :one SET expires_at = if_not_exists(expires_at, :expires)",
            ExpressionAttributeNames={"#count": "count"},
            ExpressionAttributeValues={":one": {"N": "1"}, ":expires": {"N": str(expires_at_s)}},
            ReturnValues="UPDATED_NEW",
        )
        return int(answer["Attributes"]["count"]["N"])

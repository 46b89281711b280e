"""MetricsTable: one item per step with its counters (added to inside the ledger's transactions, ledger_table.py)."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeSerializer

from audience_sync.adapters.aws import clients
from audience_sync.adapters.aws.errors import translated
from audience_sync.adapters.aws.items import from_dynamodb, scan
from audience_sync.core.metrics import StepDelta


class MetricsStore:
    def __init__(self, table_name: str):
        self.table = clients.table(table_name)

    @translated("metrics.get")
    def get(self, step_id: str) -> dict[str, Any]:
        """The step's counters (none yet: just its id)."""
        item = self.table.get_item(Key={"step_id": step_id}).get("Item") or {"step_id": step_id}
        return from_dynamodb(item)

    @translated("metrics.scan")
    def all(self) -> list[dict[str, Any]]:
        """Every step's counters (a paginated Scan: for the gauges' schedule, never on a request's path)."""
        return scan(self.table)


def counters_update(step_id: str, delta: StepDelta, now: int) -> dict[str, Any]:
    """UpdateItem arguments adding `delta` to a step's counters (used inside the ledger's transaction)."""
    increments = delta.attributes()
    names = {f"#c{i}": name for i, name in enumerate(increments)}
    values: dict[str, Any] = {f":c{i}": n for i, n in enumerate(increments.values())}
    values[":now"] = now
    return {
        "Key": {"step_id": step_id},
        "UpdateExpression": "ADD "
        + ", ".join(f"#c{i} :c{i}" for i in range(len(increments)))
        + " SET updated_at = :now",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


def counters_transaction_update(table_name: str, step_id: str, delta: StepDelta, now: int) -> dict[str, Any]:
    """The same, as a TransactWriteItems `Update` (the client's typed values)."""
    update = counters_update(step_id, delta, now)
    return {
        "TableName": table_name,
        "Key": serialised(update["Key"]),
        "UpdateExpression": update["UpdateExpression"],
        "ExpressionAttributeNames": update["ExpressionAttributeNames"],
        "ExpressionAttributeValues": serialised(update["ExpressionAttributeValues"]),
    }


def serialised(values: dict[str, Any]) -> dict[str, Any]:
    serialiser = TypeSerializer()
    return {k: serialiser.serialize(v) for k, v in values.items()}

"""MetricsTable: one item per step (or campaign) with its counters; MetricsHistoryTable: what they gained in each
minute. Both are added to in one transaction by the writers of counters (`counter_updates`: the ledger's,
ledger_table.py, and the campaign waits', campaign_state.py), so a minute's gain is in the history exactly when it
is in the counters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Key
from boto3.dynamodb.types import TypeSerializer

from audience_sync.adapters.aws import clients
from audience_sync.adapters.aws.errors import translated
from audience_sync.adapters.aws.items import from_dynamodb, scan
from audience_sync.core.history import HISTORY_TTL_SECONDS, minute_of
from audience_sync.core.metrics import StepDelta

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef


@dataclass(frozen=True)
class CounterTables:
    """The two tables a counters update writes."""

    metrics: str
    history: str


class MetricsStore:
    def __init__(self, table_name: str, history_table_name: str = ""):
        self.table = clients.table(table_name)
        self._history_table = clients.table(history_table_name) if history_table_name else None

    @property
    def history_table(self) -> Any:
        if self._history_table is None:
            raise RuntimeError("this function is not given the metrics history table")
        return self._history_table

    @translated("metrics.history")
    def history(self, series: str, first_minute: int, last_minute: int) -> dict[int, dict[str, int]]:
        """minute -> the counters gained in it, for the minutes of [first, last] that gained any."""
        found: dict[int, dict[str, int]] = {}
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("series").eq(series) & Key("minute").between(first_minute, last_minute),
            "ConsistentRead": True,  # read before the counters (core/history.py recent): neither may lag
        }
        while True:
            page = self.history_table.query(**kwargs)
            for item in page.get("Items", []):
                plain = from_dynamodb(item)
                minute = int(plain.pop("minute"))
                plain.pop("series", None)
                plain.pop("expires_at", None)
                found[minute] = {name: int(n) for name, n in plain.items()}
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    @translated("metrics.get")
    def get(self, step_id: str, consistent: bool = False) -> dict[str, Any]:
        """The step's counters (none yet: just its id)."""
        item = self.table.get_item(Key={"step_id": step_id}, ConsistentRead=consistent).get("Item")
        return from_dynamodb(item or {"step_id": step_id})

    def current(self, series: str) -> dict[str, Any]:
        """The counters of `series` as last written (a strongly consistent read)."""
        return self.get(series, consistent=True)

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


def history_transaction_update(table_name: str, series: str, delta: StepDelta, now: int) -> dict[str, Any]:
    """A TransactWriteItems `Update` adding `delta` to the counters' item of the minute `now` falls in."""
    increments = delta.attributes()
    minute = minute_of(now)
    values: dict[str, Any] = {f":c{i}": n for i, n in enumerate(increments.values())}
    values[":x"] = minute * 60 + HISTORY_TTL_SECONDS
    return {
        "TableName": table_name,
        "Key": serialised({"series": series, "minute": minute}),
        "UpdateExpression": "ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(increments))) + " SET expires_at = :x",
        "ExpressionAttributeNames": {f"#c{i}": name for i, name in enumerate(increments)},
        "ExpressionAttributeValues": serialised(values),
    }


def counter_updates(tables: CounterTables, series: str, delta: StepDelta, now: int) -> list[TransactWriteItemTypeDef]:
    """The transaction's items adding `delta` to the counters of `series` (a step's id or a campaign's counters id)
    and to its minute; none for an empty delta. Two of TransactWriteItems' 100 items."""
    if not delta:
        return []
    return [
        {"Update": counters_transaction_update(tables.metrics, series, delta, now)},  # type: ignore[typeddict-item]
        {"Update": history_transaction_update(tables.history, series, delta, now)},  # type: ignore[typeddict-item]
    ]


def serialised(values: dict[str, Any]) -> dict[str, Any]:
    serialiser = TypeSerializer()
    return {k: serialiser.serialize(v) for k, v in values.items()}

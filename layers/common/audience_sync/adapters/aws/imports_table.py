"""Imports in DynamoDB (ImportsTable, encrypted with the stack's key): per import (`import_id`), items `def` (the
definition), `state` (where its files are read up to, the running run and its counts, a version every save is
conditional on) and `run#<started ms>#<run id>` (each finished run, newest read first, expiring RUN_TTL_DAYS after
it started: an import every minute keeps a month of runs)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from boto3.dynamodb.conditions import Key as KeyCondition
from botocore.exceptions import ClientError

from audience_sync.adapters.aws import clients
from audience_sync.adapters.aws.errors import is_conditional_failure, translated
from audience_sync.imports.definitions import ImportDefinition
from audience_sync.imports.ports import FileCursor, ImportState, Run, StateConflict

DEFINITION, STATE, RUN = "def", "state", "run#"
RUN_TTL_DAYS = 30


def _state_of(import_id: str, raw: dict[str, Any] | None) -> ImportState:
    if raw is None:
        return ImportState(import_id)
    data = json.loads(raw["s"])
    run = Run(**data["run"]) if data.get("run") else None
    file = FileCursor(**data["file"]) if data.get("file") else None
    return ImportState(
        import_id,
        version=int(raw["v"]),
        source=data.get("source"),
        done_key=data.get("done_key"),
        next_run_ms=data.get("next_run_ms", 0),
        heartbeat_ms=data.get("heartbeat_ms", 0),
        run=run,
        file=file,
    )


class DynamoImportStore:
    def __init__(self, table_name: str):
        self.table = clients.table(table_name)

    @translated("imports.put_definition")
    def put_definition(self, definition: ImportDefinition) -> None:
        self.table.put_item(
            Item={"import_id": definition.import_id, "item": DEFINITION, "d": json.dumps(definition.view())}
        )

    @translated("imports.get_definition")
    def get_definition(self, import_id: str) -> ImportDefinition | None:
        raw = self.table.get_item(Key={"import_id": import_id, "item": DEFINITION}, ConsistentRead=True).get("Item")
        return ImportDefinition.from_view(json.loads(str(raw["d"]))) if raw else None

    @translated("imports.definitions")
    def definitions(self) -> list[ImportDefinition]:
        found: list[ImportDefinition] = []
        kwargs: dict[str, Any] = {
            "FilterExpression": "#i = :def",
            "ExpressionAttributeNames": {"#i": "item"},
            "ExpressionAttributeValues": {":def": DEFINITION},
        }
        while True:  # a few hundred imports at most: their definitions and a little more
            page = self.table.scan(**kwargs)
            found += [ImportDefinition.from_view(json.loads(str(i["d"]))) for i in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    @translated("imports.delete")
    def delete(self, import_id: str) -> bool:
        keys = [i["item"] for i in self._items(import_id, None)]
        for item in keys:
            self.table.delete_item(Key={"import_id": import_id, "item": item})
        return DEFINITION in keys

    def _items(self, import_id: str, prefix: str | None, limit: int | None = None) -> list[dict[str, Any]]:
        condition: Any = KeyCondition("import_id").eq(import_id)
        if prefix is not None:
            condition = condition & KeyCondition("item").begins_with(prefix)
        kwargs: dict[str, Any] = {"KeyConditionExpression": condition, "ScanIndexForward": False}
        items: list[dict[str, Any]] = []
        while True:
            if limit is not None:
                kwargs["Limit"] = limit - len(items)
            page = self.table.query(**kwargs)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page or (limit is not None and len(items) >= limit):
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    @translated("imports.state")
    def state(self, import_id: str) -> ImportState:
        raw = self.table.get_item(Key={"import_id": import_id, "item": STATE}, ConsistentRead=True).get("Item")
        return _state_of(import_id, raw)

    @translated("imports.save_state")
    def save_state(self, state: ImportState) -> None:
        data = {
            "source": state.source,
            "done_key": state.done_key,
            "next_run_ms": state.next_run_ms,
            "heartbeat_ms": state.heartbeat_ms,
            "run": dataclasses.asdict(state.run) if state.run else None,
            "file": dataclasses.asdict(state.file) if state.file else None,
        }
        condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(import_id)"}
            if state.version == 0
            else {"ConditionExpression": "v = :v", "ExpressionAttributeValues": {":v": state.version}}
        )
        item: dict[str, Any] = {
            "import_id": state.import_id,
            "item": STATE,
            "v": state.version + 1,
            "s": json.dumps(data),
        }
        try:
            self.table.put_item(Item=item, **condition)
        except ClientError as error:
            if is_conditional_failure(error):
                raise StateConflict(state.import_id) from None
            raise
        state.version += 1

    @translated("imports.add_run")
    def add_run(self, import_id: str, run: Run) -> None:
        item = f"{RUN}{run.started_ms:013d}#{run.run_id}"
        expires = run.started_ms // 1000 + RUN_TTL_DAYS * 86_400
        self.table.put_item(
            Item={"import_id": import_id, "item": item, "r": json.dumps(dataclasses.asdict(run)), "expires_at": expires}
        )

    @translated("imports.runs")
    def runs(self, import_id: str, limit: int) -> list[Run]:
        return [Run(**json.loads(str(i["r"]))) for i in self._items(import_id, RUN, limit)]

"""Sync steps: configuration, launch validation (seed FAQ "Why is my Canvas not allowed to launch?"),
and audience creation on LinkedIn."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from audience_sync.adapters.aws import clients as aws
from audience_sync.core.clock import now_ms
from audience_sync.core.errors import NotFound
from audience_sync.insights.audience import STATUS_ERRORS
from audience_sync.pipeline.messages import SyncTarget
from audience_sync.settings import Settings
from audience_sync.steps.models import StepConfig

ACTIVE = "active"
DRAFT = "draft"
# Changing any of these re-targets the sync, so an active step goes back to draft and must be launched again.
_TARGET_FIELDS = ("ad_account_id", "audience", "action")
# Step errors the sync sets from LinkedIn's answers; the next accepted request for the step clears them.
AD_ACCOUNT_ACCESS = "ad_account_access"
AUDIENCE_NOT_FOUND = "audience_not_found"
SYNC_ERRORS = (AD_ACCOUNT_ACCESS, AUDIENCE_NOT_FOUND)
# Step errors the audience refresh sets from the audience's LinkedIn status (audience.STATUS_ERRORS); a reading
# with a targetable status clears them, and audience_not_found too (the audience exists). Sends never clear them.
AUDIENCE_STATUS_ERRORS = tuple(STATUS_ERRORS.values())
# The step item's two error attributes, each set, cleared and notified on its own: one attribute for both would
# let the sender and the refresh overwrite each other's error (each overwrite notified as new) and a reading
# clear a send's error. SYNC_ERROR holds SYNC_ERRORS (the refresh's own 404 sets audience_not_found there too: the
# same fact, so the same value); AUDIENCE_STATUS_ERROR holds AUDIENCE_STATUS_ERRORS.
SYNC_ERROR = "error"
AUDIENCE_STATUS_ERROR = "audience_status_error"
ERROR_ATTRIBUTES = (SYNC_ERROR, AUDIENCE_STATUS_ERROR)


class StepRepository:
    def __init__(self, settings: Settings):
        self.table = aws.table(settings.steps_table)

    def get(self, step_id: str) -> dict[str, Any]:
        item: dict[str, Any] | None = self.table.get_item(Key={"step_id": step_id}).get("Item")
        if item is None:
            raise NotFound(f"step '{step_id}'", code="step_not_found")
        return item

    def list_all(self) -> list[dict[str, Any]]:
        """Every step, sorted by id: a paginated Scan, for operators (never on a request's path)."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {}
        while True:
            page = self.table.scan(**kwargs)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return sorted(items, key=lambda item: str(item["step_id"]))
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def put_config(self, step_id: str, config: StepConfig) -> dict[str, Any]:
        now = now_ms()
        # DynamoDB takes numbers as Decimal, never float (a filter value of 1.5 would otherwise be a 5xx).
        new_config = json.loads(config.model_dump_json(exclude_none=True), parse_float=Decimal)
        existing: dict[str, Any] | None = self.table.get_item(Key={"step_id": step_id}, ConsistentRead=True).get("Item")
        item: dict[str, Any] = dict(existing or {"step_id": step_id, "status": DRAFT, "created_at": now})
        if existing and any(existing["config"].get(f) != new_config.get(f) for f in _TARGET_FIELDS):
            item["status"] = DRAFT
            for attribute in ERROR_ATTRIBUTES:
                item.pop(attribute, None)
        item["config"] = new_config
        item["updated_at"] = now
        self.table.put_item(Item=item)
        return item

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
        attributes: dict[str, Any] = result["Attributes"]
        return attributes

    def set_error(self, step_id: str, code: str, audience_id: str | None = None, attribute: str = SYNC_ERROR) -> bool:
        """Record a step error in `attribute`; True if it is new (so it is notified once, not on every failed
        request). With `audience_id`, only while the step still targets that audience (a relaunch may have changed
        it)."""
        condition = "attribute_exists(step_id) AND (attribute_not_exists(#e) OR #e <> :e)"
        values: dict[str, Any] = {":e": code, ":now": now_ms()}
        if audience_id is not None:
            condition += " AND audience_id = :aud"
            values[":aud"] = audience_id
        try:
            self.table.update_item(
                Key={"step_id": step_id},
                UpdateExpression="SET #e = :e, updated_at = :now",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#e": attribute},
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def clear_error(
        self, step_id: str, codes: tuple[str, ...], audience_id: str | None = None, attribute: str = SYNC_ERROR
    ) -> None:
        """Remove the step's error in `attribute` if it is one of `codes` (errors the sync itself sets and a
        success disproves). With `audience_id`, only while the step still targets that audience."""
        names: dict[str, Any] = {f":c{i}": code for i, code in enumerate(codes)}
        condition = f"#e IN ({', '.join(names)})"
        if audience_id is not None:
            condition += " AND audience_id = :aud"
            names[":aud"] = audience_id
        try:
            self.table.update_item(
                Key={"step_id": step_id},
                UpdateExpression="REMOVE #e SET updated_at = :now",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#e": attribute},
                ExpressionAttributeValues={**names, ":now": now_ms()},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def launched(self) -> list[dict[str, Any]]:
        """Every active step with its audience: what the audience refresh reads (a Scan; steps are few)."""
        kwargs: dict[str, Any] = {
            "FilterExpression": "#s = :active AND attribute_exists(audience_id)",
            "ProjectionExpression": "step_id, #s, audience_id, audience_created_at, #e, #ae",
            "ExpressionAttributeNames": {"#s": "status", "#e": SYNC_ERROR, "#ae": AUDIENCE_STATUS_ERROR},
            "ExpressionAttributeValues": {":active": ACTIVE},
        }
        items: list[dict[str, Any]] = []
        while True:
            page = self.table.scan(**kwargs)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def step_view(item: dict[str, Any]) -> dict[str, Any]:
    """`error` is the sync's error if any, else the audience status's (the contract's one error); `errors` all."""
    errors = [str(item[attribute]) for attribute in ERROR_ATTRIBUTES if item.get(attribute)]
    return {
        "step_id": item["step_id"],
        "status": item.get("status", DRAFT),
        "config": _from_dynamodb(item.get("config", {})),
        "audience_id": item.get("audience_id"),
        "error": errors[0] if errors else None,
        "errors": errors,
        "created_at": int_or_none(item.get("created_at")),
        "updated_at": int_or_none(item.get("updated_at")),
        "launched_at": int_or_none(item.get("launched_at")),
    }


def sync_target(item: dict[str, Any]) -> SyncTarget:
    config = item["config"]
    return SyncTarget(
        connection_id="linkedin",
        ad_account_id=config["ad_account_id"],
        audience_id=item["audience_id"],
        action=config.get("action", "add"),
        audience_created_at=int_or_none(item.get("audience_created_at")),
    )


def launch_problems(config: dict[str, Any], connection: dict[str, Any]) -> list[dict[str, str]]:
    """Everything that stops a launch, all at once. Pure."""
    problems: list[dict[str, str]] = []
    if connection["status"] != "connected":
        problems.append(
            problem(
                "connection",
                f"linkedin_{connection['status']}",
                "connect a LinkedIn ad account (GET /v1/connections/linkedin/authorize)",
            )
        )
    account_id = config.get("ad_account_id")
    if not account_id:
        problems.append(problem("ad_account_id", "required", "select a LinkedIn ad account"))
    elif connection["status"] == "connected":
        account = next((a for a in connection["ad_accounts"] if a["id"] == account_id), None)
        if account is None:
            problems.append(
                problem(
                    "ad_account_id",
                    "unknown_ad_account",
                    "the connected LinkedIn member has no access to this ad account",
                )
            )
        elif not account["usable"]:
            problems.append(
                problem(
                    "ad_account_id",
                    "ad_account_read_only",
                    f"role {account['role']} cannot manage audiences; ask for Creative Manager or higher",
                )
            )
    audience = config.get("audience") or {}
    if not audience.get("name") and not audience.get("id"):
        problems.append(problem("audience", "required", "enter a name for a new audience or the id of an existing one"))
    if not config.get("match_fields"):
        problems.append(problem("match_fields", "required", "select at least one field to match"))
    return problems


def _from_dynamodb(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; a client gave (and gets back) plain JSON numbers."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamodb(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamodb(v) for v in value]
    return value


def problem(field: str, code: str, message: str) -> dict[str, str]:
    return {"field": field, "code": code, "message": message}


def int_or_none(value: Any) -> int | None:
    return int(value) if value is not None else None

"""Between DynamoDB's numbers (Decimal, which boto3 insists on) and the plain JSON numbers the domain uses."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any


def from_dynamodb(value: Any) -> Any:
    """Decimal -> int or float, through dicts and lists; a set becomes a sorted list."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: from_dynamodb(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_dynamodb(v) for v in value]
    return value


def to_dynamodb(value: Any) -> Any:
    """JSON-like data with DynamoDB's numbers: a float 1.5 would otherwise be a TypeError (a 5xx)."""
    return json.loads(json.dumps(value), parse_float=Decimal)


def scan(table: Any, **kwargs: Any) -> list[dict[str, Any]]:
    """Every item of a paginated Scan (for schedules and operators, never on a request's path), as plain JSON."""
    items: list[dict[str, Any]] = []
    while True:
        page = table.scan(**kwargs)
        items += [from_dynamodb(item) for item in page.get("Items", [])]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

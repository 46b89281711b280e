"""Custom events and purchases: checked and planned at the API, summarised on the profile by the writer. Pure.

Braze keeps, per event name (per `product_id` for purchases), the count, the first and the last time; we keep those
and the occurrences per UTC day of the last `DAYS_KEPT` days, which is what "X in Y days" segment filters read
(Y at most 30). A purchase with `quantity` n counts as n purchases. Every event object is one occurrence: nothing is
deduplicated. Properties travel with the queued operation (for campaign triggers) but are not kept on the profile,
as in Braze by default.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from audience_sync.profiles import values
from audience_sync.profiles.identity import Identity
from audience_sync.profiles.values import BadValue

DAYS_KEPT = 31  # today and the 30 days before it
MAX_PROPERTIES = 256  # Braze: extra properties are ignored
RESERVED_PROPERTIES = ("time", "event_name")
MAX_EVENT_PROPERTIES_BYTES = 100 * 1024
MAX_PURCHASE_PROPERTIES_BYTES = 50 * 1024
MAX_QUANTITY = 100


def _time(obj: dict[str, Any], now: dt.datetime) -> str:
    raw = obj.get("time")
    parsed = values.parse_time(raw) if isinstance(raw, str) else None
    if parsed is None:
        raise BadValue("'time' is required and must be an ISO 8601 time")
    # Braze: a time in the future is taken as now.
    return min(parsed, values.format_time(now))


def _create(obj: dict[str, Any], identity: Identity) -> bool:
    update_only = obj.get("_update_existing_only", False)
    if not isinstance(update_only, bool):
        raise BadValue("'_update_existing_only' must be true or false")
    # Braze: events and purchases never create an alias-only profile, and we never mint a braze_id on request.
    return not update_only and identity.kind in ("external_id", "email", "phone")


def properties(obj: dict[str, Any], limit_bytes: int) -> dict[str, Any] | None:
    raw = obj.get("properties")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise BadValue("'properties' must be an object")
    checked: dict[str, Any] = {}
    for name, value in raw.items():
        if not name or len(name) > values.MAX_NAME_CHARS or name.startswith("$"):
            raise BadValue("property names must be 1 to 255 characters and not start with '$'")
        if name in RESERVED_PROPERTIES:
            raise BadValue(f"'{name}' is a reserved property name")
        if isinstance(value, str) and len(value) > values.MAX_STRING_CHARS:
            raise BadValue(f"property '{name}' is longer than {values.MAX_STRING_CHARS} characters")
        if len(checked) < MAX_PROPERTIES:
            checked[name] = value
    if len(json.dumps(checked, separators=(",", ":")).encode("utf-8")) > limit_bytes:
        raise BadValue(f"'properties' are larger than {limit_bytes // 1024} KB")
    return checked


def plan_event(obj: dict[str, Any], identity: Identity, index: int, now: dt.datetime) -> dict[str, Any]:
    name = obj.get("name")
    if not isinstance(name, str) or not name or len(name) > values.MAX_NAME_CHARS:
        raise BadValue("'name' is required: a string of 1 to 255 characters")
    op: dict[str, Any] = {
        "kind": "event",
        "index": index,
        "identity": identity.key,
        "create": _create(obj, identity),
        "name": name,
        "time": _time(obj, now),
    }
    props = properties(obj, MAX_EVENT_PROPERTIES_BYTES)
    if props:
        op["properties"] = props
    return op


def plan_purchase(obj: dict[str, Any], identity: Identity, index: int, now: dt.datetime) -> dict[str, Any]:
    product = obj.get("product_id")
    if not isinstance(product, str) or not product or len(product) > values.MAX_NAME_CHARS:
        raise BadValue("'product_id' is required: a string of 1 to 255 characters")
    currency = obj.get("currency")
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        raise BadValue("'currency' is required: an ISO 4217 code such as USD")
    price = values.number("price", obj.get("price"))
    quantity = obj.get("quantity", 1)
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
        raise BadValue(f"'quantity' must be a whole number from 1 to {MAX_QUANTITY}")
    op: dict[str, Any] = {
        "kind": "purchase",
        "index": index,
        "identity": identity.key,
        "create": _create(obj, identity),
        "name": product,
        "time": _time(obj, now),
        "quantity": quantity,
        "price": price,
        "currency": currency.upper(),
    }
    props = properties(obj, MAX_PURCHASE_PROPERTIES_BYTES)
    if props:
        op["properties"] = props
    return op


def record(summary: dict[str, Any], time: str, count: int, today: dt.date) -> None:
    """Count `count` occurrences at `time` (normalised) into an event's or a product's summary."""
    summary["count"] = summary.get("count", 0) + count
    if "first" not in summary or time < summary["first"]:
        summary["first"] = time
    if "last" not in summary or time > summary["last"]:
        summary["last"] = time
    oldest = (today - dt.timedelta(days=DAYS_KEPT - 1)).isoformat()
    days = {d: n for d, n in summary.get("days", {}).items() if d >= oldest}
    day = time[:10]
    if day >= oldest:
        days[day] = days.get(day, 0) + count
    summary["days"] = days


def merged(into: dict[str, Any], other: dict[str, Any], today: dt.date) -> dict[str, Any]:
    """Two summaries of one name as one (a merge of two profiles): counts added, the earliest first, the latest
    last, the days added."""
    result = dict(into)
    result["count"] = into.get("count", 0) + other.get("count", 0)
    for key, pick in (("first", min), ("last", max)):
        present = [s[key] for s in (into, other) if key in s]
        if present:
            result[key] = pick(present)
    oldest = (today - dt.timedelta(days=DAYS_KEPT - 1)).isoformat()
    days: dict[str, int] = {}
    for source in (into.get("days", {}), other.get("days", {})):
        for day, n in source.items():
            if day >= oldest:
                days[day] = days.get(day, 0) + n
    result["days"] = days
    return result

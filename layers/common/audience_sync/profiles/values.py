"""Attribute values as Braze defines them (user attributes object), checked and normalised. Pure: no I/O.

Kinds: string (at most 255 characters), number, boolean, time, array (unique values), nested object (at most 100 KB,
keys without "." or a leading "$"), array of objects. A string that reads as a date or a time *is* a time: ISO 8601
(also Braze's `yyyy-MM-ddTHH:mm:ss:SSSZ` and `MM/dd/yyyy`), a date alone meaning midnight UTC, a time without a zone
meaning UTC; a year below 1 or above 3000 stays a string. A string longer than 255 characters is cut to 255, as Braze
does.
A time is stored as `{"$time": "YYYY-MM-DDTHH:MM:SS.mmmZ"}`, the tag nested objects use too, so that a profile read
back knows its times from its strings.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from typing import Any

MAX_STRING_CHARS = 255
MAX_NAME_CHARS = 255
MAX_OBJECT_BYTES = 100 * 1024
MAX_ARRAY_LENGTH = 100  # Braze's ceiling for one array attribute; the stack's default is lower (ArrayMaxLength)
TIME_TAG = "$time"

_TIME = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[T ](?P<clock>\d{2}:\d{2}(?::\d{2}(?:[.:]\d{1,9})?)?) ?(?P<zone>Z|UTC|[+-]\d{2}(?::?\d{2})?)?)?$"
)
_US_DATE = re.compile(r"^(?P<month>\d{1,2})/(?P<day>\d{1,2})/(?P<year>\d{4})$")


class BadValue(ValueError):
    """A value this attribute cannot take; the message names the attribute, never the value (it may be PII)."""


def format_time(moment: dt.datetime) -> str:
    utc = moment.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def format_ms(epoch_ms: int) -> str:
    """An epoch in milliseconds (a Clock's `now_ms`) in the stored time form."""
    return format_time(dt.datetime.fromtimestamp(epoch_ms / 1000, dt.UTC))


def parse_time(text: str) -> str | None:
    """The normalised UTC form of a time string, or None if `text` is not one (then it stays a string)."""
    if len(text) < 8 or not text[0].isdigit():
        return None  # the cheap test first: most strings are not times
    if text[4] != "-":
        us = _US_DATE.match(text)
        if us is None:
            return None
        text = f"{us['year']}-{int(us['month']):02d}-{int(us['day']):02d}"
    match = _TIME.match(text)
    if match is None:
        return None
    year = int(match["date"].split("-")[0])
    if year < 1 or year > 3000:
        return None
    clock = match["clock"] or "00:00:00"
    zone = match["zone"] or "Z"
    if zone == "UTC":
        zone = "Z"
    if len(zone) == 3:
        zone += ":00"
    elif len(zone) == 5 and zone != "Z":
        zone = zone[:3] + ":" + zone[3:]
    fraction = ""
    if clock.count(":") == 3:  # Braze's HH:mm:ss:SSS
        clock, _, fraction = clock.rpartition(":")
        fraction = "." + fraction[:6]
    elif "." in clock:
        clock, fraction = clock.split(".")
        fraction = "." + fraction[:6]
    if clock.count(":") == 1:
        clock += ":00"
    try:
        moment = dt.datetime.fromisoformat(f"{match['date']}T{clock}{fraction}{'+00:00' if zone == 'Z' else zone}")
    except ValueError:
        return None
    return format_time(moment)


def tagged_time(text: str) -> dict[str, str] | None:
    normalised = parse_time(text)
    return None if normalised is None else {TIME_TAG: normalised}


def is_time(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and TIME_TAG in value


def check_name(name: str, what: str = "attribute") -> None:
    if not name or len(name) > MAX_NAME_CHARS:
        raise BadValue(f"{what} names must be 1 to {MAX_NAME_CHARS} characters")


def scalar(name: str, value: Any) -> Any:
    """A string, number, boolean or time attribute value, normalised."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise BadValue(f"'{name}' is not a finite number")
        return value
    if isinstance(value, str):
        time = tagged_time(value)
        if time is not None:
            return time
        return value[:MAX_STRING_CHARS]
    raise BadValue(f"'{name}' has a value of an unsupported type")


def array(name: str, values: Any, max_length: int) -> list[Any]:
    """An array attribute: unique values (the first of equal ones kept), at most `max_length`: past it the oldest
    (first) values are dropped for the newest, as Braze does when an array is full."""
    if not isinstance(values, list):
        raise BadValue(f"'{name}' must be an array")
    if values and all(isinstance(v, dict) for v in values):
        return array_of_objects(name, values)
    unique: list[Any] = []
    seen: set[str] = set()
    for value in values:
        if isinstance(value, dict | list):
            raise BadValue(f"'{name}' mixes objects with other values")
        if isinstance(value, str):  # strings in an array stay strings (Braze's arrays are of strings)
            item: Any = value[:MAX_STRING_CHARS]
        else:
            item = scalar(name, value)
        key = json.dumps(item, sort_keys=True)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique[-max_length:] if len(unique) > max_length else unique


def array_of_objects(name: str, values: list[Any]) -> list[Any]:
    objects = [nested(f"{name}[]", v) for v in values]
    check_size(name, objects)
    return objects


def nested(name: str, value: dict[str, Any]) -> dict[str, Any]:
    """A nested object: keys checked, times tagged, at most MAX_OBJECT_BYTES (checked by the caller at the top)."""
    result: dict[str, Any] = {}
    for key, item in value.items():
        if key == TIME_TAG and len(value) == 1:
            time = tagged_time(item) if isinstance(item, str) else None
            if time is None:
                raise BadValue(f"'{name}' has a '{TIME_TAG}' that is not a time")
            return time
        if not key or len(key) > MAX_NAME_CHARS or "." in key or key.startswith("$"):
            raise BadValue(f"'{name}' has a key that is empty, too long, or holds '.' or a leading '$'")
        result[key] = _nested_value(f"{name}.{key}", item)
    return result


def _nested_value(name: str, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, dict):
        return nested(name, value)
    if isinstance(value, list):
        return [_nested_value(name, v) for v in value]
    if isinstance(value, str):
        return value[:MAX_STRING_CHARS]  # in a nested object only {"$time": ...} is a time
    return scalar(name, value)


def check_size(name: str, value: Any) -> None:
    if len(json.dumps(value, separators=(",", ":")).encode("utf-8")) > MAX_OBJECT_BYTES:
        raise BadValue(f"'{name}' is larger than {MAX_OBJECT_BYTES // 1024} KB")


def number(name: str, value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadValue(f"'{name}' must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise BadValue(f"'{name}' is not a finite number")
    return value


def plain(value: Any) -> Any:
    """A stored value as Braze exports it: times as their ISO strings."""
    if isinstance(value, dict):
        if is_time(value):
            return value[TIME_TAG]
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value

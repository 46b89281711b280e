"""One /users/track attributes object: checked and planned into a queued operation at the API (`plan`), applied to
a profile by the writer (`apply`). Pure: no I/O.

Braze's semantics (user attributes object): a standard field (`first_name`, `email`, `dob`, ...) or any other key, a
custom attribute; `null` unsets; `{"inc": n}` adds n to a number (a missing value counts as 0; a string, array or
object, or a sum past what a JSON number holds, leaves the value as it was); `country` takes ISO-3166 alpha-2 codes,
anything else sets it to null, as Braze does with what it cannot map; a
list replaces an array; `{"add": [..]}` appends (a value already there moves to the end) and `{"remove": [..]}`
deletes, both in one object allowed (add first); an array keeps unique values and, when full, drops its oldest;
an object replaces a nested object unless the object sets `"_merge_objects": true` (then a deep merge, `null`
removing a key). `external_id` and `user_alias` cannot be unset; a second identifier (`braze_id`, `user_alias`)
beside the one that names the user is ignored, while `email` and `phone` are fields.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
from collections.abc import Callable
from typing import Any

from audience_sync.profiles import values
from audience_sync.profiles.identity import Identity
from audience_sync.profiles.values import BadValue

_GENDERS = {"M", "F", "O", "N", "P", "U"}
_SUBSCRIPTION_STATES = {"opted_in", "subscribed", "unsubscribed"}
TEXT_FIELDS = ("first_name", "last_name", "home_city", "language", "time_zone", "image_url", "phone")
# Braze's other profile fields that clients send (Segment's updateUserProfile does): kept as fields, as sent, never
# as custom attributes. We send no messages, so nothing reads them but an export.
OTHER_FIELDS = (
    "date_of_first_session",
    "date_of_last_session",
    "marked_email_as_spam_at",
    "email_open_tracking_disabled",
    "email_click_tracking_disabled",
    "facebook",
    "twitter",
    "push_tokens",
    "subscription_groups",
)
STANDARD_FIELDS = (
    *TEXT_FIELDS,
    "email",
    "country",
    "dob",
    "gender",
    "email_subscribe",
    "push_subscribe",
    "current_location",
    *OTHER_FIELDS,
)
SKIP = object()  # a field value we pass over without refusing the object
# Keys of an attributes object that are not attributes.
CONTROL_KEYS = {"external_id", "user_alias", "braze_id", "_update_existing_only", "_merge_objects", "app_id"}


def flag(obj: dict[str, Any], key: str, default: bool) -> bool:
    value = obj.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise BadValue(f"'{key}' must be true or false")
    return value


def creates_by_default(identity: Identity) -> bool:
    """Braze: an unknown external id, email or phone becomes a new profile; an alias only when asked
    (`_update_existing_only: false`); a braze_id never (we do not mint ids on request)."""
    return identity.kind in ("external_id", "email", "phone")


def plan(obj: dict[str, Any], identity: Identity, index: int, max_array: int) -> dict[str, Any]:
    """The queued operation for one attributes object, or BadValue naming what is wrong."""
    create = identity.kind != "braze_id" and not flag(obj, "_update_existing_only", not creates_by_default(identity))
    merge_objects = flag(obj, "_merge_objects", False)
    op: dict[str, Any] = {"kind": "attributes", "index": index, "identity": identity.key, "create": create}
    for name, value in obj.items():
        if name in CONTROL_KEYS:
            continue
        if name in STANDARD_FIELDS:
            checked = standard_field(name, value)
            if checked is not SKIP:
                op.setdefault("fields", {})[name] = checked
        else:
            values.check_name(name)
            _plan_custom(op, name, value, merge_objects, max_array)
    if identity.kind in ("email", "phone"):
        op.setdefault("fields", {}).setdefault(identity.kind, obj[identity.kind].strip())
    return op


def _plan_custom(op: dict[str, Any], name: str, value: Any, merge_objects: bool, max_array: int) -> None:
    """One custom attribute into the operation's part for its kind of change."""
    if value is None:
        op.setdefault("unset", []).append(name)
    elif isinstance(value, list):
        op.setdefault("set", {})[name] = values.array(name, value, max_array)
    elif not isinstance(value, dict) or values.is_time(value):
        op.setdefault("set", {})[name] = values.scalar(name, value)
    elif len(value) == 1 and "inc" in value:
        op.setdefault("inc", {})[name] = values.number(name, value["inc"])
    elif value and set(value) <= {"add", "remove"}:
        if "add" in value:
            op.setdefault("add", {})[name] = values.array(name, value["add"], max_array)
        if "remove" in value:
            op.setdefault("remove", {})[name] = values.array(name, value["remove"], values.MAX_ARRAY_LENGTH)
    else:
        checked = values.nested(name, value)
        values.check_size(name, checked)
        op.setdefault("merge" if merge_objects else "set", {})[name] = checked


def _text(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        raise BadValue(f"'{name}' must be a string")
    return value[: values.MAX_STRING_CHARS]


def _country(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        raise BadValue("'country' must be a string")
    code = value.strip()
    # Braze maps some country names to codes on a best effort; we keep codes only (no name table to maintain)
    return code.upper() if len(code) == 2 and code.isascii() and code.isalpha() else None


def _other(name: str, value: Any) -> Any:
    values.check_size(name, value)
    return value


def _email(name: str, value: Any) -> Any:
    if not isinstance(value, str) or "@" not in value or len(value) > values.MAX_STRING_CHARS:
        raise BadValue("'email' must be an email address")
    return value.strip()


def _dob(name: str, value: Any) -> Any:
    try:
        return dt.date.fromisoformat(value[:10]).isoformat()
    except (TypeError, ValueError):
        raise BadValue("'dob' must be a date, YYYY-MM-DD") from None


def _gender(name: str, value: Any) -> Any:
    # Braze keeps M, F, O, N, P or nothing; clients send other words (Segment maps "male" to M but passes anything
    # else through), which is no reason to refuse the rest of the object: the field is passed over.
    if not isinstance(value, str):
        raise BadValue("'gender' must be a string")
    return value.upper() if value.upper() in _GENDERS else SKIP


def _subscription(name: str, value: Any) -> Any:
    if value not in _SUBSCRIPTION_STATES:
        raise BadValue(f"'{name}' must be opted_in, subscribed or unsubscribed")
    return value


def _location(name: str, value: Any) -> Any:
    if not isinstance(value, dict) or set(value) != {"latitude", "longitude"}:
        raise BadValue("'current_location' must be an object with 'latitude' and 'longitude'")
    return {key: values.number(key, value[key]) for key in ("latitude", "longitude")}


_FIELD_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    **dict.fromkeys(TEXT_FIELDS, _text),
    **dict.fromkeys(OTHER_FIELDS, _other),
    "email": _email,
    "country": _country,
    "dob": _dob,
    "gender": _gender,
    "email_subscribe": _subscription,
    "push_subscribe": _subscription,
    "current_location": _location,
}


def standard_field(name: str, value: Any) -> Any:
    """A standard field's value, checked; None unsets it; SKIP passes it over."""
    return None if value is None else _FIELD_CHECKS[name](name, value)


def apply(profile: dict[str, Any], op: dict[str, Any], max_array: int) -> int:
    """Apply a planned attributes operation to a profile document; the number of data points written (one per
    attribute or field the object sets, unsets or changes)."""
    fields = profile.setdefault("fields", {})
    custom = profile.setdefault("custom", {})
    points = 0
    for name, value in op.get("fields", {}).items():
        if value is None:
            fields.pop(name, None)
        else:
            fields[name] = value
        points += 1
    for name, value in op.get("set", {}).items():
        custom[name] = copy.deepcopy(value)
        points += 1
    for name in op.get("unset", ()):
        custom.pop(name, None)
        points += 1
    for name, amount in op.get("inc", {}).items():
        current = custom.get(name, 0)
        if not isinstance(current, int | float) or isinstance(current, bool):
            continue  # Braze increments numbers; a string, array or object is not lost to a counter
        total = current + amount
        if isinstance(total, float) and not math.isfinite(total):
            continue  # past what a JSON number holds: the value stays as it was
        custom[name] = total
        points += 1
    for name in set(op.get("add", {})) | set(op.get("remove", {})):
        current = custom.get(name)
        items = list(current) if isinstance(current, list) else []
        for value in op.get("add", {}).get(name, ()):
            if value in items:
                items.remove(value)
            items.append(value)
        removed = op.get("remove", {}).get(name, ())
        items = [v for v in items if v not in removed]
        custom[name] = items[-max_array:] if len(items) > max_array else items
        points += 1
    for name, value in op.get("merge", {}).items():
        current = custom.get(name)
        mergeable = isinstance(current, dict) and not values.is_time(current)
        custom[name] = deep_merge(current, value) if mergeable else _without_nulls(value)
        points += 1
    return points + _if_empty(fields, custom, op)


def _if_empty(fields: dict[str, Any], custom: dict[str, Any], op: dict[str, Any]) -> int:
    """An import's `set_if_empty` (imports/mapping.py): written only where the profile has no value (none, or an
    empty text or array)."""
    points = 0
    for part, into in (("fields_if_empty", fields), ("set_if_empty", custom)):
        for name, value in op.get(part, {}).items():
            if into.get(name) in (None, "", []):
                into[name] = copy.deepcopy(value)
                points += 1
    return points


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in update.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and not values.is_time(value) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _without_nulls(value: dict[str, Any]) -> dict[str, Any]:
    return {k: (_without_nulls(v) if isinstance(v, dict) else v) for k, v in value.items() if v is not None}

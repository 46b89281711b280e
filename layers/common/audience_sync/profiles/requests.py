"""The other user routes planned: /users/alias/new, /users/identify, /users/merge, /users/delete. Pure.

Each item is checked before anything is queued: one bad item is a 400 naming it (`errors`: `{"index", "type"}`) and
nothing is applied. Limits are Braze's: 50 items a request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from audience_sync.core.errors import Invalid
from audience_sync.profiles.identity import (
    BadIdentifier,
    alias_key,
    alias_of,
    braze_id_key,
    identity_of,
)
from audience_sync.profiles.operations import Queued, encode

MAX_ITEMS = 50


def _items(body: dict[str, Any], name: str, required: bool = True) -> list[Any]:
    value = body.get(name)
    if value is None:
        if required:
            raise Invalid("invalid_request", f"'{name}' is required")
        return []
    if not isinstance(value, list):
        raise Invalid("invalid_request", f"'{name}' must be an array")
    return value


def _each(items: list[Any], plan: Callable[[Any], dict[str, Any]], limit: int = MAX_ITEMS) -> list[Queued]:
    if len(items) > limit:
        raise Invalid("max_input_length", f"at most {limit} items per request", [{"limit": limit}])
    queued, errors = [], []
    for index, item in enumerate(items):
        try:
            queued.append(encode(plan(item)))
        except BadIdentifier as error:
            errors.append({"index": index, "type": str(error)})
    if errors:
        raise Invalid("invalid_request", "some items are not valid; nothing was applied", errors)
    return queued


def _external_id(value: Any) -> str:
    return identity_of({"external_id": value}).key


def plan_aliases(body: dict[str, Any]) -> list[Queued]:
    """/users/alias/new `{"user_aliases": [{"external_id"?, "alias_name", "alias_label"}]}`: an alias for an
    existing user, or without `external_id` a new alias-only user."""

    def plan(item: Any) -> dict[str, Any]:
        if not isinstance(item, dict):
            raise BadIdentifier("each alias must be an object")
        label, name = alias_of({k: item.get(k) for k in ("alias_name", "alias_label")})
        external_id = item.get("external_id")
        identity = _external_id(external_id) if external_id is not None else alias_key(label, name)
        return {"kind": "alias", "identity": identity, "alias": [label, name]}

    return _each(_items(body, "user_aliases"), plan)


def plan_identify(body: dict[str, Any]) -> list[Queued]:
    """/users/identify: `aliases_to_identify` `[{"external_id", "user_alias"}]`, `emails_to_identify` `[{"external_id",
    "email", "prioritization"?}]`, `phone_numbers_to_identify` `[{"external_id", "phone", ...}]`, at most 50 in all;
    `merge_behavior` `merge` (Braze's default since 2023) or `none`."""
    behavior = body.get("merge_behavior", "merge")
    if behavior not in ("none", "merge"):
        raise Invalid("invalid_request", "'merge_behavior' must be 'none' or 'merge'")
    entries = [("alias", item) for item in _items(body, "aliases_to_identify", required=False)]
    entries += [("email", item) for item in _items(body, "emails_to_identify", required=False)]
    entries += [("phone", item) for item in _items(body, "phone_numbers_to_identify", required=False)]
    if not entries:
        raise Invalid(
            "invalid_request", "'aliases_to_identify', 'emails_to_identify' or 'phone_numbers_to_identify' is required"
        )

    def plan(entry: Any) -> dict[str, Any]:
        kind, item = entry
        if not isinstance(item, dict):
            raise BadIdentifier("each item must be an object with 'external_id' and the identifier to identify")
        operation: dict[str, Any] = {
            "kind": "identify",
            "identity": _external_id(item.get("external_id")),
            "merge": behavior == "merge",
        }
        if kind == "alias":
            label, name = alias_of(item.get("user_alias"))
            operation.update(source=alias_key(label, name), alias=[label, name])
        else:
            operation["source"] = identity_of({kind: item.get(kind)}).key
        return operation

    return _each(entries, plan)


# Braze's message (its /users/merge page).
_BAD_IDENTIFIER = (
    "identifiers must be objects with an 'external_id' property that is a string, 'user_alias' property that is an "
    "object, 'email' property that is a string, or 'phone' property that is a string"
)


def _named(value: Any) -> str:
    """The identity key of `identifier_to_merge` / `identifier_to_keep`: an external id, an alias, an email or a
    phone (Braze's `prioritization` beside an email or phone is accepted; the profile that holds it answers)."""
    if not isinstance(value, dict):
        raise BadIdentifier(_BAD_IDENTIFIER)
    named = set(value) - {"prioritization"}
    if len(named) != 1 or not named <= {"external_id", "user_alias", "email", "phone"}:
        raise BadIdentifier(_BAD_IDENTIFIER)
    return identity_of({k: v for k, v in value.items() if k != "prioritization"}).key


def plan_merges(body: dict[str, Any]) -> list[Queued]:
    """/users/merge `{"merge_updates": [{"identifier_to_merge", "identifier_to_keep"}]}`."""

    def plan(item: Any) -> dict[str, Any]:
        if not isinstance(item, dict) or set(item) != {"identifier_to_merge", "identifier_to_keep"}:
            raise BadIdentifier("'merge_updates' must only have 'identifier_to_merge' and 'identifier_to_keep'")
        keep = _named(item["identifier_to_keep"])
        merged = _named(item["identifier_to_merge"])
        if keep == merged:
            raise BadIdentifier("a user cannot be merged into itself")
        return {"kind": "merge", "identity": keep, "from": merged}

    return _each(_items(body, "merge_updates"), plan)


def plan_deletes(body: dict[str, Any]) -> list[Queued]:
    """/users/delete `{"external_ids"?, "user_aliases"?, "braze_ids"?}`: at most 50 in all."""
    identities: list[Any] = []
    for name in ("external_ids", "user_aliases", "braze_ids"):
        identities += [(name, item) for item in _items(body, name, required=False)]
    if not identities:
        raise Invalid("invalid_request", "one of 'external_ids', 'user_aliases' or 'braze_ids' is required")

    def plan(entry: Any) -> dict[str, Any]:
        name, item = entry
        if name == "external_ids":
            identity = _external_id(item)
        elif name == "user_aliases":
            identity = alias_key(*alias_of(item))
        else:
            identity = braze_id_key(identity_of({"braze_id": item}).key[2:])
        return {"kind": "delete", "identity": identity}

    return _each(identities, plan)


# Braze's single identifiers of /users/export/ids, and the /users/track identifier each is
_SINGLE_EXPORT_IDENTIFIERS = {"braze_id": "braze_id", "email_address": "email", "phone": "phone"}


def export_identities(body: dict[str, Any]) -> list[tuple[str, str]]:
    """/users/export/ids: (as the answer names it, identity key) of each `external_ids` / `user_aliases` item, at
    most 50 in all, and of `braze_id`, `email_address` or `phone` (one string each, as Braze takes them; an email
    or phone names the user that last took it: docs/profiles.md)."""
    named: list[tuple[str, str]] = []
    try:
        for item in _items(body, "external_ids", required=False):
            named.append((str(item), identity_of({"external_id": item}).key))
        for item in _items(body, "user_aliases", required=False):
            label, name = alias_of(item)
            named.append((f"{label}:{name}", alias_key(label, name)))
        for field, identifier in _SINGLE_EXPORT_IDENTIFIERS.items():
            if body.get(field) is not None:
                if not isinstance(body[field], str):
                    raise BadIdentifier(f"'{field}' must be a string")
                named.append((body[field], identity_of({identifier: body[field]}).key))
    except BadIdentifier as error:
        raise Invalid("invalid_request", str(error)) from None
    if len(named) > MAX_ITEMS:
        raise Invalid("max_input_length", f"at most {MAX_ITEMS} identifiers per request", [{"limit": MAX_ITEMS}])
    if not named:
        raise Invalid(
            "invalid_request", "'external_ids', 'user_aliases', 'braze_id', 'email_address' or 'phone' is required"
        )
    return named

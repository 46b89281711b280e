"""The partner cohort import's bodies planned (contract v2 §3, Braze's cohort import). Pure.

`/cohorts` names a cohort; `/cohorts/users` turns membership deltas into one queued profile operation per user
(kind "cohort"), so a cohort change takes the path every profile write takes (the FIFO profile queue and the
writer: ordered with the user's other writes, applied exactly once) and never creates a user: ids of unknown users
are ignored and counted by the writer.

Deterministic within one request: ids are collected from every change object in order, duplicates collapse, and
removals apply after additions, so an id both added and removed in one request ends outside the cohort. An id is
matched as written: a user named by its external id in one change and by an alias in another is two ids here, each
applied in its own order (as for /users/track, docs/profiles.md "Order").
`device_ids` match anonymous users by device in Braze; profiles here hold no devices, so they are ignored and
counted like unknown users.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from audience_sync.core.errors import Invalid
from audience_sync.profiles.identity import BadIdentifier, alias_key, alias_of, identity_of
from audience_sync.profiles.operations import Queued, encode

MAX_IDS = 1000
TOO_MANY_IDS = "Only 1,000 user_ids, device_ids, and aliases are allowed per request"  # Braze's words
_CHANGE_KEYS = {"user_ids", "device_ids", "aliases", "should_remove"}
MAX_COHORT_ID_CHARS = 255


@dataclass(frozen=True)
class CohortDefinition:
    partner: str
    cohort_id: str
    name: str
    created_at: str  # ISO 8601, as sent


@dataclass(frozen=True)
class CohortChanges:
    cohort: str  # "<partner>:<cohort_id>", the membership's name on a profile
    operations: list[Queued]  # one per user, in the order first named
    ignored_device_ids: int


def cohort_key(partner: str, cohort_id: str) -> str:
    return f"{partner}:{cohort_id}"


def _cohort_id(body: dict[str, Any]) -> str:
    cohort_id = body.get("cohort_id")
    if not isinstance(cohort_id, str) or not cohort_id.strip() or len(cohort_id) > MAX_COHORT_ID_CHARS:
        raise Invalid("invalid_request", "cohort_id must be a valid string")  # Braze's words
    return cohort_id


def plan_definition(partner: str, body: dict[str, Any]) -> CohortDefinition:
    """`/cohorts` `{cohort_id, name, created_at}`: all required."""
    cohort_id = _cohort_id(body)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise Invalid("invalid_request", "name must be a non-empty string")
    created_at = body.get("created_at")
    try:
        if not isinstance(created_at, str):
            raise ValueError
        dt.datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid("invalid_request", "created_at must be an ISO 8601 time") from None
    return CohortDefinition(partner, cohort_id, name[:MAX_COHORT_ID_CHARS], created_at)


def plan_changes(partner: str, body: dict[str, Any]) -> CohortChanges:
    """`/cohorts/users` `{cohort_id, cohort_changes: [{user_ids?, device_ids?, aliases?, should_remove?}]}`. An
    empty `cohort_changes` plans nothing (Segment sends one to test its credentials)."""
    cohort = cohort_key(partner, _cohort_id(body))
    changes = body.get("cohort_changes")
    if not isinstance(changes, list):
        raise Invalid("invalid_request", "cohort_changes must be an array of objects")
    membership: dict[str, bool] = {}  # identity key -> member, in the order first named
    removed: set[str] = set()
    ids = devices = 0
    for index, change in enumerate(changes):
        if not isinstance(change, dict) or not set(change) <= _CHANGE_KEYS:
            raise Invalid("invalid_request", f"cohort_changes[{index}] must be an object of {sorted(_CHANGE_KEYS)}")
        remove = change.get("should_remove", False)
        if not isinstance(remove, bool):
            raise Invalid("invalid_request", f"cohort_changes[{index}].should_remove must be true or false")
        keys = _identities(change, index)
        device_ids = _strings(change, "device_ids", index)
        ids += len(keys) + len(device_ids)
        if ids > MAX_IDS:
            raise Invalid("max_input_length", TOO_MANY_IDS, [{"limit": MAX_IDS}])
        devices += len(device_ids)
        for key in keys:
            membership.setdefault(key, True)
            if remove:
                removed.add(key)  # removals after additions, whatever the order of the change objects
    operations = [
        encode({"kind": "cohort", "identity": key, "create": False, "cohort": cohort, "member": key not in removed})
        for key in membership
    ]
    return CohortChanges(cohort, operations, devices)


def _list(change: dict[str, Any], name: str, index: int) -> list[Any]:
    value = change.get(name, [])
    if not isinstance(value, list):
        raise Invalid("invalid_request", f"cohort_changes[{index}].{name} must be an array")
    return value


def _strings(change: dict[str, Any], name: str, index: int) -> list[str]:
    values = _list(change, name, index)
    if not all(isinstance(v, str) and v.strip() and len(v) <= MAX_COHORT_ID_CHARS for v in values):
        raise Invalid("invalid_request", f"cohort_changes[{index}].{name} must hold non-empty strings")
    return values


def _identities(change: dict[str, Any], index: int) -> list[str]:
    try:
        keys = [identity_of({"external_id": user_id}).key for user_id in _strings(change, "user_ids", index)]
    except BadIdentifier as error:
        raise Invalid("invalid_request", f"cohort_changes[{index}].user_ids: {error}") from None
    for alias in _list(change, "aliases", index):
        try:
            keys.append(alias_key(*alias_of(alias)))
        except BadIdentifier:
            raise Invalid(
                "invalid_request", f"cohort_changes[{index}].aliases must hold {{alias_name, alias_label}} objects"
            ) from None
    return keys

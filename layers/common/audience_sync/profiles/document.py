"""A profile's stored document and its view in Braze's export shape. Pure.

Document: `braze_id`, `external_id` (absent for an anonymous profile), `aliases` ([label, name] pairs),
`created_at`, `updated_at`, `fields` (standard fields), `custom` (custom attributes, times tagged). Events and
purchases are separate items (profiles/activity.py summaries), so a profile with hundreds of event names stays small.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

from audience_sync.profiles.attributes import STANDARD_FIELDS
from audience_sync.profiles.values import plain

PROFILE = "p"  # the sort key of a profile (and of a pointer)
EVENT_PREFIX = "e#"
PURCHASE_PREFIX = "$#"
# DynamoDB takes items of 400 KB; the rest is for keys, tokens and the JSON of the other attributes.
MAX_PROFILE_BYTES = 350 * 1024

# Braze's names of what /users/export/ids can return (contract v2 §2), in Braze's order.
EXPORT_FIELDS = (
    "external_id",
    "braze_id",
    "user_aliases",
    "first_name",
    "last_name",
    "email",
    "phone",
    "country",
    "home_city",
    "dob",
    "gender",
    "language",
    "time_zone",
    "email_subscribe",
    "push_subscribe",
    "image_url",
    "custom_attributes",
    "custom_events",
    "purchases",
    "created_at",
)
# Braze's other export fields (its docs' list): accepted in fields_to_export, not held here, so left out
BRAZE_ONLY_FIELDS = frozenset(
    {
        "apps",
        "attributed_campaign",
        "attributed_source",
        "attributed_adgroup",
        "attributed_ad",
        "devices",
        "last_coordinates",
        "push_tokens",
        "random_bucket",
        "total_revenue",
        "uninstalled_at",
        "campaigns_received",
        "canvases_received",
        "cards_clicked",
    }
)
# the exported names that are standard fields of the profile (the rest: ids, aliases, attributes, activity, times)
_FROM_FIELDS = frozenset(EXPORT_FIELDS) & frozenset(STANDARD_FIELDS)


def home_pk(identity_key: str) -> str:
    return "u#" + identity_key


MAX_HOPS = 3


def pointer_to(home: str, profile: dict[str, Any]) -> dict[str, Any]:
    """A pointer's document: the profile's key, its braze_id (a pointer left behind by a deleted profile must not
    name the next profile with that key: an external id may be used again), and whether it is identified."""
    return {"to": home, "b": profile["braze_id"], "x": "external_id" in profile}


def follow(entry: Any, read: Callable[[str], Any]) -> str | None:
    """The key of the live profile an identity's item leads to: itself if a profile, else through its pointers
    (an anonymous profile merged away leaves a pointer at its key), as long as each leads to the braze_id it names."""
    expected = None
    for _ in range(MAX_HOPS):
        if entry is None:
            return None
        doc = entry.doc
        if "to" not in doc:
            return str(entry.pk) if expected in (None, doc.get("braze_id")) else None
        expected = doc.get("b")
        entry = read(doc["to"])
    return None


def new_profile(braze_id: str, external_id: str | None, now: str) -> dict[str, Any]:
    doc: dict[str, Any] = {"braze_id": braze_id, "aliases": [], "created_at": now, "updated_at": now}
    if external_id is not None:
        doc["external_id"] = external_id
    doc["fields"], doc["custom"] = {}, {}
    return doc


def event_sk(name: str) -> str:
    return EVENT_PREFIX + name


def purchase_sk(product_id: str) -> str:
    return PURCHASE_PREFIX + product_id


def export_view(
    profile: dict[str, Any],
    activity_items: Iterable[tuple[str, dict[str, Any]]],
    fields: Iterable[str] | None = None,
) -> dict[str, Any]:
    """The user object of /users/export/ids: Braze's field names, times as ISO strings, only `fields` if given
    (a field the profile has no value for is left out, as Braze does)."""
    wanted = set(EXPORT_FIELDS if fields is None else fields)
    view: dict[str, Any] = {}
    if "external_id" in wanted and "external_id" in profile:
        view["external_id"] = profile["external_id"]
    if "braze_id" in wanted:
        view["braze_id"] = profile["braze_id"]
    if "user_aliases" in wanted and profile.get("aliases"):
        view["user_aliases"] = [{"alias_name": name, "alias_label": label} for label, name in profile["aliases"]]
    for name, value in profile.get("fields", {}).items():
        if name in wanted and name in _FROM_FIELDS:
            view[name] = value
    if "custom_attributes" in wanted and profile.get("custom"):
        view["custom_attributes"] = plain(profile["custom"])
    if wanted & {"custom_events", "purchases"}:
        events: list[dict[str, Any]] = []
        purchases: list[dict[str, Any]] = []
        for sk, summary in activity_items:
            entry = {"name": sk[2:], "first": summary["first"], "last": summary["last"], "count": summary["count"]}
            (events if sk.startswith(EVENT_PREFIX) else purchases).append(entry)
        if "custom_events" in wanted and events:
            view["custom_events"] = sorted(events, key=lambda e: e["name"])
        if "purchases" in wanted and purchases:
            view["purchases"] = sorted(purchases, key=lambda e: e["name"])
    if "created_at" in wanted:
        view["created_at"] = profile["created_at"]
    return view


def apply_membership(profile: dict[str, Any], operation: dict[str, Any]) -> int:
    """A partner cohort joined or left (cohorts/requests.py); the data points written (1, or 0 if nothing changed)."""
    cohort, member = operation["cohort"], operation["member"]
    if member == (cohort in profile.get("cohorts", ())):
        return 0
    if member:
        profile.setdefault("cohorts", []).append(cohort)
    else:
        profile["cohorts"].remove(cohort)
    return 1


def merge_into(target: dict[str, Any], source: dict[str, Any]) -> None:
    """Braze's merge of one profile into another: a field or custom attribute the target lacks is taken from the
    source; aliases and cohort memberships are joined; the target keeps its ids and creation time."""
    for part in ("fields", "custom"):
        into = target.setdefault(part, {})
        for name, value in source.get(part, {}).items():
            into.setdefault(name, copy.deepcopy(value))
    for alias in source.get("aliases", []):
        if alias not in target.setdefault("aliases", []):
            target["aliases"].append(alias)
    for cohort in source.get("cohorts", []):  # a partner's cohorts follow the user (Braze keeps the merged one's)
        if cohort not in target.setdefault("cohorts", []):
            target["cohorts"].append(cohort)

"""Users as profiles describe them, for the sync steps (contract v2 §5): profiles read as entrants
(profiles/entrants.py), their identifiers as the sync queue carries them, and thin webhook users completed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from audience_sync.core.users import ALL_MATCH_FIELDS, FIELD_KEYS, MatchField, prepare_user
from audience_sync.profiles.document import PROFILE, home_pk
from audience_sync.profiles.entrants import ProfileUser, from_profile
from audience_sync.profiles.ports import ProfileStore
from audience_sync.sources.webhook.models import WebhookUser

__all__ = ["ProfileUser", "ProfileUsers", "complete", "for_step", "from_profile", "identifiers"]


def identifiers(doc: Mapping[str, Any]) -> dict[str, Any] | None:
    """A profile's every identifier as the sync queue carries them (the email hashed), or None if it has none: what
    a deletion tells the steps that took users from webhooks (segments/membership.py, DELETED)."""
    prepared = prepare_user(from_profile(doc), ALL_MATCH_FIELDS)
    return None if isinstance(prepared, str) else dict(prepared)


def for_step(found: Mapping[str, Any], match_fields: frozenset[MatchField]) -> dict[str, Any] | None:
    """Of a user's queued identifiers, those of a step's match fields; None if none is left."""
    keep = {"x"} | {key for field in match_fields for key in FIELD_KEYS[field]}
    kept = {k: v for k, v in found.items() if k in keep}
    return kept if len(kept) > 1 else None


class ProfileUsers:
    def __init__(self, store: ProfileStore):
        self.store = store

    def by_home(self, homes: Iterable[str]) -> dict[str, ProfileUser]:
        """The profiles stored under these keys (a key whose profile is gone is absent)."""
        found = self.store.get([(home, PROFILE) for home in dict.fromkeys(homes)])
        return {key[0]: from_profile(item.doc) for key, item in found.items() if "braze_id" in item.doc}

    def by_external_id(self, external_ids: Iterable[str]) -> dict[str, ProfileUser]:
        """The identified profiles of these external ids (their key is `u#x:<external id>`)."""
        homes = {home_pk("x:" + external_id): external_id for external_id in external_ids}
        return {homes[home]: user for home, user in self.by_home(homes).items()}


def _identified(user: WebhookUser) -> bool:
    """A webhook user that carries a match field of its own."""
    named = user.first_name and user.last_name
    return bool(user.email or named or user.android_gaid)


def complete(users: list[WebhookUser], profiles: ProfileUsers) -> list[WebhookUser]:
    """A webhook's users with only an id (no email, no first and last name, no advertising id) completed from their
    profiles: the identifiers and attributes they did not send (what they sent wins). Users with no profile stay as
    sent; the others are not read (a webhook that carries its users' identifiers costs no read)."""
    thin = [u.external_id for u in users if not _identified(u)]
    if not thin:
        return users
    found = profiles.by_external_id(thin)
    completed = []
    for user in users:
        profile = found.get(user.external_id) if not _identified(user) else None
        if profile is None:
            completed.append(user)
            continue
        completed.append(
            user.model_copy(
                update={
                    "email": user.email or profile.email,
                    "first_name": user.first_name or profile.first_name,
                    "last_name": user.last_name or profile.last_name,
                    "android_gaid": user.android_gaid or profile.android_gaid,
                    "attributes": {**profile.attributes, **user.attributes},
                }
            )
        )
    return completed

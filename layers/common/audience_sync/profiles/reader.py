"""Profiles read back: /users/export/ids. Strongly consistent reads, so a write the writer has applied is seen."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from audience_sync.core.errors import Invalid
from audience_sync.profiles.document import BRAZE_ONLY_FIELDS, EXPORT_FIELDS, PROFILE, export_view, follow, home_pk
from audience_sync.profiles.ports import Item, ProfileStore


def fields_to_export(body: dict[str, Any]) -> list[str] | None:
    """The fields asked for (None: all of them). Braze's fields that this platform does not hold (devices, push
    tokens, total revenue, ...) are accepted and left out of the user objects, which Braze's clients read as null
    or empty; a name Braze does not know is a 400 that lists the known ones."""
    fields = body.get("fields_to_export")
    if fields is None:
        return None
    if not isinstance(fields, list) or not fields or not all(isinstance(f, str) for f in fields):
        raise Invalid("invalid_request", "'fields_to_export' must be a non-empty array of field names")
    unknown = sorted(set(fields) - set(EXPORT_FIELDS) - BRAZE_ONLY_FIELDS)
    if unknown:
        raise Invalid(
            "invalid_request",
            f"unknown fields_to_export: {', '.join(unknown)[:200]}; known: {', '.join(EXPORT_FIELDS)}",
        )
    return fields


class ProfileReader:
    def __init__(self, store: ProfileStore):
        self.store = store

    def _read(self, pk: str) -> Item | None:
        return self.store.get([(pk, PROFILE)]).get((pk, PROFILE))

    def home_of(self, identity: str) -> str | None:
        return follow(self._read(home_pk(identity)), self._read)

    def export(self, named: Sequence[tuple[str, str]], fields: list[str] | None) -> dict[str, Any]:
        """`named`: (the identifier as the caller wrote it, its identity key)."""
        users: list[dict[str, Any]] = []
        invalid: list[str] = []
        homes: set[str] = set()
        for label, identity in named:
            home = self.home_of(identity)
            if home is not None and home in homes:
                continue  # two identifiers of one user: the user once
            items = self.store.items_of(home) if home is not None else []
            profile = next((i for i in items if i.sk == PROFILE and "braze_id" in i.doc), None)
            if profile is None:
                invalid.append(label)
                continue
            homes.add(profile.pk)
            activity = [(i.sk, i.doc) for i in items if i.sk != PROFILE]
            users.append(export_view(profile.doc, activity, fields))
        return {"message": "success", "users": users, "invalid_user_ids": invalid}

"""A profile as a user entering a sync step (pipeline/ingest.py, Entrant): its match fields (email, first and last
name, the Android advertising id) and the attributes entry filters read (consent), from the profile's document.

Where a profile holds them: `email`, `first_name`, `last_name` are standard fields; the advertising id is the
custom attribute `android_gaid` (Braze keeps devices apart; a partner that sends it sends it as an attribute);
anything an entry filter names is looked up among the standard fields, then the custom attributes. Used by the
steps that follow segments (sources/segment/) and by campaigns that put users into a step (campaigns/delivery.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from audience_sync.core.filters import MISSING
from audience_sync.profiles.values import plain

GAID_ATTRIBUTE = "android_gaid"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


@dataclass(frozen=True)
class ProfileUser:
    """A profile as a user entering a step (pipeline/ingest.py, Entrant)."""

    external_id: str  # the braze_id for an anonymous profile: what errors are traced back to
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    android_gaid: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def lookup(self, name: str) -> Any:
        return self.attributes.get(name, MISSING)


def from_profile(doc: Mapping[str, Any]) -> ProfileUser:
    fields, custom = doc.get("fields", {}), plain(doc.get("custom", {}))
    return ProfileUser(
        external_id=str(doc.get("external_id") or doc["braze_id"]),
        email=_text(fields.get("email")),
        first_name=_text(fields.get("first_name")),
        last_name=_text(fields.get("last_name")),
        android_gaid=_text(custom.get(GAID_ATTRIBUTE)),
        attributes={**custom, **plain(fields)},
    )

"""Turns a user into the identifiers destinations match on (the queued user). Pure functions: no AWS, no I/O.

Email: trimmed, lower-cased, validated, then SHA-256 as lowercase hex; a value that already is 64 hex
characters is taken as a pre-hashed SHA-256 and passed through (lower-cased). Names: trimmed and cut to
NAME_MAX_CHARS. Android GAID: as given. Raw emails never leave this module.
"""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum
from typing import Any, NotRequired, Protocol  # pydantic needs this TypedDict on Python < 3.12

from typing_extensions import TypedDict

# LinkedIn's limit on names (docs/integrations/linkedin.md, "Elements"): the only destination that matches on names.
NAME_MAX_CHARS = 35
_SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")
# Deliberately simple: one @, a non-empty local part, a dotted domain, no whitespace. Full RFC 5322
# parsing would accept addresses no ad platform can match and costs far more per user on the hot path.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


class MatchField(StrEnum):
    EMAIL = "email"
    FIRST_LAST_NAME = "first_last_name"
    ANDROID_GAID = "android_gaid"


ALL_MATCH_FIELDS = frozenset(MatchField)
# The keys of a queued user (QueuedUser) each match field fills.
FIELD_KEYS: dict[MatchField, tuple[str, ...]] = {
    MatchField.EMAIL: ("e",),
    MatchField.FIRST_LAST_NAME: ("f", "l"),
    MatchField.ANDROID_GAID: ("g",),
}


class Identified(Protocol):
    """A user as the match fields see it: an id and the identifiers it may carry (raw: an email is hashed here)."""

    @property
    def external_id(self) -> str: ...

    @property
    def email(self) -> str | None: ...

    @property
    def first_name(self) -> str | None: ...

    @property
    def last_name(self) -> str | None: ...

    @property
    def android_gaid(self) -> str | None: ...


class QueuedUser(TypedDict):
    """A user as it travels through the queue: only hashed or matchable values, short keys to save bytes."""

    x: str  # external_id, so errors can be traced back to a user
    e: NotRequired[str]  # SHA-256 of the normalised email, lowercase hex
    f: NotRequired[str]  # first name (trimmed, <= 35)
    l: NotRequired[str]  # noqa: E741 - last name (trimmed, <= 35)
    g: NotRequired[str]  # Android advertising id, as given
    o: NotRequired[str]  # a segment member's move, `<braze_id>:<order>` (pipeline/moves.py); destinations ignore it
    w: NotRequired[dict[str, Any]]  # a campaign's webhook as rendered for this user (destinations/webhook/)
    d: NotRequired[str]  # the campaign send's dispatch_id: the same on every attempt of the send


class NotSyncedReason:
    MISSING_MATCH_FIELDS = "missing_match_fields"
    INVALID_EMAIL = "invalid_email"


def hash_email(raw: str) -> str | None:
    """SHA-256 hex of the normalised email, the value itself if it is already a SHA-256, or None if invalid."""
    value = raw.strip()
    if len(value) == 64 and _SHA256_HEX.match(value):  # the length first: no regex for an address
        return value.lower()
    value = value.lower()
    if not _EMAIL.match(value):
        return None
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def trim_name(raw: str | None) -> str | None:
    if raw is None:
        return None
    value = raw.strip()[:NAME_MAX_CHARS].strip()
    return value or None


def prepare_user(user: Identified, match_fields: frozenset[MatchField]) -> QueuedUser | str:
    """The queued form of `user`, or the reason it cannot be synced (none of the step's match fields)."""
    queued: QueuedUser = {"x": user.external_id}
    invalid_email = False
    if MatchField.EMAIL in match_fields and user.email and user.email.strip():
        hashed = hash_email(user.email)
        if hashed is None:
            invalid_email = True
        else:
            queued["e"] = hashed
    if MatchField.FIRST_LAST_NAME in match_fields:
        first, last = trim_name(user.first_name), trim_name(user.last_name)
        if first and last:
            queued["f"] = first
            queued["l"] = last
    if MatchField.ANDROID_GAID in match_fields and user.android_gaid and user.android_gaid.strip():
        queued["g"] = user.android_gaid
    if len(queued) == 1:
        return NotSyncedReason.INVALID_EMAIL if invalid_email else NotSyncedReason.MISSING_MATCH_FIELDS
    return queued

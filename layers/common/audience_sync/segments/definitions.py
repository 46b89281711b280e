"""A segment's definition (contract v2 §4): its id, name, description and filter, checked whole. Pure.

A bad body is one Invalid whose `details` hold `{"path", "message"}`, `path` a JSON Pointer into the request body
(`/filter/all/1/op`), so a client can show the operator which node to fix. Nothing is stored unless all is valid.
A filter cannot name another segment, so definitions cannot form cycles; depth and size are bounded by the filter
language (segments/filters.py: MAX_DEPTH, MAX_LEAVES).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

from audience_sync.core.errors import Invalid
from audience_sync.segments.filters import Filter, FilterError, ProfileView, parse

_SEGMENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
# A step that follows a segment keeps its own membership as a segment of this prefix (segments/steps.py): the
# segment's filter and the step's entry filters together, so consent withdrawn is an exit too.
STEP_PREFIX = "step:"
# A launched step that takes users from webhooks and has entry filters keeps its consent as a *watch* of this
# prefix (segments/memberships.py): no membership, but a profile change that makes a profile fail it is told to the
# step, which removes the user from its audience.
CONSENT_PREFIX = "consent:"
RESERVED_PREFIXES = (STEP_PREFIX, CONSENT_PREFIX)
MAX_NAME_CHARS = 255
MAX_DESCRIPTION_CHARS = 1024
# The filter as stored: DynamoDB holds 400 KB an item, and the writer reads every definition every few seconds.
MAX_FILTER_BYTES = 64 * 1024
_KEYS = {"name", "description", "filter"}


def valid_segment_id(segment_id: str) -> str:
    if not _SEGMENT_ID.match(segment_id):
        raise Invalid("invalid_segment_id", "segment ids are 1-128 characters of A-Z a-z 0-9 _ . : -")
    return segment_id


def own_segment_id(segment_id: str) -> str:
    """An id a client may define: valid, and not one of a step's own segments."""
    if valid_segment_id(segment_id).startswith(RESERVED_PREFIXES):
        prefixes = " and ".join(f"'{p}'" for p in RESERVED_PREFIXES)
        raise Invalid("invalid_segment_id", f"segment ids starting with {prefixes} are the sync steps' own")
    return segment_id


def step_segment_id(step_id: str) -> str:
    return STEP_PREFIX + step_id


def step_of(segment_id: str) -> str | None:
    """The step whose own segment this is, else None."""
    return segment_id[len(STEP_PREFIX) :] if segment_id.startswith(STEP_PREFIX) else None


def consent_watch_id(step_id: str) -> str:
    return CONSENT_PREFIX + step_id


@dataclass(frozen=True)
class Segment:
    """A stored segment. `revision` grows whenever the filter changes: memberships computed under an older
    revision are computed again (segments/sweep.py)."""

    segment_id: str
    name: str
    description: str
    filter: Filter
    created_at: str
    updated_at: str
    revision: int
    follows: str | None = None  # a step's own segment: the segment it follows
    # A sticky segment (a step's own, when the step keeps users who leave what it follows): `filter` lets a profile
    # in, and a member stays while `keep` holds (its consent), or until it is deleted if there is no `keep`.
    sticky: bool = False
    keep: Filter | None = None
    watch: bool = False  # a step's consent watch (CONSENT_PREFIX): no members, only withdrawals told

    @property
    def reads(self) -> frozenset[str]:
        return self.filter.reads | self.keep.reads if self.keep is not None else self.filter.reads

    @property
    def time_based(self) -> bool:
        return self.filter.time_based or (self.keep is not None and self.keep.time_based)

    def admits(self, view: ProfileView, now: dt.datetime, member: bool) -> bool:
        """Whether the profile `view` is a member after this evaluation, `member` saying whether it is one now."""
        if member and self.sticky:
            return self.keep is None or self.keep.matches(view, now)
        return self.filter.matches(view, now)

    def definition(self) -> dict[str, Any]:
        return {
            "id": self.segment_id,
            "name": self.name,
            "description": self.description,
            "filter": self.filter.raw,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class SegmentRequest:
    name: str
    description: str
    filter: Filter
    follows: str | None = None  # a step's own segment: the segment it follows
    sticky: bool = False  # see Segment
    keep: Filter | None = None
    watch: bool = False


def _bad(path: str, message: str) -> Invalid:
    return Invalid("invalid_segment", f"{path or '/'}: {message}", [{"path": path, "message": message}])


def parse_request(body: Any) -> SegmentRequest:
    """`PUT /v1/segments/{id}`'s body, or Invalid naming the first bad node, in the body's order."""
    if not isinstance(body, dict):
        raise _bad("", "the body must be a JSON object of name, description and filter")
    checked: dict[str, Any] = {}
    for key, value in body.items():
        if key not in _KEYS:
            raise _bad("/" + str(key).replace("~", "~0").replace("/", "~1"), "is not a field of a segment")
        checked[key] = _CHECKS[key](value)
    if "name" not in checked:
        raise _bad("/name", f"is required: a string of 1 to {MAX_NAME_CHARS} characters")
    if "filter" not in checked:
        raise _bad("/filter", "is required")
    return SegmentRequest(checked["name"], checked.get("description", ""), checked["filter"])


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME_CHARS:
        raise _bad("/name", f"is required: a string of 1 to {MAX_NAME_CHARS} characters")
    return value.strip()


def _description(value: Any) -> str:
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION_CHARS:
        raise _bad("/description", f"must be a string of at most {MAX_DESCRIPTION_CHARS} characters")
    return value


def _filter(value: Any) -> Filter:
    try:
        compiled = parse(value)
    except FilterError as error:
        raise _bad("/filter" + error.path, error.message) from None
    if len(json.dumps(value, separators=(",", ":")).encode("utf-8")) > MAX_FILTER_BYTES:
        raise _bad("/filter", f"is larger than {MAX_FILTER_BYTES // 1024} KB as JSON")
    return compiled


_CHECKS = {"name": _name, "description": _description, "filter": _filter}


def from_stored(item: dict[str, Any]) -> Segment:
    """A stored definition (already checked when it was put) compiled again."""
    return Segment(
        segment_id=item["segment_id"],
        name=item["name"],
        description=item.get("description", ""),
        filter=parse(item["filter"], allow_keys=True),
        created_at=item["created_at"],
        updated_at=item["updated_at"],
        revision=int(item.get("revision", 1)),
        follows=item.get("follows"),
        sticky=bool(item.get("sticky", False)),
        keep=parse(item["keep"], allow_keys=True) if item.get("keep") is not None else None,
        watch=bool(item.get("watch", False)),
    )

"""A segment's definition (contract v2 §4): its id, name, description and filter, checked whole. Pure.

A bad body is one Invalid whose `details` hold `{"path", "message"}`, `path` a JSON Pointer into the request body
(`/filter/all/1/op`), so a client can show the operator which node to fix. Nothing is stored unless all is valid.
A filter cannot name another segment, so definitions cannot form cycles; depth and size are bounded by the filter
language (segments/filters.py: MAX_DEPTH, MAX_LEAVES).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from audience_sync.core.errors import Invalid
from audience_sync.segments.filters import Filter, FilterError, parse

_SEGMENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
MAX_NAME_CHARS = 255
MAX_DESCRIPTION_CHARS = 1024
_KEYS = {"name", "description", "filter"}


def valid_segment_id(segment_id: str) -> str:
    if not _SEGMENT_ID.match(segment_id):
        raise Invalid("invalid_segment_id", "segment ids are 1-128 characters of A-Z a-z 0-9 _ . : -")
    return segment_id


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


def _bad(path: str, message: str) -> Invalid:
    return Invalid("invalid_segment", f"{path or '/'}: {message}", [{"path": path, "message": message}])


def parse_request(body: Any) -> SegmentRequest:
    """`PUT /v1/segments/{id}`'s body, or Invalid naming the first bad node."""
    if not isinstance(body, dict):
        raise _bad("", "the body must be a JSON object of name, description and filter")
    for key in body:
        if key not in _KEYS:
            raise _bad("/" + str(key).replace("~", "~0").replace("/", "~1"), "is not a field of a segment")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_CHARS:
        raise _bad("/name", f"is required: a string of 1 to {MAX_NAME_CHARS} characters")
    description = body.get("description", "")
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION_CHARS:
        raise _bad("/description", f"must be a string of at most {MAX_DESCRIPTION_CHARS} characters")
    if "filter" not in body:
        raise _bad("/filter", "is required")
    try:
        compiled = parse(body["filter"])
    except FilterError as error:
        raise _bad("/filter" + error.path, error.message) from None
    return SegmentRequest(name.strip(), description, compiled)


def from_stored(item: dict[str, Any]) -> Segment:
    """A stored definition (already checked when it was put) compiled again."""
    return Segment(
        segment_id=item["segment_id"],
        name=item["name"],
        description=item.get("description", ""),
        filter=parse(item["filter"]),
        created_at=item["created_at"],
        updated_at=item["updated_at"],
        revision=int(item.get("revision", 1)),
    )

"""A sync step that follows a segment (contract v2 §5) keeps its own membership as a segment. Pure.

Its own segment (`step:<step_id>`) is the followed segment's filter AND the step's entry filters (consent), so the
profile writer's incremental evaluation moves users in and out of the step as they move in and out of the segment
*and* as their consent changes: a user whose consent attribute turns false exits the step's own segment, and the
step removes it from its audience (sources/segment/router.py). A step that does not sync exits keeps the users
who leave the segment: its own segment is sticky (segments/definitions.py), a member stays while its consent holds,
so consent withdrawn or a deletion is still an exit. It is defined when the step is launched and redefined whenever
the followed segment's filter changes (segments/service.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from audience_sync.core.errors import LaunchInvalid
from audience_sync.segments.definitions import SegmentRequest, step_segment_id
from audience_sync.segments.filters import Filter, FilterError, parse


def entry_leaf(rule: dict[str, Any]) -> dict[str, Any]:
    """An entry filter (core/filters.py: eq, ne, exists, not_exists) as a segment filter leaf with the same meaning."""
    op, value = rule["op"], rule.get("value")
    if op in ("eq", "ne") and value is None:  # "equals null" is "has no value"
        return {"attribute": rule["attribute"], "op": "not_exists" if op == "eq" else "exists"}
    if op in ("exists", "not_exists"):
        return {"attribute": rule["attribute"], "op": op}
    return {"attribute": rule["attribute"], "op": op, "value": value}


def step_segment(
    step_id: str,
    segment_id: str,
    segment_filter: dict[str, Any],
    entry_filters: Sequence[dict[str, Any]],
    sync_exits: bool,
) -> SegmentRequest:
    """The definition of a step's own segment; LaunchInvalid if it cannot be one (the followed filter is already
    as deep or as large as filters may be). A step that keeps the users who leave the segment has a sticky one:
    a member stays while its consent (the entry filters) holds, or until it is deleted."""
    raw = {"all": [segment_filter, *(entry_leaf(r) for r in entry_filters)]} if entry_filters else segment_filter
    try:
        compiled = parse(raw, allow_keys=True)  # entry filters name webhook fields; the followed one was checked
    except FilterError as error:
        raise LaunchInvalid(
            [
                {
                    "field": "source",
                    "code": "segment_too_complex",
                    "message": f"the segment's filter and the step's entry filters together: {error.message}",
                }
            ]
        ) from None
    return SegmentRequest(
        name=f"step {step_id}",
        description=f"the members of segment {segment_id} who pass step {step_id}'s entry filters",
        filter=compiled,
        follows=segment_id,
        sticky=not sync_exits,
        keep=None if sync_exits or not entry_filters else consent_filter(entry_filters),
    )


def consent_filter(entry_filters: Sequence[dict[str, Any]]) -> Filter:
    """A step's consent alone (its entry filters): what a member of a sticky step segment must keep to stay."""
    leaves = [entry_leaf(r) for r in entry_filters]
    return parse(leaves[0] if len(leaves) == 1 else {"all": leaves}, allow_keys=True)


__all__ = ["consent_filter", "entry_leaf", "step_segment", "step_segment_id"]

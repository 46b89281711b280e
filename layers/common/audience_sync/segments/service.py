"""Segments behind the HTTP edge (contract v2 §4 and Braze's catalogue routes of §7): definitions checked and
stored, existing profiles swept when a filter is new, members and counters read from the members' index.

A PUT stores the definition, then starts the sweep of its revision and records that it did; a PUT that failed in
between (503) and is sent again starts it then. A DELETE removes the definition (writers stop evaluating it within
their cache time), its counters, and lets its members' entries expire; 409 while a sync step uses it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from audience_sync.core.clock import Clock
from audience_sync.core.errors import Conflict, Invalid, NotFound
from audience_sync.segments.definitions import from_stored, parse_request, valid_segment_id
from audience_sync.segments.ports import MemberIndex, SegmentStore
from audience_sync.segments.sweep import JobQueue, jobs_for

MAX_PAGE = 1000
BRAZE_PAGE = 100  # Braze's /segments/list page size
HOURS_SHOWN = 24


class SegmentService:
    def __init__(
        self,
        store: SegmentStore,
        members: MemberIndex,
        sweep_jobs: JobQueue,
        clock: Clock,
        users_of: Callable[[str], list[str]] = lambda segment_id: [],
    ):
        """`users_of`: the ids of what uses a segment (sync steps), which a DELETE must not orphan."""
        self.store = store
        self.members_index = members
        self.sweep_jobs = sweep_jobs
        self.clock = clock
        self.users_of = users_of

    def _now(self) -> str:
        return dt.datetime.fromtimestamp(self.clock.now_ms() / 1000, dt.UTC).isoformat(timespec="milliseconds")

    def put(self, segment_id: str, body: Any) -> dict[str, Any]:
        valid_segment_id(segment_id)
        request = parse_request(body)
        stored = self.store.put(segment_id, request, self._now())
        if stored.get("swept") != stored["revision"]:
            self.sweep_jobs.send(jobs_for([segment_id]))
            self.store.mark_swept(segment_id, int(stored["revision"]))
        return self._view(stored)

    def _stored(self, segment_id: str) -> dict[str, Any]:
        stored = self.store.get(valid_segment_id(segment_id))
        if stored is None:
            raise NotFound("segment", "segment_not_found")
        return stored

    def _view(self, stored: dict[str, Any]) -> dict[str, Any]:
        view = from_stored(stored).definition()
        counts = self.members_index.counts(stored["segment_id"], HOURS_SHOWN)
        view["size"] = counts.size
        view["metrics"] = {"entered": counts.entered, "exited": counts.exited, "hours": counts.hours}
        return view

    def get(self, segment_id: str) -> dict[str, Any]:
        return self._view(self._stored(segment_id))

    def delete(self, segment_id: str) -> None:
        self._stored(segment_id)
        users = self.users_of(segment_id)
        if users:
            raise Conflict("segment_in_use", f"the segment is used by {', '.join(sorted(users))}")
        self.store.delete(segment_id)
        self.members_index.forget(segment_id)

    def members(self, segment_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
        self._stored(segment_id)
        if not 1 <= limit <= MAX_PAGE:
            raise Invalid("invalid_limit", f"limit must be 1 to {MAX_PAGE}")
        found, next_cursor = self.members_index.members(segment_id, limit, cursor)
        return {
            "members": [
                {"external_id": m.external_id, "braze_id": m.braze_id, "entered_at": m.entered_at} for m in found
            ],
            "next_cursor": next_cursor,
        }

    # ---- Braze's catalogue (GET /segments/list, /segments/details) ---------------------------------------------
    def braze_list(self, page: int, sort_direction: str) -> dict[str, Any]:
        if sort_direction not in ("asc", "desc"):
            raise Invalid("invalid_sort_direction", "sort_direction must be asc or desc")
        if page < 0:
            raise Invalid("invalid_page", "page must be 0 or more")
        stored = sorted(self.store.all(), key=lambda s: (s["created_at"], s["segment_id"]))
        if sort_direction == "desc":
            stored.reverse()
        chosen = stored[page * BRAZE_PAGE : (page + 1) * BRAZE_PAGE]
        return {
            "message": "success",
            "segments": [
                {"id": s["segment_id"], "name": s["name"], "analytics_tracking_enabled": False, "tags": []}
                for s in chosen
            ],
        }

    def braze_details(self, segment_id: str | None) -> dict[str, Any]:
        if not segment_id:
            raise Invalid("missing_segment_id", "segment_id is required")
        segment = from_stored(self._stored(segment_id))
        return {
            "message": "success",
            "created_at": segment.created_at,
            "updated_at": segment.updated_at,
            "name": segment.name,
            "description": segment.description,
            "text_description": segment.filter.text(),
            "tags": [],
            "teams": [],
        }

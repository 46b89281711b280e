"""Segments behind the HTTP edge (contract v2 §4 and Braze's catalogue routes of §7): definitions checked and
stored, existing profiles swept when a filter is new, members and counters read from the members' index.

A PUT stores the definition, then starts the sweep of its revision and records that it did; a PUT that failed in
between (503) and is sent again starts it then. A new filter also redefines the own segments of the steps that
follow it (segments/steps.py). A DELETE removes the definition (writers stop evaluating it within their cache
time), its counters, and lets its members' entries expire; 409 while a sync step follows it.
"""

from __future__ import annotations

from typing import Any

from audience_sync.core.catalogue import catalogue_page
from audience_sync.core.clock import Clock
from audience_sync.core.errors import Conflict, Invalid, LaunchInvalid, NotFound, Unprocessable
from audience_sync.profiles.values import format_ms
from audience_sync.segments.definitions import (
    RESERVED_PREFIXES,
    STEP_PREFIX,
    SegmentRequest,
    consent_watch_id,
    from_stored,
    own_segment_id,
    parse_request,
    step_segment_id,
    valid_segment_id,
)
from audience_sync.segments.ports import MemberIndex, SegmentStore, SegmentUsers
from audience_sync.segments.steps import consent_filter, step_segment
from audience_sync.segments.sweep import JobQueue, jobs_for

MAX_PAGE = 1000
HOURS_SHOWN = 24


class SegmentService:
    def __init__(
        self,
        store: SegmentStore,
        members: MemberIndex,
        sweep_jobs: JobQueue,
        clock: Clock,
        users: SegmentUsers | None = None,
    ):
        self.store = store
        self.members_index = members
        self.sweep_jobs = sweep_jobs
        self.clock = clock
        self.users = users

    def _now(self) -> str:
        return format_ms(self.clock.now_ms())

    def put(self, segment_id: str, body: Any) -> dict[str, Any]:
        own_segment_id(segment_id)
        request = parse_request(body)
        # The steps following it take the new filter too: each checked before anything is stored (LaunchInvalid if
        # the filter with a step's entry filters is beyond the limits), so a refused PUT changes nothing.
        try:
            followers = [
                (
                    follower,
                    step_segment(
                        follower["step_id"],
                        segment_id,
                        request.filter.raw,
                        follower["entry_filters"],
                        sync_exits=not follower.get("sticky", False),
                    ),
                )
                for follower in self._followers(segment_id)
            ]
        except LaunchInvalid as invalid:
            message = "a sync step follows this segment, and the filter with its entry filters is too complex"
            raise Unprocessable("segment_too_complex", message, invalid.details) from None
        stored = self.store.put(segment_id, request, self._now())
        self._sweep_if_new(stored)
        for follower, redefined in followers:
            entry_filters = follower["entry_filters"]
            self._sweep_if_new(self.store.put(follower["segment_id"], redefined, self._now(), entry_filters))
        return self._view(stored)

    def _sweep_if_new(self, stored: dict[str, Any], baseline: bool = False) -> None:
        if baseline or stored.get("swept") != stored["revision"]:
            self.sweep_jobs.send(jobs_for([stored["segment_id"]], baseline=baseline))
            self.store.mark_swept(stored["segment_id"], int(stored["revision"]))

    def _followers(self, segment_id: str) -> list[dict[str, Any]]:
        """The own segments of the steps following `segment_id`, each with its `step_id`."""
        return [
            {**s, "step_id": s["segment_id"][len(STEP_PREFIX) :]}
            for s in self.store.all()
            if s.get("follows") == segment_id
        ]

    def follow(self, step_id: str, segment_id: str, entry_filters: list[dict[str, Any]], sync_exits: bool) -> None:
        """A step launched to follow `segment_id`: its own segment (re)defined, and computed from scratch over the
        profiles; what that finds is its members at launch (entered only with `backfill`). A step that keeps users
        who leave the segment has a sticky own segment (segments/steps.py)."""
        problems = self.problems(segment_id)
        if problems:
            raise LaunchInvalid(problems)
        followed = self.store.get(segment_id)
        if followed is None:
            raise LaunchInvalid(_not_found(segment_id))
        request = step_segment(step_id, segment_id, followed["filter"], entry_filters, sync_exits)
        stored = self.store.put(step_segment_id(step_id), request, self._now(), entry_filters)
        self._sweep_if_new(stored, baseline=True)

    def watch(self, step_id: str, entry_filters: list[dict[str, Any]]) -> None:
        """A step launched to take users from webhooks: its consent (its entry filters) watched, so a profile that
        stops passing it leaves the step's audience (segments/definitions.py, CONSENT_PREFIX). A watch has no
        members, so nothing is swept. Without entry filters there is nothing to watch; a watch left from an earlier
        launch is then harmless (the router checks the step's filters as they are)."""
        if entry_filters:
            request = SegmentRequest(
                name=f"step {step_id} consent",
                description=f"profiles that stop passing step {step_id}'s entry filters leave its audience",
                filter=consent_filter(entry_filters),
                watch=True,
            )
            self.store.put(consent_watch_id(step_id), request, self._now())

    def problems(
        self, segment_id: str, entry_filters: list[dict[str, Any]] | None = None, sync_exits: bool = True
    ) -> list[dict[str, str]]:
        """What stops a step from following `segment_id` with these entry filters: checked before the launch does
        anything (activates, creates an audience)."""
        if segment_id.startswith(RESERVED_PREFIXES):
            prefixes = " and ".join(f"'{p}'" for p in RESERVED_PREFIXES)
            message = f"segment ids starting with {prefixes} are the sync steps' own; follow a segment you defined"
            return [{"field": "source", "code": "invalid_segment_id", "message": message}]
        followed = self.store.get(segment_id)
        if followed is None:
            return _not_found(segment_id)
        try:
            step_segment("-", segment_id, followed["filter"], entry_filters or [], sync_exits)
        except LaunchInvalid as invalid:
            return list(invalid.details)
        return []

    def _stored(self, segment_id: str) -> dict[str, Any]:
        stored = self.store.get(valid_segment_id(segment_id))
        if stored is None:
            raise NotFound("segment", "segment_not_found")
        return stored

    def exportable(self, segment_id: str) -> None:
        """A segment a client may export: one of its own (not a step's), that exists; NotFound otherwise."""
        if segment_id.startswith(RESERVED_PREFIXES):
            raise NotFound("segment", "segment_not_found")
        self._stored(segment_id)

    def _view(self, stored: dict[str, Any]) -> dict[str, Any]:
        view = from_stored(stored).definition()
        counts = self.members_index.counts(stored["segment_id"], HOURS_SHOWN)
        view["size"] = counts.size
        view["metrics"] = {"entered": counts.entered, "exited": counts.exited, "hours": counts.hours}
        return view

    def get(self, segment_id: str) -> dict[str, Any]:
        return self._view(self._stored(segment_id))

    def delete(self, segment_id: str) -> None:
        self._stored(own_segment_id(segment_id))
        steps = sorted(f["step_id"] for f in self._followers(segment_id))
        if steps:
            raise Conflict("segment_in_use", f"sync steps follow the segment: {', '.join(steps)}"[:500])
        campaigns = sorted(self.users.using(segment_id)) if self.users is not None else []
        if campaigns:
            raise Conflict("segment_in_use", f"campaigns target the segment: {', '.join(campaigns)}"[:500])
        self.store.delete(segment_id, self._now())
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

    def definitions(self) -> list[dict[str, Any]]:
        """Every segment a client defined (not a step's own), by id: its definition, without counts."""
        return [from_stored(s).definition() for s in sorted(self._own(), key=lambda s: str(s["segment_id"]))]

    def _own(self) -> list[dict[str, Any]]:
        return [s for s in self.store.all() if not s["segment_id"].startswith(RESERVED_PREFIXES)]  # not the steps' own

    # ---- Braze's catalogue (GET /segments/list, /segments/details) ---------------------------------------------
    def braze_list(self, page: int, sort_direction: str) -> dict[str, Any]:
        own = self._own()
        chosen = catalogue_page(own, "segment_id", page, sort_direction)
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
        if segment_id.startswith(RESERVED_PREFIXES):  # the steps' own, which /segments/list does not show either
            raise NotFound("segment", "segment_not_found")
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


def _not_found(segment_id: str) -> list[dict[str, str]]:
    return [{"field": "source", "code": "segment_not_found", "message": f"no segment '{segment_id}'"}]

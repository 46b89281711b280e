"""Segment memberships as the profile writer keeps them (profiles/ports.py, Memberships): the writer knows segments
only through that port, since segments read profiles. See segments/membership.py for what a profile holds."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from audience_sync.profiles.ports import Item
from audience_sync.profiles.values import format_time
from audience_sync.segments import membership
from audience_sync.segments.definitions import CONSENT_PREFIX, Segment
from audience_sync.segments.filters import ProfileView
from audience_sync.segments.index import ALL, SegmentIndex, operation_keys
from audience_sync.segments.membership import Transition
from audience_sync.segments.ports import MembershipSink, SegmentSource

# A profile document's identifiers as the sync queue carries them (hashed), or None if it has none.
Identify = Callable[[Mapping[str, Any]], dict[str, Any] | None]


class SegmentMemberships:
    def __init__(self, source: SegmentSource, sink: MembershipSink, identify: Identify):
        self.source = source
        self.sink = sink
        self.identify = identify

    def session(self) -> BatchMemberships:
        return BatchMemberships(self.source, self.sink, self.identify)


class BatchMemberships:
    def __init__(self, source: SegmentSource, sink: MembershipSink, identify: Identify):
        self.source = source
        self.index: SegmentIndex = source.index()
        self.sink = sink
        self.identify = identify
        self.refreshed = False
        # (profile key, watch id) -> whether the profile passed the watch before this batch changed it
        self.passed_before: dict[tuple[str, str], bool] = {}
        self._at: tuple[dt.datetime | None, str] = (None, "")  # the last `now` evaluated, formatted

    @property
    def active(self) -> bool:
        return bool(self.index.segments or self.index.watches)

    def note(self, profile: Item, changed: set[str] | None, now: dt.datetime) -> None:
        if changed is None or not self.index.watches:
            return  # a new or merged profile: nothing before to compare with
        watches = [w for w in self.index.watching(changed) if (profile.pk, w.segment_id) not in self.passed_before]
        if watches:
            view = membership.view_of(profile.doc, {}, {})  # a step's consent reads attributes only
            for watch in watches:
                self.passed_before[(profile.pk, watch.segment_id)] = watch.filter.matches(view, now)

    def reads(self, operation: dict[str, Any]) -> set[str] | None:
        if operation["kind"] == "evaluate" and not self.refreshed:
            # a sweep's operation: the segment is new or its filter changed, maybe after the definitions were
            # cached; read them now (once a batch), or a stale filter would decide (docs/segments.md)
            self.index = self.source.index(fresh=True)
            self.refreshed = True
        keys = operation_keys(operation)
        return None if ALL in keys else keys

    def evaluate(
        self,
        profile: Item,
        changed: set[str] | None,
        events: Mapping[str, Mapping[str, Any]],
        purchases: Mapping[str, Mapping[str, Any]],
        now: dt.datetime,
        token: str,
    ) -> list[Any]:
        segments = self.index.affected({ALL} if changed is None else changed)
        watches = self.index.watching(changed) if changed is not None else []
        if not segments and not watches:
            return []
        doc = profile.doc
        view = membership.view_of(doc, events, purchases)
        told = self._withdrawals(profile, watches, view, now, token)
        baseline = frozenset(k[2:] for k in changed or () if k.startswith("b:"))
        if baseline:  # a segment also reached by a real change is not a baseline entry
            others = (changed or set()) - {"b:" + b for b in baseline}
            baseline -= {s.segment_id for s in self.index.affected(others)}
        found = membership.changes(segments, doc, view, now)
        if not found:
            return told
        return told + membership.record(doc, profile.pk, found, self._format(now), token, baseline)

    def _format(self, now: dt.datetime) -> str:
        """`now` as transitions carry it. A batch evaluates every profile at one moment, and formatting it was a
        twentieth of the evaluator's time (make bench, segment evaluation)."""
        if self._at[0] != now:
            self._at = (now, format_time(now))
        return self._at[1]

    def _withdrawals(
        self, profile: Item, watches: list[Segment], view: ProfileView, now: dt.datetime, token: str
    ) -> list[Transition]:
        """A notice for each webhook step whose consent the profile passed before this batch and fails now."""
        withdrawn = [
            w.segment_id[len(CONSENT_PREFIX) :]
            for w in watches
            if self.passed_before.pop((profile.pk, w.segment_id), False) and not w.filter.matches(view, now)
        ]
        identifiers = self.identify(profile.doc) if withdrawn else None
        if identifiers is None:
            return []  # nothing a step could have sent
        return membership.withdrawals(profile.doc, profile.pk, withdrawn, format_time(now), token, identifiers)

    def recorded(self, profile: Item, token: str) -> list[Any]:
        return membership.recorded(profile.doc, token)

    def exits(self, profile: Item, now: dt.datetime, deleted: bool = False) -> list[Any]:
        identifiers = self.identify(profile.doc) if deleted else None
        return membership.exits(profile.doc, profile.pk, format_time(now), identifiers)

    def publish(self, transitions: Sequence[Any]) -> None:
        self.sink.publish([t for t in transitions if isinstance(t, Transition)])

    def keep(self, evaluated: dict[str, Any], rebuilt: dict[str, Any]) -> None:
        for key in (membership.MEMBERSHIPS, membership.OUTBOX, membership.SEQUENCE):
            if key in evaluated:
                rebuilt[key] = evaluated[key]

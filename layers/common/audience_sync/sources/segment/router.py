"""Segment entries and exits into the sync steps that follow segments (contract v2 §5), through the one pipeline.

A step that follows a segment has its own segment (segments/steps.py: the followed filter and the step's entry
filters); the membership function hands this router the transitions of those own segments before it records them
in the members' index (functions/membership). For each active step:
- an entry enters the step with the match fields and consent read from the profile (`IngestService.enter`); a
  baseline entry (a member found by the sweep at launch) only if the step backfills;
- an exit removes the user from the audience with the identifiers it was sent with (kept in the index). The own
  segment decides what an exit is: with `sync_exits`, leaving the followed segment; without, the own segment is
  sticky and only consent withdrawn or a deletion is one (segments/steps.py). A user a step put in an audience
  never stays there without consent.

Exactly once: a membership message's transitions enter the pipeline under ids derived from the message's id, so a
message delivered again queues chunks the ledger already counted. A transition older than what the index holds
(SQS does not keep order) is not routed: a later one decided.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from audience_sync.core.errors import Conflict, NotFound
from audience_sync.core.filters import passes
from audience_sync.core.users import MatchField
from audience_sync.pipeline.ingest import IngestService
from audience_sync.pipeline.moves import move
from audience_sync.segments.definitions import step_of, step_segment_id
from audience_sync.segments.membership import DELETED, WITHDRAWN, Transition, is_notice
from audience_sync.segments.ports import MemberKey, StoredMember
from audience_sync.sources.profile_users import ProfileUser, for_step
from audience_sync.steps.models import EntryFilter
from audience_sync.steps.ports import StepReader
from audience_sync.steps.records import ACTIVE, segment_step, source_of


class Profiles(Protocol):
    def by_home(self, homes: Sequence[str]) -> dict[str, ProfileUser]: ...


@dataclass
class Routed:
    """What a membership message did to the steps: per step, users queued to enter and to leave; for each entry the
    identifiers it was sent with (kept in the index for its removal); and the keys whose identifiers a removal
    used (dropped from the index: the user is out of the audience)."""

    entered: dict[str, int] = field(default_factory=dict)
    left: dict[str, int] = field(default_factory=dict)
    sent: dict[MemberKey, dict[str, Any]] = field(default_factory=dict)
    removed: set[MemberKey] = field(default_factory=set)


def _entry_id(message_id: str, step_id: str, direction: str) -> str:
    return hashlib.sha256(f"segment\0{message_id}\0{step_id}\0{direction}".encode()).hexdigest()[:32]


def current(transitions: Sequence[Transition], stored: Mapping[MemberKey, StoredMember]) -> list[Transition]:
    """The transitions not older than what the index holds (a repeat of the newest is current: its message may have
    been queued for the steps before a crash)."""
    fresh = []
    for t in transitions:
        held = stored.get((t.segment_id, t.braze_id))
        if held is None or held.order <= t.order:
            fresh.append(t)
    return fresh


def keys_to_read(transitions: Sequence[Transition]) -> list[MemberKey]:
    """What the index must tell about these transitions: each one's own (segment, user)."""
    return list(dict.fromkeys((t.segment_id, t.braze_id) for t in members(transitions)))


def members(transitions: Sequence[Transition]) -> list[Transition]:
    """The transitions of segments (not a deletion's or a withdrawal's notice, which the index does not keep)."""
    return [t for t in transitions if not is_notice(t.segment_id)]


class Steps(StepReader, Protocol):
    def list_all(self) -> list[dict[str, Any]]: ...


class SegmentRouter:
    def __init__(self, steps: Steps, ingest: IngestService, profiles: Profiles):
        self.steps = steps
        self.ingest = ingest
        self.profiles = profiles

    def route(
        self, transitions: Sequence[Transition], stored: Mapping[MemberKey, StoredMember], message_id: str
    ) -> Routed:
        routed = Routed()
        by_step: dict[str, list[Transition]] = {}
        for t in current(transitions, stored):
            step_id = step_of(t.segment_id)
            if step_id is not None:
                by_step.setdefault(step_id, []).append(t)
        for step_id, moves in by_step.items():
            try:
                step = self.steps.get(step_id)
            except NotFound:
                continue  # a step's own segment outlived it: nobody to tell
            source = segment_step(step.get("config", {}))
            if step.get("status") != ACTIVE or source is None:
                continue  # a draft (reconfigured, not launched again) takes no users
            entries = [t for t in moves if t.entered and (source.get("backfill") or not t.baseline)]
            self._enter(step_id, step, entries, message_id, routed)
            exits = [t for t in moves if not t.entered]
            self._leave(step_id, exits, stored, message_id, routed)
        self._forget([t for t in transitions if t.segment_id == DELETED and t.identifiers], message_id, routed)
        withdrawn: dict[str, list[Transition]] = {}
        for t in transitions:
            if t.segment_id.startswith(WITHDRAWN) and t.identifiers:
                withdrawn.setdefault(t.segment_id[len(WITHDRAWN) :], []).append(t)
        for step_id, notices in withdrawn.items():
            self._withdraw(step_id, notices, message_id, routed)
        return routed

    def _withdraw(self, step_id: str, notices: list[Transition], message_id: str, routed: Routed) -> None:
        """Users who stopped passing a webhook step's consent leave its audience, with the profile's identifiers."""
        try:
            step = self.steps.get(step_id)
        except NotFound:
            return
        config = step.get("config", {})
        if step.get("status") != ACTIVE or not _adds_from_webhooks(config):
            return
        # as the step and the profile are now: a step relaunched with other filters, or consent given back since
        filters = [EntryFilter.model_validate(f) for f in config.get("entry_filters", [])]
        users = self.profiles.by_home([t.home for t in notices])
        failing = [t for t in notices if t.home in users and filters and not passes(users[t.home], filters)]
        if failing:
            self._remove(step, failing, message_id, "withdrawn", routed)

    def _forget(self, deleted: list[Transition], message_id: str, routed: Routed) -> None:
        """Deleted users leave the audience of every launched step that takes users from webhooks and adds them:
        which webhook brought whom is not kept, and a removal of someone an audience does not hold changes
        nothing. The identifiers are the profile's (a webhook may have sent others: those stay)."""
        if not deleted:
            return
        for step in self.steps.list_all():
            if step.get("status") == ACTIVE and _adds_from_webhooks(step.get("config", {})):
                self._remove(step, deleted, message_id, "deleted", routed)

    def _remove(
        self, step: dict[str, Any], notices: list[Transition], message_id: str, why: str, routed: Routed
    ) -> None:
        match_fields = frozenset(MatchField(f) for f in step["config"].get("match_fields", []))
        users: list[Any] = [u for t in notices if (u := for_step(t.identifiers or {}, match_fields)) is not None]
        step_id = step["step_id"]
        try:
            left = self.ingest.leave(step_id, users, message_id, _entry_id(message_id, step_id, why))
        except Conflict:
            return  # deactivated meanwhile
        if left:
            routed.left[step_id] = routed.left.get(step_id, 0) + left

    def _enter(
        self, step_id: str, step: dict[str, Any], entries: list[Transition], message_id: str, routed: Routed
    ) -> None:
        if not entries:
            return
        users = self.profiles.by_home([t.home for t in entries])
        entering = [t for t in entries if t.home in users]  # a profile deleted since: it exits next
        moves = [move(t.braze_id, t.order) for t in entering]
        try:
            answer = self.ingest.enter(
                step_id, [users[t.home] for t in entering], message_id, _entry_id(message_id, step_id, "in"), moves
            )
        except Conflict:
            return  # deactivated meanwhile
        routed.entered[step_id] = answer["accepted"]
        queued = answer["queued"]
        for t, moved in zip(entering, moves, strict=True):
            if (user := queued.get(moved)) is not None:  # queued: not filtered out, with a match field
                routed.sent[(t.segment_id, t.braze_id)] = {k: v for k, v in user.items() if k != "o"}

    def _leave(
        self,
        step_id: str,
        exits: list[Transition],
        stored: Mapping[MemberKey, StoredMember],
        message_id: str,
        routed: Routed,
    ) -> None:
        """Who leaves the audience: a user the step put there (its identifiers are kept) who left its own segment."""
        leaving = {
            t.braze_id: {**held.sent, "o": move(t.braze_id, t.order)}
            for t in exits
            if (held := stored.get((t.segment_id, t.braze_id))) is not None and held.sent
        }
        if not leaving:
            return  # never sent to the audience: nothing to remove
        users: list[Any] = list(leaving.values())
        try:
            routed.left[step_id] = self.ingest.leave(step_id, users, message_id, _entry_id(message_id, step_id, "out"))
        except Conflict:
            return
        routed.removed.update((step_segment_id(step_id), braze_id) for braze_id in leaving)


def _adds_from_webhooks(config: dict[str, Any]) -> bool:
    return source_of(config)["type"] == "webhook" and config.get("action", "add") == "add"

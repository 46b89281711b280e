"""Segment membership on a profile, and the transitions it records. Pure.

A profile's document holds `segments`: `{segment_id: entered_at}`, the segments it is in now. The profile writer
(profiles/writer.py) re-evaluates, for each profile a batch changed, the segments that read what changed
(segments/index.py), and writes the new memberships in the same write as the change: a membership is exactly as
current and as durable as the profile it describes.

Every entry and exit is a Transition, published after the write that records it (segments/ports.py,
MembershipSink). Members are named by braze_id, which a profile keeps when an identify moves it to an external id
and which a user deleted and created again does not get back. A transition's `order` sorts the transitions of one
(segment, braze_id) as they happened, so a consumer that receives them twice or out of order keeps only the newest:
the profile counts its membership changes (`mseq`, written with them, carried along when the profile moves).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from audience_sync.segments.definitions import Segment
from audience_sync.segments.filters import ProfileView

# The transitions of the last messages that changed a profile's memberships, kept on the profile so a message
# redelivered after a crash between the write and the publication publishes them again (profiles/writer.py).
MEMBERSHIPS = "segments"
OUTBOX = "outbox"
SEQUENCE = "mseq"  # the profile's count of membership changes: the order of its transitions
MAX_OUTBOX = 10
# Not a segment: a profile deleted. Its transition carries the identifiers the profile had (hashed, as the sync
# queue carries them), for the steps that take users from webhooks, whose audiences may hold it (sources/segment/
# router.py). Never recorded in the members' index.
DELETED = "*deleted*"
# Not a segment either: a profile that stopped passing a webhook step's consent (its watch, segments/definitions.py),
# `WITHDRAWN + step_id`, with the profile's identifiers like DELETED's.
WITHDRAWN = "*withdrawn*:"


def is_notice(segment_id: str) -> bool:
    """A deletion's or a withdrawal's notice: told to the steps, never recorded as a membership."""
    return segment_id.startswith("*")


# Not frozen: a frozen dataclass's __init__ sets each field through object.__setattr__ (3.6 µs for these ten, 1.1
# unfrozen), and the profile writer makes one for every membership that moves (make bench, segment evaluation).
# Nothing changes one after it is made: dataclasses.replace makes another.
@dataclass(slots=True)
class Transition:
    segment_id: str
    home: str  # the profile's key now (profiles/document.py home_pk): where its profile is read
    braze_id: str  # who the member is
    external_id: str | None
    entered: bool  # False: exited
    at: str  # when (the writer's time)
    order: str
    baseline: bool = False  # an entry found by a step's sweep at launch: a member then, not one entering
    deleted: bool = False  # an exit because the profile is deleted or merged away
    identifiers: dict[str, Any] | None = None  # DELETED's only: the profile's identifiers, hashed (core/users.py)

    def to_json(self) -> dict[str, Any]:
        # by hand: dataclasses.asdict deep-copies field by field, a third of the evaluator's time (make bench)
        return {
            "segment_id": self.segment_id,
            "home": self.home,
            "braze_id": self.braze_id,
            "external_id": self.external_id,
            "entered": self.entered,
            "at": self.at,
            "order": self.order,
            "baseline": self.baseline,
            "deleted": self.deleted,
            **({"identifiers": self.identifiers} if self.identifiers is not None else {}),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Transition:
        # by hand too: a dict comprehension over the fields was a seventh of the membership function's CPU
        return cls(
            data["segment_id"],
            data["home"],
            data["braze_id"],
            data.get("external_id"),
            data["entered"],
            data["at"],
            data["order"],
            data.get("baseline", False),
            data.get("deleted", False),
            data.get("identifiers"),
        )


def order_of(sequence: int) -> str:
    return f"{sequence:012d}"


def view_of(
    profile: Mapping[str, Any], events: Mapping[str, Mapping[str, Any]], purchases: Mapping[str, Mapping[str, Any]]
) -> ProfileView:
    """A profile document, with its event and purchase summaries, as filters read it."""
    return ProfileView(
        fields=profile.get("fields", {}),
        custom=profile.get("custom", {}),
        cohorts=profile.get("cohorts", ()),
        events=events,
        purchases=purchases,
    )


def changes(
    segments: Iterable[Segment], profile: Mapping[str, Any], view: ProfileView, now: dt.datetime
) -> list[tuple[str, bool]]:
    """The (segment id, entered) of each segment whose answer differs from the profile's membership."""
    current = profile.get(MEMBERSHIPS, {})
    found = []
    for segment in segments:
        member = segment.segment_id in current
        # admits() decides; a segment that is not sticky is its filter, asked without the extra call (make bench,
        # segment evaluation: ten segments a change)
        admitted = segment.admits(view, now, member) if segment.sticky else segment.filter.matches(view, now)
        if admitted != member:
            found.append((segment.segment_id, not member))
    return found


def record(
    profile: dict[str, Any],
    home: str,
    found: list[tuple[str, bool]],
    at: str,
    token: str,
    baseline: frozenset[str] = frozenset(),
) -> list[Transition]:
    """Apply membership changes to the profile's document (written next) and keep them in its outbox under the
    message `token`; the transitions to publish once that write is done. `baseline`: the segments whose entries are
    a step's members at launch."""
    current = profile.setdefault(MEMBERSHIPS, {})
    sequence = profile[SEQUENCE] = profile.get(SEQUENCE, 0) + 1
    braze_id, external_id, order = profile["braze_id"], profile.get("external_id"), order_of(sequence)
    transitions = []
    for segment_id, entered in found:
        if entered:
            current[segment_id] = at
        else:
            current.pop(segment_id, None)
        transitions.append(
            Transition(segment_id, home, braze_id, external_id, entered, at, order, segment_id in baseline)
        )
    _remember(profile, token, transitions)
    return transitions


def withdrawals(
    profile: dict[str, Any], home: str, steps: list[str], at: str, token: str, identifiers: dict[str, Any]
) -> list[Transition]:
    """Notices that the profile no longer passes these webhook steps' consent, kept in its outbox under the message
    `token` like transitions (a crash before their publication publishes them again)."""
    sequence = profile.get(SEQUENCE, 0)
    notices = [
        dataclasses.replace(
            _transition(profile, home, WITHDRAWN + step_id, False, at, sequence), identifiers=identifiers
        )
        for step_id in steps
    ]
    _remember(profile, token, notices)
    return notices


def _remember(profile: dict[str, Any], token: str, transitions: list[Transition]) -> None:
    if not transitions:
        return
    outbox = profile.setdefault(OUTBOX, [])
    for entry in outbox:
        if entry[0] == token:
            entry[1].extend([t.to_json() for t in transitions])
            break
    else:
        outbox.append([token, [t.to_json() for t in transitions]])
    del outbox[:-MAX_OUTBOX]


def recorded(profile: Mapping[str, Any], token: str) -> list[Transition]:
    """The transitions a message recorded on this profile (published again when the message is redelivered)."""
    for entry_token, transitions in profile.get(OUTBOX, ()):
        if entry_token == token:
            return [Transition.from_json(t) for t in transitions]
    return []


def exits(
    profile: Mapping[str, Any], home: str, at: str, identifiers: dict[str, Any] | None = None
) -> list[Transition]:
    """Every membership of a profile about to be deleted (or merged away), as exits: after its last change. With
    `identifiers` (a deletion, not a merge), a DELETED transition carrying them too."""
    sequence = profile.get(SEQUENCE, 0) + 1
    found = [
        _transition(profile, home, segment_id, False, at, sequence, deleted=True)
        for segment_id in sorted(profile.get(MEMBERSHIPS, {}))
    ]
    if identifiers is not None:
        gone = _transition(profile, home, DELETED, False, at, sequence, deleted=True)
        found.append(dataclasses.replace(gone, identifiers=identifiers))
    return found


def _transition(
    profile: Mapping[str, Any],
    home: str,
    segment_id: str,
    entered: bool,
    at: str,
    sequence: int,
    baseline: bool = False,
    deleted: bool = False,
) -> Transition:
    return Transition(
        segment_id=segment_id,
        home=home,
        braze_id=profile["braze_id"],
        external_id=profile.get("external_id"),
        entered=entered,
        at=at,
        order=order_of(sequence),
        baseline=baseline,
        deleted=deleted,
    )

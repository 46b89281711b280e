"""A membership message (the profile writer's entries and exits, segments/membership.py) through the steps that
follow segments, then into the members' index. What functions/membership runs for each message, and the backfill
benchmark too.

The steps first, then the index: a crash between the two sends the steps the same chunks again (their ids derive
from the message's id, so the ledger counts them once), and the index still tells which transitions are current.
The index's writes are conditional on what was read here (adapters/aws/segment_members.py), so messages of one
invocation may be processed at once.

A **reconciliation** makes a launched step's audience agree with its own segment, one shard of the index at a
time: a member never sent enters (as a baseline entry: only if the step backfills), a former member the audience
still holds leaves. A launch queues one for every shard (segments/service.py, `follow`), so what a step did not do
while it was a draft (it takes no users), or a backfill asked for at a relaunch, is done then.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from audience_sync.segments.definitions import step_segment_id
from audience_sync.segments.membership import Transition
from audience_sync.segments.ports import HeldMember, MemberIndex
from audience_sync.sources.segment.router import SegmentRouter, keys_to_read, members

RECONCILE_PAGE = 500  # members read a page
RECONCILE_PAGES = 20  # pages a message; the rest of the shard goes on in another


class MembershipProcessor:
    def __init__(
        self, index: MemberIndex, router: SegmentRouter, go_on: Callable[[dict[str, Any]], None] | None = None
    ):
        self.index = index
        self.router = router
        self.go_on = go_on

    def process(self, transitions: Sequence[Transition], message_id: str, hour: str) -> list[Transition]:
        """Route and record one message's transitions; the ones that changed a membership (for the metrics)."""
        stored = self.index.lookup(keys_to_read(transitions))
        routed = self.router.route(transitions, stored, message_id)
        return self.index.apply(members(transitions), hour, stored, routed.sent, routed.removed)

    def reconcile(self, job: dict[str, Any], message_id: str, hour: str, at: str) -> None:
        """One shard of a step's reconciliation (`step_id`, `shard`, and `start` where a previous message stopped).
        Its transitions repeat what the index holds (the same order), so a newer move made meanwhile wins."""
        segment_id = step_segment_id(job["step_id"])
        start = job.get("start")
        for page in range(RECONCILE_PAGES):
            held, start = self.index.held(segment_id, job["shard"], start, RECONCILE_PAGE)
            owed = [t for m in held if (t := _owed(segment_id, m, at)) is not None]
            if owed:
                self.process(owed, f"{message_id}#{page}", hour)
            if start is None:
                return
        if self.go_on is None:
            raise RuntimeError("a reconciliation longer than one message needs a queue to go on")
        self.go_on({**job, "start": start})


def _owed(segment_id: str, member: HeldMember, at: str) -> Transition | None:
    """What the audience owes a member: an entry never sent, or the removal of a former member still sent."""
    held = member.stored
    if member.home is None or held.member == (held.sent is not None):
        return None
    return Transition(
        segment_id, member.home, member.braze_id, member.external_id, held.member, at, held.order, held.member
    )

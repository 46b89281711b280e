"""The moves of one segment member in one batch: only the newest is sent. Pure.

A step that follows a segment queues a member's entry and its exit as separate messages (an add target and a
remove target), SQS does not keep their order, and the batcher sends a batch's requests concurrently: a member who
left and came back within one flush window would be in the audience or not depending on which request LinkedIn
took last. Each such user carries its move (`o`: `<braze_id>:<order>`, the order of the member's transitions,
segments/membership.py), so of the moves of one member into or out of one step's audience found in a batch only the
newest is sent; the others are settled as not synced, reason `superseded`. Moves in different batches are sent in
the order of their batches (a batcher settles a batch before it reads the next). A move that waited in the retry is
checked against the members' index before it is sent again (`outdated`): a newer move sent meanwhile wins.
"""

from __future__ import annotations

from collections.abc import Sequence

from audience_sync.core.metrics import StepDelta
from audience_sync.core.packing import UserRef
from audience_sync.core.users import QueuedUser
from audience_sync.destinations.base import Outcome
from audience_sync.pipeline.ports import MoveOrders

SUPERSEDED = Outcome("not_synced", "superseded")
STOPPED = Outcome("not_synced", "campaign_stopped")  # its campaign was stopped before it was sent (SendGate)


def count_outcome(delta: StepDelta, outcome: Outcome, leaving: bool) -> bool:
    """Count a settled user's outcome; False if it still waits (a retry). A user `leaving` the step (a removal) the
    destination took is `removed`, as is a removal a newer entry of the member superseded: the audience holds what
    it should, and at rest `left == removed` (+ errored) as contract v2 §5 says. A superseded entry is not synced."""
    if outcome.kind == "synced" or (leaving and outcome.kind == "not_synced"):
        delta.add("removed" if leaving else "synced")
    elif outcome.kind in ("errored", "not_synced"):
        delta.add(outcome.kind, reason=outcome.reason)
    else:
        return False
    return True


def move(braze_id: str, order: str) -> str:
    return f"{braze_id}:{order}"


def _member_and_order(value: str) -> tuple[str, str]:
    member, _, order = value.rpartition(":")
    return member, order


def outdated(step_id: str, users: Sequence[QueuedUser], orders: MoveOrders) -> set[int]:
    """The users (their indices) whose move a newer move of the same member has replaced since they were queued: a
    retried entry after the member left (or withdrew consent), a retried removal after it came back."""
    carried = {i: _member_and_order(user["o"]) for i, user in enumerate(users) if "o" in user}
    if not carried:
        return set()
    newest = orders.newest(step_id, sorted({member for member, _ in carried.values()}))
    return {i for i, (member, order) in carried.items() if newest.get(member, order) > order}


def superseded(steps: Sequence[str], users: Sequence[Sequence[QueuedUser]]) -> set[UserRef]:
    """The users of a batch (message i: step `steps[i]`, `users[i]`) that a newer move of the same member to the
    same step supersedes; a repeat of the same move, all but one."""
    newest: dict[tuple[str, str], tuple[str, UserRef]] = {}
    stale: set[UserRef] = set()
    for m, (step_id, message_users) in enumerate(zip(steps, users, strict=True)):
        for u, user in enumerate(message_users):
            value = user.get("o")
            if value is None:
                continue
            member, order = _member_and_order(value)
            ref = UserRef(m, u)
            held = newest.get((step_id, member))
            if held is None:
                newest[(step_id, member)] = (order, ref)
            elif held[0] < order:
                stale.add(held[1])
                newest[(step_id, member)] = (order, ref)
            else:
                stale.add(ref)
    return stale

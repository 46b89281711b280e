"""The moves of one segment member in one batch: only the newest is sent. Pure.

A step that follows a segment queues a member's entry and its exit as separate messages (an add target and a
remove target), SQS does not keep their order, and the batcher sends a batch's requests concurrently: a member who
left and came back within one flush window would be in the audience or not depending on which request LinkedIn
took last. Each such user carries its move (`o`: `<braze_id>:<order>`, the order of the member's transitions,
segments/membership.py), so of the moves of one member into or out of one step's audience found in a batch only the
newest is sent; the others are settled as not synced, reason `superseded`. Moves in different batches are sent in
the order of their batches (a batcher settles a batch before it reads the next).
"""

from __future__ import annotations

from collections.abc import Sequence

from audience_sync.core.packing import UserRef
from audience_sync.core.users import QueuedUser
from audience_sync.destinations.base import Outcome

SUPERSEDED = Outcome("not_synced", "superseded")


def move(braze_id: str, order: str) -> str:
    return f"{braze_id}:{order}"


def _member_and_order(value: str) -> tuple[str, str]:
    member, _, order = value.rpartition(":")
    return member, order


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

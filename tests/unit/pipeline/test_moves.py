"""Of one member's moves into or out of one step's audience in a batch, only the newest is sent."""

from __future__ import annotations

from audience_sync.core.packing import UserRef
from audience_sync.core.users import QueuedUser
from audience_sync.pipeline.moves import move, superseded


def user(braze_id: str | None, order: int = 0) -> QueuedUser:
    queued: QueuedUser = {"x": braze_id or "webhook-user", "e": "h"}
    if braze_id is not None:
        queued["o"] = move(braze_id, f"{order:012d}")
    return queued


def test_the_newest_move_of_a_member_wins_per_step_and_a_repeat_is_sent_once() -> None:
    steps = ["s1", "s1", "s2"]
    users = [
        [user("b:1", 3), user("b2", 7), user(None), user(None)],  # a braze id may hold ':' (the order is last)
        [user("b:1", 4), user("b2", 7)],  # b2's move again (a message redelivered as another chunk)
        [user("b:1", 1)],  # another step: another audience
    ]
    assert superseded(steps, users) == {UserRef(0, 0), UserRef(1, 1)}


def test_orders_compare_as_the_profile_counts_them_not_as_they_arrive() -> None:
    assert superseded(["s1", "s1"], [[user("b1", 10)], [user("b1", 9)]]) == {UserRef(1, 0)}
    assert superseded(["s1"], [[user(None), user(None)]]) == set()  # webhook users carry no move

"""packing.py: users → LinkedIn requests, grouped by target, at most max per request, in arrival order."""

from __future__ import annotations

import random

import pytest

from audience_sync.core.packing import DEFAULT_MAX_PER_REQUEST, ideal_request_count, pack
from audience_sync.pipeline.messages import QueuedMessage, SyncTarget

A_ADD = SyncTarget(connection_id="linkedin", ad_account_id="1", audience_id="100", action="add")
A_REMOVE = SyncTarget(connection_id="linkedin", ad_account_id="1", audience_id="100", action="remove")
B_ADD = SyncTarget(connection_id="linkedin", ad_account_id="1", audience_id="200", action="add")


def message(target: SyncTarget, n: int, prefix: str = "u") -> QueuedMessage:
    return QueuedMessage(
        chunk_id=f"chunk-{prefix}",
        step_id="s",
        target=target,
        users=[{"x": f"{prefix}{i}"} for i in range(n)],
        first_enqueued_at=0,
    )


def test_never_mixes_audiences_or_actions() -> None:
    messages = [message(A_ADD, 3, "a"), message(B_ADD, 2, "b"), message(A_REMOVE, 2, "r"), message(A_ADD, 1, "c")]
    requests = pack(messages, max_per_request=100)
    assert len(requests) == 3
    for request in requests:
        targets = {messages[ref.message].target.key for ref in request.users}
        assert targets == {request.target.key}
    by_key = {r.target.key: r for r in requests}
    assert len(by_key[A_ADD.key].users) == 4
    assert len(by_key[B_ADD.key].users) == 2
    assert len(by_key[A_REMOVE.key].users) == 2


def test_at_most_max_per_request_and_fill_order() -> None:
    messages = [message(A_ADD, 4, "m0-"), message(A_ADD, 4, "m1-"), message(A_ADD, 4, "m2-")]
    requests = pack(messages, max_per_request=5)
    assert [len(r.users) for r in requests] == [5, 5, 2]
    flat = [messages[ref.message].users[ref.user]["x"] for r in requests for ref in r.users]
    assert flat == [f"m{m}-{u}" for m in range(3) for u in range(4)]


def test_refs_map_back_to_the_right_users() -> None:
    messages = [message(A_ADD, 3, "a"), message(B_ADD, 3, "b")]
    requests = pack(messages)
    seen = set()
    for request in requests:
        for ref in request.users:
            user = messages[ref.message].users[ref.user]
            assert user["x"][0] == ("a" if request.target == A_ADD else "b")
            seen.add((ref.message, ref.user))
    assert seen == {(m, u) for m in range(2) for u in range(3)}


def test_12001_users_in_mixed_sizes_use_the_ideal_number_of_requests() -> None:
    rng = random.Random(7)
    sizes: list[int] = []
    while sum(sizes) < 12_001:
        sizes.append(min(rng.choice([1, 7, 250, 999, 1800, 3333]), 12_001 - sum(sizes)))
    assert sum(sizes) == 12_001
    messages = [message(A_ADD, n, f"m{i}-") for i, n in enumerate(sizes)]
    requests = pack(messages)
    assert len(requests) == ideal_request_count(sizes) == 3
    assert [len(r.users) for r in requests] == [DEFAULT_MAX_PER_REQUEST, DEFAULT_MAX_PER_REQUEST, 2001]
    assert sum(len(r.users) for r in requests) == 12_001


def test_ideal_request_count() -> None:
    assert ideal_request_count([]) == 0
    assert ideal_request_count([5000]) == 1
    assert ideal_request_count([5000, 1]) == 2
    assert ideal_request_count([3, 3], max_per_request=2) == 3


@pytest.mark.parametrize("bad", [0, -1])
def test_max_per_request_below_one_raises(bad: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        pack([message(A_ADD, 1)], max_per_request=bad)


def test_empty_input() -> None:
    assert pack([]) == []

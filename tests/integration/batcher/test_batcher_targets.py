"""Packing against the real sandbox: one request never mixes audiences; REMOVE undoes ADD; 5,000 per request."""

from __future__ import annotations

from tests.integration.batcher.batcher_support import Harness, email_member, email_user


def _sorted(members: list[dict]) -> list[dict]:
    return sorted(members, key=repr)


def test_two_audiences_in_one_invocation_never_share_a_request(connected: Harness) -> None:
    h = connected
    audience_a = h.create_step("step-a")
    audience_b = h.create_step("step-b")
    assert audience_a != audience_b
    # interleave the webhooks so the batch's records alternate between the two targets
    h.post_users("step-a", [email_user(1), email_user(2)])
    h.post_users("step-b", [email_user(10)])
    h.post_users("step-a", [email_user(3)])
    h.post_users("step-b", [email_user(11)])

    delivered, failed = h.sync_once()

    assert (delivered, failed) == (4, [])
    requests = h.user_requests()
    assert sorted((r["path"], r["elements"]) for r in requests) == sorted(
        [(f"/rest/dmpSegments/{audience_a}/users", 3), (f"/rest/dmpSegments/{audience_b}/users", 2)]
    )
    assert _sorted(h.members(audience_a)) == _sorted([email_member(n) for n in (1, 2, 3)])
    assert _sorted(h.members(audience_b)) == _sorted([email_member(n) for n in (10, 11)])
    assert h.metrics("step-a")["synced"] == 3
    assert h.metrics("step-b")["synced"] == 2

    # A REMOVE step on audience A takes users out of it; audience B is untouched.
    assert h.create_step("step-remove", audience={"id": audience_a}, action="remove") == audience_a
    h.post_users("step-remove", [email_user(1), email_user(3), email_user(99)])  # 99 was never added

    assert h.sync_once() == (1, [])

    assert _sorted(h.members(audience_a)) == [email_member(2)]
    assert _sorted(h.members(audience_b)) == _sorted([email_member(n) for n in (10, 11)])
    last = h.user_requests()[-1]
    assert (last["path"], last["elements"], last["status"]) == (f"/rest/dmpSegments/{audience_a}/users", 3, 200)
    metrics = h.metrics("step-remove")
    assert (metrics["entered"], metrics["synced"], metrics["pending"], metrics["errored"]) == (3, 3, 0, 0)


def test_twelve_thousand_users_take_exactly_three_requests(connected: Harness) -> None:
    h = connected
    audience_id = h.create_step("big")
    users = [email_user(n) for n in range(12_000)]
    assert h.post_users("big", users)["accepted"] == 12_000  # two webhooks: 10,000 + 2,000

    records = h.drain()
    assert len(records) > 2  # several SQS messages, all in one invocation
    assert h.invoke_batcher(records) == []

    requests = h.user_requests()
    assert len(requests) == 3
    assert sorted(r["elements"] for r in requests) == [2000, 5000, 5000]
    assert all(r["status"] == 200 for r in requests)
    members = h.members(audience_id)
    assert len(members) == 12_000
    assert {m["userIds"][0]["idValue"] for m in members} == {
        email_member(n)["userIds"][0]["idValue"] for n in range(12_000)
    }
    metrics = h.metrics("big")
    assert (metrics["entered"], metrics["synced"], metrics["pending"], metrics["errored"]) == (12_000, 12_000, 0, 0)

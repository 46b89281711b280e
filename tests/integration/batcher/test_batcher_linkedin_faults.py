"""LinkedIn says no: a bad element ends only its user; throttles, 5xx and timeouts retry the whole request
later without double counting; a deleted audience defers its users."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.batcher.batcher_support import FAST_RETRIES, Harness, email_member, email_user


def _sorted(members: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(members, key=repr)


def _invariant_holds(metrics: dict[str, int]) -> bool:
    return metrics["entered"] == metrics["synced"] + metrics["not_synced"] + metrics["errored"] + metrics["pending"]


def test_a_rejected_element_errors_only_its_user(connected: Harness) -> None:
    h = connected
    audience_id = h.create_step("bad-gaid")
    h.post_users("bad-gaid", [email_user(1), {"external_id": "long", "android_gaid": "a" * 65}, email_user(2)])

    assert h.sync_once() == (1, [])

    (request,) = h.user_requests()
    assert (request["status"], request["elements"]) == (200, 3)  # partial success: one element rejected
    assert _sorted(h.members(audience_id)) == _sorted([email_member(1), email_member(2)])
    metrics = h.metrics("bad-gaid")
    assert (metrics["entered"], metrics["synced"], metrics["errored"], metrics["pending"]) == (3, 2, 1, 0)
    assert _invariant_holds(metrics)
    reasons = {k: int(v) for k, v in h.metrics_item("bad-gaid").items() if k.startswith("errored_reason_")}
    assert reasons == {"errored_reason_linkedin_400_invalid_element": 1}
    assert h.queue_counts()["ApproximateNumberOfMessagesDelayed"] == 0  # nothing retried


@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_failed_request_is_retried_and_syncs_each_user_once(connected: Harness, status: int) -> None:
    h = connected
    h.set_time_scale(FAST_RETRIES)  # retry delay 5 s / 1000 -> 0: the retry is visible at once
    audience_id = h.create_step("throttled")
    h.post_users("throttled", [email_user(n) for n in range(3)])
    h.add_fault(status=status, count=1)

    assert h.sync_once() == (1, [])  # handed to the retry, so the original message is done

    assert h.members(audience_id) == []
    metrics = h.metrics("throttled")
    assert (metrics["entered"], metrics["synced"], metrics["errored"], metrics["pending"]) == (3, 0, 0, 3)
    retried = h.drain()
    assert len(retried) == 1
    message = json.loads(retried[0]["body"])
    assert message["attempt"] == 1
    assert message["last_error"].startswith(f"linkedin_{status}")
    assert sorted(u["x"] for u in message["users"]) == ["u0", "u1", "u2"]

    assert h.invoke_batcher(retried) == []

    assert _sorted(h.members(audience_id)) == _sorted([email_member(n) for n in range(3)])
    assert h.segment(audience_id)["input_count"] == 3  # each user sent successfully exactly once
    assert [r["status"] for r in h.user_requests()] == [status, 200]
    metrics = h.metrics("throttled")
    assert (metrics["entered"], metrics["synced"], metrics["errored"], metrics["pending"]) == (3, 3, 0, 0)
    assert h.drain() == []


def test_a_timeout_is_retried_not_errored(connected: Harness) -> None:
    h = connected
    h.set_time_scale(FAST_RETRIES)
    audience_id = h.create_step("slow")
    h.post_users("slow", [email_user(n) for n in range(2)])
    # Warm the batcher container and give its LinkedIn client a read timeout far below the fault's delay.
    function = h.stack.stack.functions["BatcherFunction"]
    module = function._load()
    module.batcher().linkedin.timeout = (1.0, 0.2)
    function._idle.put(module)
    h.add_fault(status=None, delay_seconds=0.8, count=1)

    assert h.sync_once() == (1, [])

    metrics = h.metrics("slow")
    assert (metrics["synced"], metrics["errored"], metrics["pending"]) == (0, 0, 2)
    retried = h.drain()
    assert len(retried) == 1
    assert json.loads(retried[0]["body"])["last_error"] == "linkedin_timeout"
    assert h.invoke_batcher(retried) == []
    assert _sorted(h.members(audience_id)) == _sorted([email_member(n) for n in range(2)])
    metrics = h.metrics("slow")
    assert (metrics["synced"], metrics["errored"], metrics["pending"]) == (2, 0, 0)


def test_a_deleted_audience_defers_its_users(connected: Harness) -> None:
    h = connected  # TIME_SCALE 1: the retry waits 5 s on the queue
    audience_id = h.create_step("gone")
    h.post_users("gone", [email_user(n) for n in range(3)])
    h.sandbox("DELETE", f"/_sandbox/segments/{audience_id}", expect=200)

    assert h.sync_once() == (1, [])

    (request,) = h.user_requests()
    assert request["status"] == 404
    metrics = h.metrics("gone")
    assert (metrics["entered"], metrics["synced"], metrics["errored"], metrics["pending"]) == (3, 0, 0, 3)
    assert _invariant_holds(metrics)
    counts = h.queue_counts()
    assert counts["ApproximateNumberOfMessagesDelayed"] == 1
    assert counts["ApproximateNumberOfMessages"] == 0

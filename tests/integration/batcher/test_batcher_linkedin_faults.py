"""LinkedIn says no: a bad element ends only its user; throttles, 5xx and timeouts hand the request's users to
the Step Functions retry (run by moto, waits scaled), which syncs each once; a deleted audience becomes a step
error and its users end errored at the horizon."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.batcher.batcher_support import Harness, email_member, email_user


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
    assert h.executions() == []  # nothing retried


@pytest.mark.parametrize(("status", "faults"), [(429, 2), (500, 1), (503, 1)])
def test_a_failed_request_is_retried_and_syncs_each_user_once(connected: Harness, status: int, faults: int) -> None:
    h = connected
    audience_id = h.create_step("throttled")
    h.post_users("throttled", [email_user(n) for n in range(3)])
    h.add_fault(status=status, count=faults)  # a 429 is sent once more at once: throttled twice, it waits

    assert h.sync_once() == (1, [])  # handed to the retry, so the original message is done

    (execution,) = h.settle_retries()
    assert execution["status"] == "SUCCEEDED"
    assert _sorted(h.members(audience_id)) == _sorted([email_member(n) for n in range(3)])
    assert h.segment(audience_id)["input_count"] == 3  # each user sent successfully exactly once
    assert [r["status"] for r in h.user_requests()] == [status] * faults + [200]
    metrics = h.metrics("throttled")
    assert (metrics["entered"], metrics["synced"], metrics["errored"], metrics["pending"]) == (3, 3, 0, 0)
    assert h.drain() == []
    assert h.retry_objects() == []  # the settled batch was deleted from S3


def test_a_request_throttled_once_is_sent_again_at_once(connected: Harness) -> None:
    h = connected
    audience_id = h.create_step("bunched")
    h.post_users("bunched", [email_user(n) for n in range(3)])
    h.add_fault(status=429, count=1)

    assert h.sync_once() == (1, [])
    assert h.executions() == []  # nothing waits in the retry
    assert [r["status"] for r in h.user_requests()] == [429, 200]
    assert _sorted(h.members(audience_id)) == _sorted([email_member(n) for n in range(3)])
    assert h.metrics("bunched")["synced"] == 3


def test_a_timeout_is_retried_not_errored(connected: Harness) -> None:
    h = connected
    audience_id = h.create_step("slow")
    h.post_users("slow", [email_user(n) for n in range(2)])
    # Warm the batcher container and give its LinkedIn client a read timeout far below the fault's delay.
    function = h.stack.stack.functions["BatcherFunction"]
    module = function._load()
    module.services().linkedin.client.timeout = (1.0, 0.2)
    function._idle.put(module)
    h.add_fault(status=None, delay_seconds=0.8, count=1)

    assert h.sync_once() == (1, [])

    (execution,) = h.settle_retries()
    assert execution["status"] == "SUCCEEDED"
    assert [r["status"] for r in h.user_requests()][-1] == 200
    assert _sorted(h.members(audience_id)) == _sorted([email_member(n) for n in range(2)])
    metrics = h.metrics("slow")
    assert (metrics["synced"], metrics["errored"], metrics["pending"]) == (2, 0, 0)


def test_a_deleted_audience_is_a_step_error_and_its_users_end_errored(connected: Harness) -> None:
    h = connected
    audience_id = h.create_step("gone")
    h.post_users("gone", [email_user(n) for n in range(3)])
    h.sandbox("DELETE", f"/_sandbox/segments/{audience_id}", expect=200)

    assert h.sync_once() == (1, [])

    (execution,) = h.settle_retries()
    assert execution["status"] == "SUCCEEDED"
    statuses = [r["status"] for r in h.user_requests()]
    assert set(statuses) == {404}
    assert len(statuses) == 1 + len(h.schedule())  # the first send and one attempt per wait
    assert h.call("GET", "/v1/steps/gone")["error"] == "audience_not_found"
    metrics = h.metrics("gone")
    assert (metrics["entered"], metrics["synced"], metrics["errored"], metrics["pending"]) == (3, 0, 3, 0)
    reasons = {k: int(v) for k, v in h.metrics_item("gone").items() if k.startswith("errored_reason_")}
    assert reasons == {"errored_reason_retry_horizon_linkedin_audience_not_found": 3}

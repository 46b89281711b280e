"""The retry horizon, on a stack provisioned with RetryHorizonSeconds=600 (schedule 30, 60, 120, 240, 150 s):
users LinkedIn never takes end errored once, after exactly one attempt per wait; the last attempt still syncs."""

from __future__ import annotations

import pytest

from audience_sync.core.backoff import retry_schedule
from tests.integration.retry.conftest import SHORT_HORIZON_SECONDS
from tests.integration.retry.retry_support import (
    Crash,
    InjectedCrash,
    RetryHarness,
    email_user,
    expected_members,
    sorted_members,
)

USERS = range(3)


def _post(h: RetryHarness, step_id: str) -> str:
    audience_id = h.create_step(step_id)
    h.post_users(step_id, [email_user(n) for n in USERS])
    return audience_id


def test_the_short_horizon_stack_has_the_short_schedule(short: RetryHarness) -> None:
    assert short.schedule() == retry_schedule(SHORT_HORIZON_SECONDS) == (30, 60, 120, 240, 150)


def test_a_permanently_failing_audience_ends_errored_at_the_horizon(short: RetryHarness) -> None:
    h = short
    audience_id = _post(h, "down")
    h.add_fault(status=500)  # every request, forever
    schedule = h.schedule()

    assert h.sync_once() == (1, [])

    (execution,) = h.settle_retries()
    assert execution["status"] == "SUCCEEDED"
    assert h.execution_output(execution) == {"outcome": "settled", "attempt": len(schedule)}
    statuses = [r["status"] for r in h.user_requests()]
    assert statuses == [500] * (len(schedule) + 1)  # the first send, then one attempt per wait
    waits = h.requested_waits()
    assert waits == [("wait", float(w)) for w in schedule]
    assert sum(w for _, w in waits) == SHORT_HORIZON_SECONDS
    chain = h.attempt_chain(execution["name"])
    assert len(chain) == len(schedule)
    assert sorted(chain) == h.ledger_ids("retry:")
    (reason,) = h.errored_reasons("down")
    assert reason.startswith("retry_horizon_linkedin_500_"), reason
    assert h.errored_reasons("down") == {reason: len(USERS)}
    h.assert_counted_once("down", entered=len(USERS), synced=0, errored=len(USERS))
    assert h.members(audience_id) == []
    assert h.retry_objects() == []


def test_the_last_attempt_before_the_horizon_still_syncs(short: RetryHarness) -> None:
    h = short
    audience_id = _post(h, "last-chance")
    schedule = h.schedule()
    h.add_fault(status=503, count=len(schedule))  # the first send and every attempt but the last fail

    assert h.sync_once() == (1, [])

    (execution,) = h.settle_retries()
    assert execution["status"] == "SUCCEEDED"
    assert [r["status"] for r in h.user_requests()] == [503] * len(schedule) + [200]
    assert sorted_members(h.members(audience_id)) == expected_members(USERS)
    assert h.errored_reasons("last-chance") == {}
    h.assert_counted_once("last-chance", entered=len(USERS), synced=len(USERS))


def test_a_crash_of_the_final_attempt_after_its_ledger_write_errors_each_user_once(short: RetryHarness) -> None:
    h = short
    _post(h, "final-crash")
    h.add_fault(status=500)
    final = f"/{len(h.schedule())}.json"
    crash = h.crash_retry_function(Crash(InjectedCrash, when=lambda key: key.endswith(final)), "retries", "delete")

    assert h.sync_once() == (1, [])

    (execution,) = h.settle_retries()
    assert crash.fired == 1
    assert execution["status"] == "SUCCEEDED"
    assert h.history_types(execution).count("TaskFailed") == 1
    assert len(h.user_requests()) == len(h.schedule()) + 1  # the retried final attempt did not send again
    assert sum(h.errored_reasons("final-crash").values()) == len(USERS)
    h.assert_counted_once("final-crash", entered=len(USERS), synced=0, errored=len(USERS))


@pytest.mark.parametrize("status", [429, 500])
def test_throttled_and_failing_requests_have_their_own_horizon_reason(short: RetryHarness, status: int) -> None:
    h = short
    _post(h, "reason")
    h.add_fault(status=status)

    assert h.sync_once() == (1, [])
    h.settle_retries()

    (reason,) = h.errored_reasons("reason")
    assert reason.startswith(f"retry_horizon_linkedin_{status}_"), reason
    h.assert_counted_once("reason", entered=len(USERS), synced=0, errored=len(USERS))

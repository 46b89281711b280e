"""IntegrationErrorsTopic (an SQS queue subscribed to it in moto): one notification per transition into an
error (invalid token, step error, users errored at the horizon), never one per failed request, never any user
data. The stack has a 600 s horizon (60 ms at the tests' time scale)."""

from __future__ import annotations

import json
from typing import Any

from tests.integration.retry.retry_support import (
    Crash,
    InjectedCrash,
    Notifications,
    RetryHarness,
    email_user,
    expected_members,
    sorted_members,
    user_data,
)

FIRST, SECOND = range(3), range(10, 14)
# What a notification may say: the error, advice, when, which step and connection reason, counts.
ALLOWED_FIELDS = {"error", "advice", "at", "step_id", "reason", "users", "reasons"}


def _no_user_data(notifications: list[dict[str, Any]], numbers: list[int]) -> None:
    for notification in notifications:
        assert set(notification["body"]) <= ALLOWED_FIELDS, notification["body"]
        text = json.dumps(notification)
        assert [data for data in user_data(numbers) if data in text] == []


def test_an_invalid_token_is_notified_once_per_transition(
    short: RetryHarness, notifications_of_short: Notifications
) -> None:
    h, notes = short, notifications_of_short
    h.create_step("revoked")
    attempts = len(h.schedule())

    for wave in (FIRST, SECOND):
        assert h.sandbox("POST", "/_sandbox/tokens/revoke", expect=200)["revoked"] >= 1
        h.post_users("revoked", [email_user(n) for n in wave])
        assert h.sync_once() == (1, [])
        assert {e["status"] for e in h.settle_retries()} == {"SUCCEEDED"}
        assert h.connection()["status"] == "invalid_token"
        if wave == FIRST:
            # One transition: one invalid_token, although the first send and every attempt failed; then the
            # horizon errors the waiting users, notified once with counts only.
            assert notes.codes() == ["invalid_token", "users_errored"]
            invalid, errored = notes.received
            assert invalid["body"]["reason"] == "refresh_failed_invalid_grant"
            assert errored["body"]["users"] == len(FIRST)
            assert errored["body"]["reasons"] == {"retry_horizon_linkedin_invalid_token": len(FIRST)}
            assert errored["Subject"] == "audience-sync: users_errored on step revoked"
            assert h.connect()["status"] == "connected"  # the end of the transition

    assert notes.codes() == ["invalid_token", "users_errored"] * 2  # the second revocation is a new transition
    assert len(h.ledger_ids("retry:")) == 2 * attempts
    _no_user_data(notes.received, [*FIRST, *SECOND])
    total = len(FIRST) + len(SECOND)
    h.assert_counted_once("revoked", entered=total, synced=0, errored=total)


def test_a_step_error_is_notified_once_per_transition(
    short: RetryHarness, notifications_of_short: Notifications
) -> None:
    h, notes = short, notifications_of_short
    audience_id = h.create_step("viewer")

    h.add_fault(status=403, count=2)  # the first send and attempt 1: the member lost the ad account role
    h.post_users("viewer", [email_user(n) for n in FIRST])
    assert h.sync_once() == (1, [])
    h.settle_retries()
    assert h.call("GET", "/v1/steps/viewer")["error"] is None  # attempt 2 succeeded and cleared it
    assert notes.codes() == ["ad_account_access"]

    h.add_fault(status=403, count=1)  # the role is lost again: a new transition
    h.post_users("viewer", [email_user(n) for n in SECOND])
    assert h.sync_once() == (1, [])
    assert h.call("GET", "/v1/steps/viewer")["error"] in {"ad_account_access", None}
    h.settle_retries()

    assert [r["status"] for r in h.user_requests()] == [403, 403, 200, 403, 200]
    assert notes.codes() == ["ad_account_access", "ad_account_access"]
    assert {n["Subject"] for n in notes.received} == {"audience-sync: ad_account_access on step viewer"}
    assert {n["body"]["step_id"] for n in notes.received} == {"viewer"}
    _no_user_data(notes.received, [*FIRST, *SECOND])
    assert sorted_members(h.members(audience_id)) == expected_members([*FIRST, *SECOND])
    total = len(FIRST) + len(SECOND)
    h.assert_counted_once("viewer", entered=total, synced=total)


def test_a_deleted_audience_is_notified_once_then_its_users_once(
    short: RetryHarness, notifications_of_short: Notifications
) -> None:
    h, notes = short, notifications_of_short
    audience_id = h.create_step("gone")
    h.post_users("gone", [email_user(n) for n in FIRST])
    h.sandbox("DELETE", f"/_sandbox/segments/{audience_id}", expect=200)

    assert h.sync_once() == (1, [])
    h.settle_retries()

    statuses = [r["status"] for r in h.user_requests()]
    assert statuses == [404] * (len(h.schedule()) + 1)  # attempts 3, 4 and 5 all found the audience gone...
    assert notes.codes() == ["audience_not_found", "users_errored"]  # ...notified once
    assert notes.received[1]["body"]["reasons"] == {"retry_horizon_linkedin_audience_not_found": len(FIRST)}
    _no_user_data(notes.received, list(FIRST))
    h.assert_counted_once("gone", entered=len(FIRST), synced=0, errored=len(FIRST))


def test_users_errored_is_notified_even_if_the_final_attempt_crashes_after_its_ledger_write(
    short: RetryHarness, notifications_of_short: Notifications
) -> None:
    h, notes = short, notifications_of_short
    h.create_step("final-crash")
    h.post_users("final-crash", [email_user(n) for n in FIRST])
    h.add_fault(status=500)
    final = f"/{len(h.schedule())}.json"
    crash = h.crash_retry_function(Crash(InjectedCrash, when=lambda key: key.endswith(final)), "retries", "delete")

    assert h.sync_once() == (1, [])
    h.settle_retries()

    assert crash.fired == 1
    h.assert_counted_once("final-crash", entered=len(FIRST), synced=0, errored=len(FIRST))
    assert notes.codes() == ["users_errored"]

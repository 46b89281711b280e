"""The LinkedIn token in the batcher and in the scheduled refresher: expired → refreshed in place;
revoked → the connection is `invalid_token`, users wait (nothing errored) and sync after reconnecting."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.integration.batcher.batcher_support import Harness, email_member, email_user

DAY = 86_400


def _sorted(members: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(members, key=repr)


def test_an_expired_token_is_refreshed_and_used_in_the_same_invocation(connected: Harness) -> None:
    h = connected
    audience_id = h.create_step("expiry")
    h.post_users("expiry", [email_user(n) for n in range(3)])
    before = h.connection_item()
    assert h.sandbox("POST", "/_sandbox/tokens/expire", expect=200)["expired"] >= 1

    assert h.sync_once() == (1, [])

    first, second = h.user_requests()
    assert (first["status"], second["status"]) == (401, 200)
    assert first["token_id"] != second["token_id"]  # the retry used the refreshed token
    assert _sorted(h.members(audience_id)) == _sorted([email_member(n) for n in range(3)])
    metrics = h.metrics("expiry")
    assert (metrics["synced"], metrics["pending"], metrics["errored"]) == (3, 0, 0)
    assert h.connection()["status"] == "connected"
    after = h.connection_item()
    assert int(after["version"]) == int(before["version"]) + 1
    assert bytes(after["token_ct"].value) != bytes(before["token_ct"].value)
    assert sum(h.queue_counts().values()) == 0
    assert h.executions() == []  # nothing handed to the retry


def test_a_revoked_grant_marks_the_connection_and_users_wait_for_a_reconnect(
    connected: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = connected
    h.retry_time_scale(780)  # the 13 h horizon in 60 s: long enough to reconnect inside it
    audience_id = h.create_step("revoked")
    h.post_users("revoked", [email_user(n) for n in range(3)])
    assert h.sandbox("POST", "/_sandbox/tokens/revoke", expect=200)["revoked"] >= 1

    assert h.sync_once() == (1, [])

    connection = h.connection()
    assert connection["status"] == "invalid_token"
    assert connection["error"].startswith("refresh_failed_invalid_grant")
    marked = [r for r in caplog.records if "invalid_token" in r.getMessage() and r.levelname == "WARNING"]
    assert len(marked) == 1  # an operator reading the logs sees the moment it happened, once
    assert "access_token" not in json.dumps(connection).replace("access_token_expires_at", "")
    assert h.members(audience_id) == []
    metrics = h.metrics("revoked")
    assert (metrics["entered"], metrics["synced"], metrics["errored"], metrics["pending"]) == (3, 0, 0, 3)

    # Still disconnected: retry attempts do not call LinkedIn at all and keep the users waiting.
    calls = len(h.user_requests())
    deadline = time.monotonic() + 30
    while len(h.ledger_ids("retry:")) < 3:
        assert time.monotonic() < deadline, "the retry made no attempts"
        time.sleep(0.05)
    assert len(h.user_requests()) == calls
    assert h.metrics("revoked")["pending"] == 3
    assert [e["status"] for e in h.executions()] == ["RUNNING"]

    assert h.connect()["status"] == "connected"
    (execution,) = h.settle_retries()

    assert execution["status"] == "SUCCEEDED"
    assert _sorted(h.members(audience_id)) == _sorted([email_member(n) for n in range(3)])
    metrics = h.metrics("revoked")
    assert (metrics["entered"], metrics["synced"], metrics["errored"], metrics["pending"]) == (3, 3, 0, 0)
    assert h.connection()["status"] == "connected"


def test_token_refresh_function_refreshes_only_when_expiry_is_near(connected: Harness) -> None:
    h = connected
    original = h.connection_item()
    original_token = h.sandbox("GET", "/_sandbox/requests", expect=200)[-1]["token_id"]

    far = h.stack.invoke("TokenRefreshFunction", {})
    assert far == {"refreshed": False, "status": "connected"}
    unchanged = h.connection_item()
    assert int(unchanged["version"]) == int(original["version"])
    assert bytes(unchanged["token_ct"].value) == bytes(original["token_ct"].value)

    table = h.dynamodb.Table(h.stack.stack.ref("ConnectionsTable"))
    table.update_item(
        Key={"pk": "connection#linkedin"},
        UpdateExpression="SET access_expires_at = :e",
        ExpressionAttributeValues={":e": int(time.time()) + 6 * DAY},
    )
    near = h.stack.invoke("TokenRefreshFunction", {})

    assert near == {"refreshed": True, "status": "connected"}
    refreshed = h.connection_item()
    assert int(refreshed["version"]) == int(original["version"]) + 1
    assert bytes(refreshed["token_ct"].value) != bytes(original["token_ct"].value)
    assert int(refreshed["access_expires_at"]) > time.time() + 59 * DAY
    assert h.connection()["status"] == "connected"

    # the batcher uses the new token
    audience_id = h.create_step("after-refresh")
    h.post_users("after-refresh", [email_user(1)])
    assert h.sync_once() == (1, [])
    (request,) = h.user_requests()
    assert request["status"] == 200
    assert request["token_id"] != original_token
    assert h.members(audience_id) == [email_member(1)]

    again = h.stack.invoke("TokenRefreshFunction", {})
    assert again == {"refreshed": False, "status": "connected"}
    assert int(h.connection_item()["version"]) == int(refreshed["version"])

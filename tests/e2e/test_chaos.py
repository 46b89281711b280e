"""Chaos end to end: `python -m localmode` with TIME_SCALE=600 (the 13 h retry horizon in 78 s) against an
independent LinkedIn-compatible endpoint that throttles and fails at random, while local mode crashes batchers
and retry attempts mid-way and redelivers messages. At rest every step must satisfy
entered == synced + not_synced + errored with pending == 0, and every user must be in the audience once."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.local_service import Service, configure_and_launch, connect, local_service, metrics, post_users, sha

pytestmark = pytest.mark.e2e

TIME_SCALE = 600
HORIZON_SECONDS = 46_800 / TIME_SCALE  # 78 s


def _env(linkedin: str, **extra: str) -> dict[str, str]:
    return {
        "LINKEDIN_API_URL": f"{linkedin}/rest",
        "LINKEDIN_OAUTH_URL": f"{linkedin}/oauth/v2",
        "TIME_SCALE": str(TIME_SCALE),
        **extra,
    }


def _users(prefix: str, n: int) -> list[dict[str, Any]]:
    return [{"external_id": f"{prefix}-{i}", "email": f"{prefix}{i}@example.com"} for i in range(n)]


def _settle(service: Service, entered: dict[str, int], timeout: float) -> dict[str, dict[str, int]]:
    """Poll until every step has counted all its users as entered (the batcher records a webhook's counts
    with its users) and has nothing pending, then return their metrics."""
    deadline = time.monotonic() + timeout
    while True:
        current = {step: metrics(service, step) for step in entered}
        if all(m["entered"] >= entered[step] and m["pending"] == 0 for step, m in current.items()):
            return current
        if time.monotonic() > deadline:
            raise AssertionError(f"still pending after {timeout} s: {current}\n{service.log()[-6000:]}")
        time.sleep(0.5)  # polling an asynchronous pipeline over HTTP


def _members(linkedin: str, audience_id: str) -> list[str]:
    body = requests.get(f"{linkedin}/_sandbox/segments/{audience_id}/members", timeout=10).json()
    return [m["userIds"][0]["idValue"] for m in body["members"]]


def _user_requests(linkedin: str) -> list[dict[str, Any]]:
    log = requests.get(f"{linkedin}/_sandbox/requests", timeout=10).json()
    return [r for r in log if r["method"] == "POST" and r["path"].endswith("/users")]


def _fault(linkedin: str, **rule: Any) -> None:
    response = requests.post(f"{linkedin}/_sandbox/faults", json=rule, timeout=10)
    assert response.status_code == 201, response.text


def test_chaos_nothing_lost_nothing_counted_twice(tmp_path: Path, external_linkedin: str) -> None:
    linkedin = external_linkedin
    env = _env(linkedin, CHAOS_CRASH_PROBABILITY="0.2", LINKEDIN_MAX_ELEMENTS="250")
    with local_service(tmp_path, **env) as service:
        connect(service)
        busy = configure_and_launch(service, "busy", match_fields=["email"])
        doomed = configure_and_launch(service, "doomed", match_fields=["email"])
        assert requests.delete(f"{linkedin}/_sandbox/segments/{doomed}", timeout=10).status_code == 200
        _fault(linkedin, status=500, count=2, path_contains="/users")  # certain, so the check below always means it
        _fault(linkedin, status=429, probability=0.4, path_contains="/users")
        _fault(linkedin, status=500, probability=0.1, path_contains="/users")

        busy_users = _users("busy", 2000)
        for start in range(0, 2000, 500):
            body = {"users": busy_users[start : start + 500], "idempotency_key": f"busy-{start}"}
            assert post_users(service, "busy", body).status_code == 202
        # the client retries one webhook: same key, same users -> counted once
        assert post_users(service, "busy", {"users": busy_users[:500], "idempotency_key": "busy-0"}).status_code == 202
        assert post_users(service, "doomed", {"users": _users("doomed", 200)}).status_code == 202
        posted_at = time.monotonic()

        settled = _settle(service, {"busy": 2000, "doomed": 200}, timeout=HORIZON_SECONDS + 60)
        elapsed = time.monotonic() - posted_at
        step_error = requests.get(service.url("/v1/steps/doomed"), headers=service.headers, timeout=10).json()
        chaos_lines = [line for line in service.log().splitlines() if "chaos:" in line]

    for step, m in settled.items():
        assert m["entered"] == m["synced"] + m["not_synced"] + m["errored"], (step, m)
    assert (settled["busy"]["entered"], settled["busy"]["synced"], settled["busy"]["errored"]) == (2000, 2000, 0)
    members = _members(linkedin, busy)
    assert len(members) == len(set(members)) == 2000  # every user in the audience exactly once
    assert set(members) == {sha(f"busy{i}@example.com") for i in range(2000)}

    # the deleted audience: every user errored at the horizon, after retries spread over it
    assert (settled["doomed"]["entered"], settled["doomed"]["synced"], settled["doomed"]["errored"]) == (200, 0, 200)
    assert step_error["error"] == "audience_not_found"
    assert elapsed >= HORIZON_SECONDS * 0.9
    doomed_calls = [r for r in _user_requests(linkedin) if f"/dmpSegments/{doomed}/" in r["path"]]
    assert len(doomed_calls) >= 10
    assert doomed_calls[-1]["t"] - doomed_calls[0]["t"] >= HORIZON_SECONDS * 0.9  # spread over the horizon
    statuses = [r["status"] for r in _user_requests(linkedin)]
    assert statuses.count(429) > 0 and statuses.count(500) > 0  # the faults did happen
    assert len(chaos_lines) > 0, "no crash was injected"


def test_revoked_token_is_visible_within_seconds_and_reconnecting_syncs_every_waiting_user(
    tmp_path: Path, external_linkedin: str
) -> None:
    linkedin = external_linkedin
    with local_service(tmp_path, **_env(linkedin)) as service:
        connect(service)
        audience_id = configure_and_launch(service, "patient", match_fields=["email"])
        revoked = requests.post(f"{linkedin}/_sandbox/tokens/revoke", timeout=10).json()
        assert revoked["revoked"] >= 1
        assert post_users(service, "patient", {"users": _users("patient", 300)}).status_code == 202
        posted_at = time.monotonic()

        def connection() -> dict[str, Any]:
            url = service.url("/v1/connections/linkedin")
            body: dict[str, Any] = requests.get(url, headers=service.headers, timeout=10).json()
            return body

        while connection()["status"] != "invalid_token":
            assert time.monotonic() - posted_at < 15, connection()
            time.sleep(0.2)  # polling over HTTP
        seen_after = time.monotonic() - posted_at
        time.sleep(10)  # users wait in the retry (≈ 2 h of scaled time) while nobody reconnects
        waiting = metrics(service, "patient")
        assert (waiting["synced"], waiting["errored"], waiting["pending"]) == (0, 0, 300)

        assert connect(service)["status"] == "connected"
        settled = _settle(service, {"patient": 300}, timeout=HORIZON_SECONDS)

    assert seen_after < 5 + 1 + 5  # propagation wait + one flush + a margin: "within seconds"
    assert (settled["patient"]["entered"], settled["patient"]["synced"], settled["patient"]["errored"]) == (300, 300, 0)
    assert sorted(_members(linkedin, audience_id)) == sorted(sha(f"patient{i}@example.com") for i in range(300))

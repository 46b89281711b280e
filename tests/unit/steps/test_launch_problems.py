"""steps/launch.py, launch_problems: every reason a step cannot launch, reported at once."""

from __future__ import annotations

from typing import Any

from audience_sync.steps.launch import launch_problems

CONNECTED = {
    "status": "connected",
    "ad_accounts": [
        {"id": "507", "name": "Acme", "role": "CAMPAIGN_MANAGER", "usable": True},
        {"id": "508", "name": "Viewer", "role": "VIEWER", "usable": False},
    ],
}
GOOD: dict[str, Any] = {"ad_account_id": "507", "audience": {"name": "Churned"}, "match_fields": ["email"]}


def codes(problems: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(p["field"], p["code"]) for p in problems]


def test_all_good() -> None:
    assert launch_problems(GOOD, CONNECTED) == []
    assert launch_problems({**GOOD, "audience": {"id": "123"}}, CONNECTED) == []


def test_every_problem_at_once() -> None:
    problems = launch_problems({}, {"status": "disconnected", "ad_accounts": []})
    assert codes(problems) == [
        ("connection", "linkedin_disconnected"),
        ("ad_account_id", "required"),
        ("audience", "required"),
        ("match_fields", "required"),
    ]
    assert all(p["message"] for p in problems)


def test_invalid_token_connection() -> None:
    problems = launch_problems(GOOD, {"status": "invalid_token", "ad_accounts": CONNECTED["ad_accounts"]})
    assert codes(problems) == [("connection", "linkedin_invalid_token")]


def test_viewer_account_is_read_only() -> None:
    problems = launch_problems({**GOOD, "ad_account_id": "508"}, CONNECTED)
    assert codes(problems) == [("ad_account_id", "ad_account_read_only")]
    assert "VIEWER" in problems[0]["message"]


def test_unknown_account() -> None:
    assert codes(launch_problems({**GOOD, "ad_account_id": "999"}, CONNECTED)) == [
        ("ad_account_id", "unknown_ad_account")
    ]


def test_empty_audience_and_match_fields() -> None:
    problems = launch_problems({**GOOD, "audience": {}, "match_fields": []}, CONNECTED)
    assert codes(problems) == [("audience", "required"), ("match_fields", "required")]

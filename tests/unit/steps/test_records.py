"""steps/records.py: what a PUT does to a stored step, and what the API shows of one."""

from __future__ import annotations

from typing import Any

from audience_sync.steps.records import ACTIVE, DRAFT, configured, step_view, sync_target

CONFIG: dict[str, Any] = {
    "destination": "linkedin",
    "partner": "linkedin",
    "ad_account_id": "507",
    "audience": {"name": "Churned"},
    "action": "add",
    "match_fields": ["email"],
}


def active(**extra: Any) -> dict[str, Any]:
    return {"step_id": "s1", "status": ACTIVE, "config": CONFIG, "audience_id": "9", "created_at": 1, **extra}


def test_a_new_step_is_a_draft() -> None:
    item = configured(None, "s1", CONFIG, now=5)
    assert (item["status"], item["created_at"], item["updated_at"], item["config"]) == (DRAFT, 5, 5, CONFIG)


def test_changing_what_the_step_targets_takes_it_back_to_draft_and_clears_its_errors() -> None:
    for change in ({"ad_account_id": "508"}, {"audience": {"id": "77"}}, {"action": "remove"}):
        item = configured(
            active(error="audience_not_found", audience_status_error="audience_expired"), "s1", {**CONFIG, **change}, 9
        )
        assert item["status"] == DRAFT, change
        assert "error" not in item and "audience_status_error" not in item


def test_other_changes_keep_the_step_active_and_its_errors() -> None:
    more_fields = {**CONFIG, "match_fields": ["email", "android_gaid"]}
    item = configured(active(error="ad_account_access"), "s1", more_fields, 9)
    assert (item["status"], item["error"], item["created_at"], item["updated_at"]) == (
        ACTIVE,
        "ad_account_access",
        1,
        9,
    )


def test_a_config_stored_before_destinations_had_names_is_linkedins() -> None:
    legacy = {k: v for k, v in CONFIG.items() if k != "destination"}
    view = step_view(active(config=legacy))
    assert (view["config"]["destination"], view["config"]["partner"]) == ("linkedin", "linkedin")
    assert configured(active(config=legacy), "s1", CONFIG, 9)["status"] == ACTIVE  # the same target, named anew
    target = sync_target(active(config=legacy))
    assert (target.destination, target.connection_id, target.audience_id) == ("linkedin", "linkedin", "9")


def test_the_view_names_both_errors_the_sync_one_first() -> None:
    view = step_view(active(error="ad_account_access", audience_status_error="audience_expired"))
    assert (view["error"], view["errors"]) == ("ad_account_access", ["ad_account_access", "audience_expired"])

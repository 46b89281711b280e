"""The partner cohort import's bodies (contract v2 §3): validated whole, deterministic, one operation per user."""

from __future__ import annotations

import json
from typing import Any

import pytest

from audience_sync.cohorts.requests import MAX_IDS, TOO_MANY_IDS, plan_changes, plan_definition
from audience_sync.core.errors import Invalid


def _ops(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(q.encoded) for q in plan_changes("segment", body).operations]


def test_changes_become_one_operation_per_user_and_removals_apply_after_additions() -> None:
    body = {
        "cohort_id": "aud_2x9",
        "cohort_changes": [
            {"user_ids": ["u-9"], "aliases": [{"alias_name": "a@x.io", "alias_label": "email"}], "should_remove": True},
            {"user_ids": ["u-1", "u-2", "u-1", "u-9"]},  # an add after the remove: still removed
        ],
    }
    ops = _ops(body)
    assert [(o["identity"], o["member"]) for o in ops] == [
        ("x:u-9", False),
        ("a:email:a@x.io", False),
        ("x:u-1", True),
        ("x:u-2", True),
    ]
    assert {o["kind"] for o in ops} == {"cohort"} and {o["cohort"] for o in ops} == {"segment:aud_2x9"}
    assert not any(o["create"] for o in ops)  # a cohort never creates a user


def test_device_ids_are_counted_as_ignored_and_an_empty_change_list_is_a_credentials_test() -> None:
    changes = plan_changes("segment", {"cohort_id": "c", "cohort_changes": [{"device_ids": ["d1", "d2"]}]})
    assert changes.operations == [] and changes.ignored_device_ids == 2
    assert plan_changes("segment", {"cohort_id": "will_add_in_constant", "cohort_changes": []}).operations == []


def test_more_than_1000_ids_in_all_is_refused_with_brazes_words() -> None:
    half = [f"u{i}" for i in range(MAX_IDS // 2)]
    at_limit = {"cohort_id": "c", "cohort_changes": [{"user_ids": half}, {"user_ids": half, "should_remove": True}]}
    assert len(plan_changes("segment", at_limit).operations) == MAX_IDS // 2  # duplicates collapse
    over = {"cohort_id": "c", "cohort_changes": [{"user_ids": half}, {"user_ids": half, "device_ids": ["d"]}]}
    with pytest.raises(Invalid, match=TOO_MANY_IDS):
        plan_changes("segment", over)


@pytest.mark.parametrize(
    "body",
    [
        {"cohort_changes": []},
        {"cohort_id": "", "cohort_changes": []},
        {"cohort_id": 7, "cohort_changes": []},
        {"cohort_id": "c"},
        {"cohort_id": "c", "cohort_changes": {"user_ids": ["u"]}},
        {"cohort_id": "c", "cohort_changes": ["u"]},
        {"cohort_id": "c", "cohort_changes": [{"user_ids": "u"}]},
        {"cohort_id": "c", "cohort_changes": [{"user_ids": ["u"], "emails": ["e"]}]},
        {"cohort_id": "c", "cohort_changes": [{"user_ids": ["u"], "should_remove": "yes"}]},
        {"cohort_id": "c", "cohort_changes": [{"user_ids": [""]}]},
        {"cohort_id": "c", "cohort_changes": [{"aliases": [{"alias_name": "n"}]}]},
        {"cohort_id": "c", "cohort_changes": [{"device_ids": [1, None]}]},
        {"cohort_id": "c", "cohort_changes": [{"device_ids": ["x" * 5000]}]},
        {"cohort_id": "c", "cohort_changes": [{"user_ids": None}]},
    ],
)
def test_a_bad_body_is_refused_whole_naming_the_cohort_field(body: dict[str, Any]) -> None:
    with pytest.raises(Invalid) as refused:
        plan_changes("segment", body)
    assert "external_id', 'braze_id'" not in str(refused.value)  # not /users/track's words


def test_a_cohort_definition_needs_an_id_a_name_and_a_time() -> None:
    good = {"cohort_id": "aud_2x9", "name": "High value", "created_at": "2026-12-05T10:00:00Z"}
    definition = plan_definition("segment", good)
    assert (definition.partner, definition.cohort_id, definition.name) == ("segment", "aud_2x9", "High value")
    for bad in ({**good, "name": " "}, {**good, "created_at": "yesterday"}, {**good, "cohort_id": None}):
        with pytest.raises(Invalid):
            plan_definition("segment", bad)

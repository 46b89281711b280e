"""steps/models.py: request validation of step configs and entry filters."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from audience_sync.core.users import MatchField
from audience_sync.steps.models import Action, EntryFilter, StepConfig


def step(**fields: Any) -> StepConfig:
    return StepConfig.model_validate(fields)


def test_step_defaults() -> None:
    config = step()
    assert config.partner == "linkedin"
    assert config.ad_account_id is None
    assert config.audience is None
    assert config.action is Action.ADD
    assert config.match_fields == []
    assert config.entry_filters == []
    assert config.last_step is False


def test_full_step() -> None:
    config = step(
        partner="linkedin",
        ad_account_id=" 507000001 ",
        audience={"name": " Churned "},
        action="remove",
        match_fields=["email", "first_last_name", "android_gaid"],
        entry_filters=[{"attribute": "opted_in_marketing", "op": "eq", "value": True}],
        last_step=True,
    )
    assert config.ad_account_id == "507000001"
    assert config.audience is not None
    assert config.audience.name == "Churned"
    assert config.action is Action.REMOVE
    assert config.match_fields == [MatchField.EMAIL, MatchField.FIRST_LAST_NAME, MatchField.ANDROID_GAID]


@pytest.mark.parametrize(
    "fields",
    [
        {"unexpected": 1},
        {"audience": {"name": "x", "extra": 1}},
        {"entry_filters": [{"attribute": "a", "op": "exists", "extra": 1}]},
        {"match_fields": ["email", "email"]},
        {"audience": {"name": "New", "id": "123"}},
        {"ad_account_id": "urn:li:sponsoredAccount:1"},
        {"ad_account_id": "12a"},
        {"ad_account_id": ""},
        {"audience": {"id": "abc"}},
        {"action": "replace"},
        {"match_fields": ["phone"]},
        {"partner": "facebook"},
        {"last_step": "maybe"},
    ],
)
def test_step_rejects(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        step(**fields)


def test_eq_and_ne_need_a_value() -> None:
    for op in ("eq", "ne"):
        with pytest.raises(ValidationError, match="needs a 'value'"):
            EntryFilter.model_validate({"attribute": "a", "op": op})
        # an explicit null is a value
        assert EntryFilter.model_validate({"attribute": "a", "op": op, "value": None}).value is None
    for op in ("exists", "not_exists"):
        assert EntryFilter.model_validate({"attribute": "a", "op": op}).op.value == op
    with pytest.raises(ValidationError):
        EntryFilter.model_validate({"attribute": "a", "op": "gt", "value": 1})
    with pytest.raises(ValidationError):
        EntryFilter.model_validate({"attribute": "", "op": "exists"})


@pytest.mark.parametrize("value", [1.5, -2.5e-130, 1e-130, 9.9e125, 10**37, 0, 0.0, True, "text", None])
def test_filter_values_dynamodb_can_store_are_accepted(value: object) -> None:
    assert EntryFilter.model_validate({"attribute": "a", "op": "eq", "value": value}).value == value


@pytest.mark.parametrize("value", [5e-324, 1e-131, 1e126, 10**40, 12345678901234567890123456789012345678901])
def test_filter_numbers_dynamodb_cannot_store_are_refused(value: float) -> None:
    # Found by the API fuzz tests: the step config is a DynamoDB item, and these made the PUT a 5xx.
    with pytest.raises(ValidationError, match="38 significant digits"):
        EntryFilter.model_validate({"attribute": "a", "op": "eq", "value": value})


def test_destination_and_partner_are_one_field_with_two_names() -> None:
    assert step().destination == step().partner == "linkedin"
    assert step(partner="linkedin").destination == "linkedin"  # contract v1's name
    assert step(destination="linkedin").partner == "linkedin"
    dumped = step(destination="linkedin").model_dump(mode="json")
    assert (dumped["destination"], dumped["partner"]) == ("linkedin", "linkedin")
    with pytest.raises(ValidationError, match="destination"):
        step(destination="facebook")


def test_an_unknown_destination_is_reported_on_the_field_that_named_it() -> None:
    for field in ("partner", "destination"):
        with pytest.raises(ValidationError) as raised:
            step(**{field: "braze"})
        assert [e["loc"] for e in raised.value.errors()] == [(field,)]


def test_a_step_that_removes_a_segments_entrants_has_no_exits_to_sync() -> None:
    source = {"type": "segment", "segment_id": "buyers", "backfill": True}
    suppression = StepConfig.model_validate({"action": "remove", "source": source})
    assert suppression.action is Action.REMOVE  # who enters "buyers" leaves the audience
    with pytest.raises(ValidationError, match="needs action 'add'"):
        StepConfig.model_validate({"action": "remove", "source": {**source, "sync_exits": True}})
    assert StepConfig.model_validate({"action": "add", "source": {**source, "sync_exits": True}}).source is not None

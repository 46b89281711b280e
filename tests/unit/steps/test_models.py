"""models.py: request validation for steps, entry filters and the webhook body."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from audience_sync.steps.models import (
    MAX_USERS_PER_WEBHOOK,
    Action,
    EntryFilter,
    MatchField,
    StepConfig,
    WebhookBody,
)


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


def users(n: int) -> list[dict[str, Any]]:
    return [{"external_id": f"u{i}"} for i in range(n)]


def test_webhook_user_count_bounds() -> None:
    assert MAX_USERS_PER_WEBHOOK == 10_000
    assert len(WebhookBody.model_validate({"users": users(1)}).users) == 1
    assert len(WebhookBody.model_validate({"users": users(10_000)}).users) == 10_000
    with pytest.raises(ValidationError):
        WebhookBody.model_validate({"users": users(10_001)})
    with pytest.raises(ValidationError):
        WebhookBody.model_validate({"users": []})


def test_external_id_required() -> None:
    with pytest.raises(ValidationError):
        WebhookBody.model_validate({"users": [{"email": "a@b.co"}]})
    with pytest.raises(ValidationError):
        WebhookBody.model_validate({"users": [{"external_id": ""}]})


def test_extra_user_fields_kept_and_idempotency_key_optional() -> None:
    body = WebhookBody.model_validate({"users": [{"external_id": "u", "country": "ES", "attributes": {"k": 1}}]})
    assert body.idempotency_key is None
    assert body.users[0].model_extra == {"country": "ES"}
    assert body.users[0].attributes == {"k": 1}
    keyed = WebhookBody.model_validate({"users": users(1), "idempotency_key": "k-1"})
    assert keyed.idempotency_key == "k-1"
    with pytest.raises(ValidationError):
        WebhookBody.model_validate({"users": users(1), "unknown": True})


# ---- the queued message ---------------------------------------------------------------------------
def _queued(**fields: object) -> dict[str, object]:
    target = {"connection_id": "linkedin", "ad_account_id": "507", "audience_id": "9", "action": "add"}
    return {"chunk_id": "c.0", "step_id": "s", "target": target, "first_enqueued_at": 1, **fields}


def test_a_queued_message_carries_users_or_counts() -> None:
    from audience_sync.pipeline.messages import QueuedMessage

    counts_only = QueuedMessage.model_validate(_queued(users=[], entry={"filtered": 3}))
    assert counts_only.entry_delta().counts["filtered"] == 3
    with pytest.raises(ValidationError, match="users, entry counts, or both"):
        QueuedMessage.model_validate(_queued(users=[], entry={}))
    with pytest.raises(ValidationError):
        QueuedMessage.model_validate(_queued(users=[{"x": "a", "e": "f" * 64}], entry={"entered": -1}))
    # a counter this version does not know makes the message unreadable (alone, to the DLQ), not the whole batch
    with pytest.raises(ValidationError, match="unknown counter"):
        QueuedMessage.model_validate(_queued(users=[{"x": "a", "e": "f" * 64}], entry={"bounced": 1}))


def test_a_queued_message_without_a_bucket_has_one_of_its_own() -> None:
    from audience_sync.pipeline.messages import QueuedMessage

    own = QueuedMessage.model_validate(_queued(users=[{"x": "a", "e": "f" * 64}]))
    shared = QueuedMessage.model_validate(_queued(users=[{"x": "a", "e": "f" * 64}], ledger_bucket="time#c#1"))
    assert own.bucket == "chunk#c.0"
    assert shared.bucket == "time#c#1"


@pytest.mark.parametrize("value", [1.5, -2.5e-130, 1e-130, 9.9e125, 10**37, 0, 0.0, True, "text", None])
def test_filter_values_dynamodb_can_store_are_accepted(value: object) -> None:
    assert EntryFilter(attribute="a", op="eq", value=value).value == value


@pytest.mark.parametrize("value", [5e-324, 1e-131, 1e126, 10**40, 12345678901234567890123456789012345678901])
def test_filter_numbers_dynamodb_cannot_store_are_refused(value: float) -> None:
    # Found by the API fuzz tests: the step config is a DynamoDB item, and these made the PUT a 5xx.
    with pytest.raises(ValidationError, match="38 significant digits"):
        EntryFilter(attribute="a", op="eq", value=value)

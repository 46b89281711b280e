"""sources/webhook/models.py: the webhook body's bounds, and what entry filters see of a user."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from audience_sync.core.filters import MISSING
from audience_sync.sources.webhook.models import MAX_USERS_PER_WEBHOOK, WebhookBody, WebhookUser


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


def test_lookup_reads_top_level_fields_then_attributes() -> None:
    user = WebhookUser.model_validate(
        {"external_id": "u", "email": "a@b.co", "country": "ES", "attributes": {"tier": "gold", "email": "other"}}
    )
    assert user.lookup("email") == "a@b.co"  # a declared field first
    assert user.lookup("country") == "ES"  # then an extra top-level field
    assert user.lookup("tier") == "gold"  # then attributes
    assert user.lookup("first_name") is MISSING
    assert user.lookup("attributes") is MISSING  # the bag itself is not an attribute

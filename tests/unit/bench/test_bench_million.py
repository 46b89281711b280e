"""bench/million.py posts what the contract accepts: webhooks of at most 10,000 users and 5 MB, each user once."""

from __future__ import annotations

from audience_sync.sources.webhook.models import WebhookBody
from bench import million

CONTRACT_MAX_BYTES = 5 * 1024 * 1024


def test_the_webhooks_are_the_contracts_largest_and_carry_each_user_once() -> None:
    bodies = million.webhook_bodies(25_000)
    assert [len(WebhookBody.model_validate_json(b).users) for b in bodies] == [10_000, 10_000, 5_000]
    assert max(len(b.encode()) for b in bodies) <= CONTRACT_MAX_BYTES
    ids = [u.external_id for b in bodies for u in WebhookBody.model_validate_json(b).users]
    assert len(ids) == len(set(ids)) == 25_000

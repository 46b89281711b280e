"""pipeline/messages.py: what a queued message must carry, and its ledger bucket."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from audience_sync.pipeline.messages import QueuedMessage


# ---- the queued message ---------------------------------------------------------------------------
def _queued(**fields: object) -> dict[str, object]:
    target = {"connection_id": "linkedin", "ad_account_id": "507", "audience_id": "9", "action": "add"}
    return {"chunk_id": "c.0", "step_id": "s", "target": target, "first_enqueued_at": 1, **fields}


def test_a_queued_message_carries_users_or_counts() -> None:
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
    own = QueuedMessage.model_validate(_queued(users=[{"x": "a", "e": "f" * 64}]))
    shared = QueuedMessage.model_validate(_queued(users=[{"x": "a", "e": "f" * 64}], ledger_bucket="time#c#1"))
    assert own.bucket == "chunk#c.0"
    assert shared.bucket == "time#c#1"


def test_a_message_queued_before_destinations_had_names_is_linkedins() -> None:
    message = QueuedMessage.model_validate(_queued(users=[{"x": "a", "e": "f" * 64}]))
    assert message.target.destination == "linkedin"

"""A backlog against the emulated SQS queue: a full batch reads the rest of its last request from the queue (the
top-up), then goes on reading it in rounds until the backlog is gone, sends full requests, and deletes the
messages it read itself (the event source mapping only deletes its own)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from audience_sync.pipeline import batcher as batcher_module
from tests.integration.batcher.batcher_support import Harness, email_user
from tests.stack_support import provisioned_stack


@pytest.fixture
def small_requests(sandbox_server: Any) -> Iterator[Harness]:
    """The stack with LinkedIn requests of 4 users, connected."""
    with provisioned_stack(sandbox_server, {"MaxUsersPerRequest": "4"}) as stack:
        harness = Harness(stack)
        harness.connect()
        yield harness


def test_a_full_batch_fills_its_last_request_and_drains_the_backlog(
    small_requests: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = small_requests
    monkeypatch.setattr(batcher_module, "FULL_BATCH_BYTES", 1)  # any batch counts as full (a backlog)
    audience_id = h.create_step("backlog", match_fields=["email"])
    for start in range(0, 8, 2):  # four webhooks of two users: four messages
        h.post_users("backlog", [email_user(n) for n in range(start, start + 2)])
    records = h.drain()
    assert len(records) == 4
    first, rest = records[:1], records[1:]
    for record in rest:  # only the first is delivered by the "event source mapping"; the rest wait on the queue
        h.sqs.change_message_visibility(
            QueueUrl=h.queue_url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0
        )

    assert h.invoke_batcher(first) == []

    # 2 delivered + 2 read to fill the request; then a round of the 4 still waiting: full requests only
    assert [r["elements"] for r in h.user_requests()] == [4, 4]
    assert len(h.members(audience_id)) == 8
    assert h.metrics("backlog") == {**h.metrics("backlog"), "entered": 8, "synced": 8, "pending": 0}
    # every message the batcher read itself is settled and deleted (the delivered one by the "mapping")
    assert sum(h.queue_counts().values()) == 0

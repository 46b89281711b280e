"""ingest: who enters, who is queued, who is not synced, the counters, and the ids of the queued chunks."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from audience_sync.core.errors import Conflict
from audience_sync.core.metrics import StepDelta
from audience_sync.core.users import MatchField
from audience_sync.pipeline import ingest as ingest_module
from audience_sync.pipeline.ingest import IngestService, chunk_base, ledger_bucket, split_entry, triage
from audience_sync.pipeline.messages import QueuedMessage
from audience_sync.sources.webhook.ingest import accept, entry_id, users_digest
from audience_sync.sources.webhook.models import WebhookBody, WebhookUser
from audience_sync.steps.models import EntryFilter

EMAIL = frozenset({MatchField.EMAIL})
CONSENT = [EntryFilter.model_validate({"attribute": "opted_in_marketing", "op": "eq", "value": True})]


def u(external_id: str, **fields: Any) -> WebhookUser:
    return WebhookUser.model_validate({"external_id": external_id, **fields})


USERS = [
    u("ok1", email="a@example.com", attributes={"opted_in_marketing": True}),
    u("ok2", email="b@example.com", attributes={"opted_in_marketing": True}),
    u("bad", email="not-an-email", attributes={"opted_in_marketing": True}),
    u("none", attributes={"opted_in_marketing": True}),
    u("no-consent", email="c@example.com", attributes={"opted_in_marketing": False}),
    u("no-attr", email="d@example.com"),
]


def test_triage_counts() -> None:
    queued, delta = triage(USERS, CONSENT, EMAIL, last_step=False)
    assert [q["x"] for q in queued] == ["ok1", "ok2"]
    assert delta.attributes() == {
        "filtered": 2,
        "entered": 4,
        "not_synced": 2,
        "proceeded": 4,
        "not_synced_reason_invalid_email": 1,
        "not_synced_reason_missing_match_fields": 1,
    }
    assert delta.counts["entered"] == len(queued) + delta.counts["not_synced"]
    assert "exited" not in delta.counts


def test_last_step_exits_instead_of_proceeding() -> None:
    _, delta = triage(USERS, CONSENT, EMAIL, last_step=True)
    assert delta.counts["exited"] == 4
    assert delta.counts["proceeded"] == 0


def test_no_filters_everyone_enters() -> None:
    queued, delta = triage(USERS, [], EMAIL, last_step=False)
    assert len(queued) == 4
    assert delta.counts["filtered"] == 0
    assert delta.counts["entered"] == 6


def test_everyone_filtered_counts_nothing_else() -> None:
    queued, delta = triage(USERS[4:], CONSENT, EMAIL, last_step=False)
    assert queued == []
    assert delta.attributes() == {"filtered": 2}


def test_users_digest_changes_with_users() -> None:
    body = WebhookBody(users=[u("a", email="a@example.com")], idempotency_key="k")
    same = WebhookBody(users=[u("a", email="a@example.com")], idempotency_key="other")
    changed = WebhookBody(users=[u("a", email="b@example.com")], idempotency_key="k")
    more = WebhookBody(users=[u("a", email="a@example.com"), u("b")], idempotency_key="k")
    assert users_digest(body) == users_digest(same)
    assert len({users_digest(body), users_digest(changed), users_digest(more)}) == 3
    assert len(users_digest(body)) == 64


# ---- chunk ids ------------------------------------------------------------------------------------
def body(key: str | None, *emails: str) -> WebhookBody:
    return WebhookBody(users=[u(f"id-{e}", email=e) for e in emails or ("a@example.com",)], idempotency_key=key)


def test_the_entry_id_is_the_same_for_the_same_step_key_and_users() -> None:
    first = entry_id("step-1", body("evt-1", "a@example.com", "b@example.com"))
    assert first is not None
    assert entry_id("step-1", body("evt-1", "a@example.com", "b@example.com")) == first
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert chunk_base(first) == first  # the chunks of a keyed webhook are named after it


@pytest.mark.parametrize(
    ("step_id", "webhook"),
    [
        ("step-2", body("evt-1", "a@example.com", "b@example.com")),  # another step
        ("step-1", body("evt-2", "a@example.com", "b@example.com")),  # another key
        ("step-1", body("evt-1", "a@example.com")),  # the key reused with other users
        ("step-1", body("evt-1", "b@example.com", "a@example.com")),  # other order
    ],
)
def test_the_entry_id_differs_when_step_key_or_users_differ(step_id: str, webhook: WebhookBody) -> None:
    assert entry_id(step_id, webhook) != entry_id("step-1", body("evt-1", "a@example.com", "b@example.com"))


def test_chunk_base_without_an_idempotency_key_is_random() -> None:
    assert entry_id("step-1", body(None)) is None
    ids = {chunk_base(None) for _ in range(20)}
    assert len(ids) == 20
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)


# ---- IngestService with hand-written fakes ----------------------------------------------------------
ACTIVE_STEP = {
    "step_id": "step-1",
    "status": "active",
    "audience_id": "9001",
    "audience_created_at": 1_790_000_000_000,
    "config": {"ad_account_id": "507", "action": "add", "match_fields": ["email"], "last_step": False},
}


@dataclass
class FakeStepRepository:
    item: dict[str, Any]

    def get(self, step_id: str) -> dict[str, Any]:
        return {**self.item, "step_id": step_id}

    def list_all(self) -> list[dict[str, Any]]:
        return [self.get(self.item.get("step_id", "s1"))]


@dataclass
class FakeQueue:
    sent: list[tuple[list[str], str | None]] = field(default_factory=list)

    def send(self, bodies: Sequence[str], correlation_id: str | None = None) -> None:
        self.sent.append((list(bodies), correlation_id))

    def messages(self) -> list[QueuedMessage]:
        return [QueuedMessage.model_validate_json(b) for bodies, _ in self.sent for b in bodies]


def service(step: dict[str, Any] = ACTIVE_STEP) -> tuple[IngestService, FakeQueue]:
    queue = FakeQueue()
    ingest = IngestService(FakeStepRepository(step), queue, now_ms=lambda: 1_790_000_100_000)
    return ingest, queue


def test_a_retried_webhook_queues_chunks_with_the_same_ids_in_buckets_of_their_own() -> None:
    ingest, queue = service()
    webhook = body("evt-1", "a@example.com", "b@example.com")
    assert accept(ingest, "step-1", webhook, "corr-1") == {"accepted": 2, "filtered": 0, "not_synced": 0}
    accept(ingest, "step-1", webhook, "corr-2")
    first, second = (QueuedMessage.model_validate_json(bodies[0]) for bodies, _ in queue.sent)
    assert first.chunk_id == second.chunk_id == f"{entry_id('step-1', webhook)}.0"
    # the retry is a new message: it must find the first one's ledger entry, so the bucket follows the id
    assert first.bucket == second.bucket == f"chunk#{first.chunk_id}"
    assert first.entry == second.entry == {"entered": 2, "proceeded": 2}  # both queued users
    assert [c for _, c in queue.sent] == ["corr-1", "corr-2"]
    assert first.target.audience_id == "9001"
    assert first.first_enqueued_at == 1_790_000_100_000
    assert [x["x"] for x in first.users] == ["id-a@example.com", "id-b@example.com"]


def test_webhooks_without_a_key_queue_chunks_with_new_ids_in_the_bucket_of_the_second() -> None:
    ingest, queue = service()
    webhook = body(None, "a@example.com")
    accept(ingest, "step-1", webhook, None)
    accept(ingest, "step-1", webhook, None)
    messages = queue.messages()
    ids = [m.chunk_id for m in messages]
    assert len(ids) == len(set(ids)) == 2
    assert {m.bucket for m in messages} == {f"time#{ingest_module.CONTAINER_ID}#1790000100"}


def test_ledger_bucket_is_per_container_and_second_without_a_key() -> None:
    assert ledger_bucket(None, 1_790_000_100_999, "c1") == "time#c1#1790000100"
    assert ledger_bucket(None, 1_790_000_101_000, "c1") == "time#c1#1790000101"
    assert ledger_bucket(None, 1_790_000_100_000, "c2") != ledger_bucket(None, 1_790_000_100_000, "c1")
    assert ledger_bucket(entry_id("s", body("k")), 1_790_000_100_000, "c1") == ""  # a bucket per chunk


def test_nobody_to_sync_still_queues_the_counts() -> None:
    ingest, queue = service()
    result = accept(ingest, "step-1", WebhookBody(users=[u("none")]), None)
    assert result == {"accepted": 0, "filtered": 0, "not_synced": 1}
    (message,) = queue.messages()
    assert message.users == []
    assert message.entry == {
        "entered": 1,
        "not_synced": 1,
        "proceeded": 1,
        "not_synced_reason_missing_match_fields": 1,
    }


def test_each_chunk_carries_its_own_users_counts_and_the_first_the_rest() -> None:
    ingest, queue = service()
    users = [u(f"user-{i:05d}", email=f"user{i}@example.com") for i in range(6000)]
    users += [u("nobody"), u("bad", email="nope")]  # not synced: they ride on the first chunk
    accept(ingest, "step-1", WebhookBody(users=users), None)
    messages = queue.messages()
    assert len(messages) >= 2
    for i, m in enumerate(messages):
        own = len(m.users) + (2 if i == 0 else 0)
        # a chunk settled before the first one can never show more synced than entered
        assert m.entry["entered"] == m.entry["proceeded"] == own
    assert messages[0].entry["not_synced"] == 2
    assert all("not_synced" not in m.entry for m in messages[1:])
    total = StepDelta()
    for m in messages:
        total.merge(m.entry_delta())
    assert total.attributes() == {
        "entered": 6002,
        "proceeded": 6002,
        "not_synced": 2,
        "not_synced_reason_missing_match_fields": 1,
        "not_synced_reason_invalid_email": 1,
    }


def test_split_entry_keeps_what_queued_users_add_apart() -> None:
    _, delta = triage(USERS, CONSENT, EMAIL, last_step=True)
    per_user, rest = split_entry(delta, queued=2, last_step=True)
    assert per_user == {"entered": 1, "exited": 1}
    assert rest == {
        "filtered": 2,
        "entered": 2,
        "exited": 2,
        "not_synced": 2,
        "not_synced_reason_invalid_email": 1,
        "not_synced_reason_missing_match_fields": 1,
    }


def test_a_step_that_is_not_active_is_refused() -> None:
    ingest, queue = service({**ACTIVE_STEP, "status": "draft"})
    with pytest.raises(Conflict):
        accept(ingest, "step-1", body("k"), None)
    assert queue.sent == []

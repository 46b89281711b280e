"""ingest.triage and users_digest: who enters, who is queued, who is not synced, and the counters."""

from __future__ import annotations

from typing import Any

from audience_sync.ingest import triage, users_digest
from audience_sync.models import EntryFilter, MatchField, WebhookBody, WebhookUser

EMAIL = frozenset({MatchField.EMAIL})
CONSENT = [EntryFilter(attribute="opted_in_marketing", op="eq", value=True)]


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
